// Prints report.html to PDF with a local Chromium (EVIDENCE_CHROMIUM), in a temporary folder,
// offline and bounded in time.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Longest a PDF print may take. */
export const PDF_TIMEOUT_MS = 60_000;

/**
 * Prints an HTML page to PDF with `chromium --headless --print-to-pdf`. The page is written to a
 * fresh temporary folder that also holds Chromium's profile; both are removed afterwards. The
 * page's own Content-Security-Policy forbids fetching anything, and Chromium's background
 * networking is off. Chromium gets no variable of the API's environment but PATH (never its keys).
 *
 * @throws when Chromium fails, exceeds `timeoutMs`, or writes no PDF.
 */
export async function printPdf(chromium: string, html: string, timeoutMs = PDF_TIMEOUT_MS): Promise<Uint8Array> {
  const dir = await mkdtemp(path.join(tmpdir(), 'modelgate-evidence-'));
  try {
    const page = path.join(dir, 'report.html');
    const pdf = path.join(dir, 'report.pdf');
    await writeFile(page, html);
    const args = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-extensions',
      '--disable-sync',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-pdf-header-footer',
      `--user-data-dir=${path.join(dir, 'profile')}`,
      `--print-to-pdf=${pdf}`,
      pathToFileURL(page).href,
    ];
    await new Promise<void>((resolve, reject) => {
      execFile(chromium, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } }, (err, _stdout, stderr) => {
        if (err) reject(new Error(`chromium failed to print the report: ${err.message}${stderr ? ` (${String(stderr).slice(-500)})` : ''}`));
        else resolve();
      });
    });
    const bytes = await readFile(pdf);
    if (bytes.subarray(0, 5).toString('latin1') !== '%PDF-') throw new Error('chromium wrote no PDF');
    return new Uint8Array(bytes);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

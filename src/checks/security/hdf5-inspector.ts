import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ByteSource } from './byte-source';
import type { LocalFinding } from './findings';
import { inspectKerasConfig } from './keras-inspector';
import type { ScanLimits } from './limits';

/**
 * Reads a (legacy Keras) HDF5 file with the HDF5 library itself — h5wasm, the HDF5 C library
 * compiled to WebAssembly — and judges the JSON configs Keras deserializes from it. The library
 * runs in a child Node process: it reads the file lazily from disk (its Node build maps the real
 * file system), a crash or a memory blow-up in it cannot take the worker down, and its heap and
 * time are bounded.
 */

/** HDF5 file signature (the superblock's first 8 bytes). */
export const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Root attributes Keras reads and deserializes (`load_model` of an `.h5`): each is JSON it turns into objects. */
const KERAS_CODE_ATTRIBUTES = ['model_config', 'training_config'] as const;

/**
 * Offset of the HDF5 signature, where the library looks for it: 0, then 512, 1024, 2048, … (a user
 * block of any power-of-two size from 512 bytes), or -1.
 */
export async function hdf5SignatureOffset(source: ByteSource): Promise<number> {
  for (let offset = 0; offset + HDF5_SIGNATURE.length <= source.size; offset = offset === 0 ? 512 : offset * 2) {
    const head = await source.read(offset, HDF5_SIGNATURE.length);
    if (head.equals(HDF5_SIGNATURE)) return offset;
  }
  return -1;
}

/** Path of h5wasm's Node build, found from this module's folder up. */
function h5wasmNodeBuild(): string | undefined {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', 'h5wasm', 'dist', 'node', 'hdf5_hl.js');
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The child's program: open the file, print the Keras attributes as JSON (strings only, bounded). */
const CHILD_PROGRAM = `
const [build, file, names, maxBytes] = process.argv.slice(1);
const h5 = await import(build);
await h5.ready;
let f;
try { f = new h5.File(file, 'r'); } catch { process.stdout.write(JSON.stringify({ open: false })); process.exit(0); }
if (!f || !f.file_id || f.file_id < 0n) { process.stdout.write(JSON.stringify({ open: false })); process.exit(0); }
const attrs = {};
const present = f.attrs;
for (const name of JSON.parse(names)) {
  const a = present[name];
  if (a === undefined) continue;
  const v = a.value;
  const text = typeof v === 'string' ? v : Array.isArray(v) && v.length === 1 && typeof v[0] === 'string' ? v[0] : null;
  attrs[name] = text === null ? { kind: 'not_string' } : text.length > Number(maxBytes) ? { kind: 'too_large', length: text.length } : { kind: 'string', text };
}
process.stdout.write(JSON.stringify({ open: true, attrs }));
`;

type ChildAttribute = { kind: 'not_string' } | { kind: 'too_large'; length: number } | { kind: 'string'; text: string };

function runReader(build: string, filePath: string, limits: ScanLimits): Promise<{ open: boolean; attrs?: Record<string, ChildAttribute> } | { failed: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--max-old-space-size=512', '--input-type=module', '-e', CHILD_PROGRAM, build, filePath, JSON.stringify(KERAS_CODE_ATTRIBUTES), String(limits.maxConfigBytes)],
      { timeout: limits.hdf5TimeoutMs, maxBuffer: 2 * limits.maxConfigBytes + 1024 * 1024, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, killSignal: 'SIGKILL' },
      (err, stdout) => {
        if (err) {
          resolve({ failed: (err as { killed?: boolean }).killed ? `the HDF5 reader took longer than ${limits.hdf5TimeoutMs} ms` : 'the HDF5 reader failed on the file' });
          return;
        }
        try {
          resolve(JSON.parse(stdout) as { open: boolean; attrs?: Record<string, ChildAttribute> });
        } catch {
          resolve({ failed: 'the HDF5 reader gave no readable answer' });
        }
      },
    );
  });
}

/**
 * Inspects an HDF5 file as Keras loads it: the root attributes `model_config` and
 * `training_config` are parsed as JSON and judged like a `.keras` config (Lambda layers, custom
 * modules). Fails closed: a file the HDF5 library cannot open, an attribute that is not a JSON
 * string, or one over the size bound is a dangerous finding.
 */
export async function inspectHdf5(filePath: string, signatureOffset: number, limits: ScanLimits): Promise<LocalFinding[]> {
  const findings: LocalFinding[] = [];
  if (signatureOffset > 0) {
    findings.push({ kind: 'hdf5_user_block', severity: 'info', detail: `the HDF5 data starts after a ${signatureOffset}-byte user block (the HDF5 library accepts it)` });
  }
  const build = h5wasmNodeBuild();
  if (!build) return [...findings, { kind: 'hdf5_unreadable', severity: 'high', detail: 'the HDF5 reader (h5wasm) is not installed; the file cannot be judged' }];
  const result = await runReader(build, filePath, limits);
  if ('failed' in result) return [...findings, { kind: 'hdf5_unreadable', severity: 'high', detail: `${result.failed}; failing closed` }];
  if (!result.open) return [...findings, { kind: 'hdf5_unreadable', severity: 'high', detail: 'the HDF5 library cannot open the file; failing closed' }];
  let configs = 0;
  for (const name of KERAS_CODE_ATTRIBUTES) {
    const attr = result.attrs?.[name];
    if (!attr) continue;
    configs += 1;
    if (attr.kind === 'not_string') {
      findings.push({ kind: 'malformed_keras_config', severity: 'high', detail: `the root attribute ${name} is not a string; Keras would still try to read it` });
    } else if (attr.kind === 'too_large') {
      findings.push({ kind: 'keras_config_too_large', severity: 'high', detail: `the root attribute ${name} is ${attr.length} characters, over the ${limits.maxConfigBytes}-byte bound: not inspected` });
    } else {
      let config: unknown;
      try {
        config = JSON.parse(attr.text);
      } catch {
        findings.push({ kind: 'malformed_keras_config', severity: 'high', detail: `the root attribute ${name} is not valid JSON; failing closed` });
        continue;
      }
      findings.push(...inspectKerasConfig(config).map((f) => ({ ...f, detail: `${name}: ${f.detail}` })));
    }
  }
  findings.push({ kind: 'hdf5_summary', severity: 'info', detail: `read with the HDF5 library: ${configs} Keras config attribute(s) judged` });
  return findings;
}

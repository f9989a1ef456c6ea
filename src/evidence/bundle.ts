// An evidence pack's files, their SHA256SUMS, its digest and its zip (docs/api.md#evidence-packs).
// The pack's digest is the sha256 of its SHA256SUMS file: it covers every file's bytes, and stays
// the same whether the pack is checked as the zip or unpacked (a zip's bytes also depend on its
// entries' times and compression).
import { createHash } from 'node:crypto';
import { strToU8, unzipSync, zipSync } from 'fflate';
import { checkEvidence, decisionEvidence, type EvidenceInput, modelCardEvidence, policyEvidence, promotionFacts } from './contents';
import { renderReport } from './report';

/** Format name in manifest.json. */
export const EVIDENCE_FORMAT = 'modelgate-evidence-pack';
/** Name of the sums file, whose sha256 is the pack's digest. */
export const SUMS_FILE = 'SHA256SUMS';

/** An evidence pack: its files by name, and its digest. */
export interface EvidencePack {
  files: Map<string, Uint8Array>;
  /** sha256 (hex) of SHA256SUMS. */
  digest: string;
}

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');
const jsonFile = (value: unknown) => strToU8(`${JSON.stringify(value, null, 2)}\n`);

/** Renders a SHA256SUMS file (`<sha256>  <name>` per line, sorted by name, as `sha256sum -c` reads it). */
export function renderSums(files: ReadonlyMap<string, Uint8Array>): string {
  return [...files.entries()]
    .filter(([name]) => name !== SUMS_FILE)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, bytes]) => `${sha256(bytes)}  ${name}\n`)
    .join('');
}

/** The digest of a pack: sha256 of its SHA256SUMS bytes. */
export function packDigest(sums: Uint8Array | string): string {
  return sha256(sums);
}

/**
 * Builds an evidence pack. `printPdf` turns report.html into report.pdf; without it (no
 * EVIDENCE_CHROMIUM) the pack has no report.pdf and manifest.json says so. A print that fails
 * is reported the same way, with its reason.
 */
export async function buildEvidencePack(input: EvidenceInput, printPdf?: (html: string) => Promise<Uint8Array>): Promise<EvidencePack> {
  const facts = promotionFacts(input);
  const modelCard = modelCardEvidence(input);
  const checks = checkEvidence(input);
  const decisions = decisionEvidence(input);
  const policy = policyEvidence(input.policy);
  const verification = { source: input.chainSource === 'archive' ? 'the audit archive (audit_events)' : 'the live timeline (not yet archived)', ...input.verification };
  const html = renderReport({
    facts,
    modelCard,
    checks,
    decisions,
    policy,
    verification,
    events: input.events.map(({ at, actor, action }) => ({ at, actor, action })),
    exportedAt: input.exportedAt,
    exportedBy: input.exportedBy.id,
  });

  const files = new Map<string, Uint8Array>();
  files.set('model-card.json', jsonFile(modelCard));
  files.set('checks.json', jsonFile(checks));
  files.set('decisions.json', jsonFile(decisions));
  if (input.policy.current) files.set('policy.yaml', strToU8(input.policy.current.text));
  files.set('audit.jsonl', strToU8(input.chain.map((r) => JSON.stringify(r)).join('\n') + (input.chain.length ? '\n' : '')));
  files.set('audit-verification.json', jsonFile({ promotionId: input.promotionId, chainSource: input.chainSource, ...verification }));
  files.set('report.html', strToU8(html));
  let pdf: { included: boolean; reason?: string };
  if (!printPdf) pdf = { included: false, reason: 'EVIDENCE_CHROMIUM is not configured: the API prints no PDF' };
  else {
    try {
      files.set('report.pdf', await printPdf(html));
      pdf = { included: true };
    } catch (err) {
      pdf = { included: false, reason: err instanceof Error ? err.message : String(err) };
    }
  }
  const manifest = {
    format: EVIDENCE_FORMAT,
    formatVersion: 1,
    promotionId: input.promotionId,
    source: facts.source,
    status: facts.status,
    ...(facts.model ? { model: facts.model } : {}),
    ...(facts.target ? { target: facts.target } : {}),
    ...(facts.artifact ? { artifact: facts.artifact } : {}),
    submitter: facts.submitter,
    submittedAt: facts.submittedAt,
    ...(facts.effectiveTier ? { riskTier: { declared: facts.declaredTier, effective: facts.effectiveTier, reasons: facts.tierReasons } } : {}),
    ...(facts.evidenceDigest ? { evidenceDigest: facts.evidenceDigest } : {}),
    ...(facts.outcome ? { outcome: facts.outcome } : {}),
    policy,
    checks: checks.map((c) => ({ name: c.name, status: c.status })),
    decisions: decisions.length,
    auditChain: { source: input.chainSource, ...input.verification },
    pdf,
    exportedAt: input.exportedAt,
    exportedBy: input.exportedBy,
    files: [...files.keys(), 'manifest.json', SUMS_FILE].sort(),
    digest: { algorithm: 'sha256', of: SUMS_FILE, note: 'the pack’s digest (recorded in the audit as evidence_exported) is the sha256 of SHA256SUMS, which lists every other file’s sha256' },
  };
  files.set('manifest.json', jsonFile(manifest));
  const sums = renderSums(files);
  files.set(SUMS_FILE, strToU8(sums));
  return { files: new Map([...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), digest: packDigest(sums) };
}

/** Zips a pack's files (deflated; entries dated at `at`). */
export function zipPack(files: ReadonlyMap<string, Uint8Array>, at = new Date()): Uint8Array {
  return zipSync(Object.fromEntries([...files.entries()].map(([name, bytes]) => [name, [bytes, { mtime: at }]])), { level: 6 });
}

/** Unzips a pack (for the CLI and tests). */
export function unzipPack(zip: Uint8Array): Map<string, Uint8Array> {
  return new Map(Object.entries(unzipSync(zip)));
}

/** Outcome of {@link checkSums}. */
export interface SumsCheck {
  ok: boolean;
  /** sha256 of the SHA256SUMS read (absent when there is none). */
  digest?: string;
  /** Files whose sha256 differs from SHA256SUMS, files it lists that are missing, files it does not list. */
  mismatched: string[];
  missing: string[];
  unlisted: string[];
}

/**
 * Recomputes every file's sha256 against the pack's SHA256SUMS, and the pack's digest.
 * `ok` only when every listed file matches and no file is unlisted.
 */
export function checkSums(files: ReadonlyMap<string, Uint8Array>): SumsCheck {
  const sums = files.get(SUMS_FILE);
  if (!sums) return { ok: false, mismatched: [], missing: [SUMS_FILE], unlisted: [] };
  const listed = new Map<string, string>();
  for (const line of Buffer.from(sums).toString('utf8').split('\n')) {
    const match = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (match) listed.set(match[2]!, match[1]!);
  }
  const mismatched: string[] = [];
  const missing: string[] = [];
  for (const [name, digest] of listed) {
    const bytes = files.get(name);
    if (!bytes) missing.push(name);
    else if (sha256(bytes) !== digest) mismatched.push(name);
  }
  const unlisted = [...files.keys()].filter((name) => name !== SUMS_FILE && !listed.has(name));
  return { ok: mismatched.length === 0 && missing.length === 0 && unlisted.length === 0, digest: packDigest(sums), mismatched, missing, unlisted };
}

import type { OmsSignature, PromotionManifest } from '../manifest/schema';
import type { CheckFinding } from '../shared/checks';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type LocalArtifact, defaultStagingParent, keepVerifiedCopy, openDocumentStream, stageArtifact } from './artifact-source';
import { type CheckContext, sourceReadOptions } from './context';
import type { ArtifactDigest } from './digest';
import { CheckInputError, TransientCheckError, errorMessage } from './errors';
import type { CheckOutcome } from './result';
import { type ArtifactScan, scanArtifact } from './security/scanner';
import { type SecurityFinding, isDangerous } from './security/findings';
import type { CheckSettings } from '../policy/check-settings';
import { verifyDigestSignature } from './signature';
import type { TrustedKey, TrustedRoot } from './trusted-keys';
import { OMS_LIMITS } from './oms/refusal';
import { type OmsVerdict, verifyOmsSignature } from './oms/verify';

/**
 * Fetches the manifest's artifact once into a staging folder (under the store, or a temporary
 * folder in the CLI); the caller keeps it in the store or cleans up.
 */
export async function openManifestArtifact(manifest: PromotionManifest, context: CheckContext): Promise<LocalArtifact> {
  const stagingParent = context.artifactStoreDir ? path.join(context.artifactStoreDir, 'staging') : defaultStagingParent();
  const artifact = await stageArtifact(manifest.artifact.uri, stagingParent, sourceReadOptions(context));
  if (artifact.files.length === 0) {
    await artifact.cleanup();
    throw new CheckInputError('artifact.uri names an empty directory', 'artifact.uri');
  }
  return artifact;
}

/** Entries of an artifact directory named one by one in findings; the rest are counted. */
const MAX_NAMED_ENTRIES = 20;
/** Files of a directory artifact whose digests the integrity result lists (the count is always there). */
const MAX_MANIFEST_ENTRIES = 200;

/**
 * Judges a computed digest against the declared one, and the signature: a digest signature
 * against the trusted keys, an OMS signature by its verdict (`oms`, from {@link verifyOmsBundle}).
 */
export function integrityOutcome(
  manifest: PromotionManifest,
  settings: CheckSettings['integrity'],
  trustedKeys: TrustedKey[],
  digest: ArtifactDigest,
  symlinks: string[] = [],
  oms?: OmsVerdict,
): CheckOutcome {
  const findings: CheckFinding[] = [];
  const declared = pinnedDigestOf(manifest);
  const metrics: Record<string, unknown> = { sha256: digest.sha256, kind: digest.kind, files: digest.files.length, bytes: digest.bytes };
  // The per-file manifest travels in the promotion's state: listed in full only while it is small.
  if (digest.kind === 'directory' && digest.files.length <= MAX_MANIFEST_ENTRIES) metrics.manifest = digest.files;
  let failed = false;
  for (const link of symlinks.slice(0, MAX_NAMED_ENTRIES)) {
    failed = true;
    const name = JSON.stringify(link.length > 200 ? `${link.slice(0, 200)}…` : link);
    findings.push({ kind: 'symlink_in_artifact', severity: 'high', message: `symbolic link or special file ${name} in the artifact directory is not allowed`, location: name });
  }
  if (symlinks.length > MAX_NAMED_ENTRIES) {
    findings.push({ kind: 'symlink_in_artifact', severity: 'high', message: `${symlinks.length - MAX_NAMED_ENTRIES} more symbolic links or special files in the artifact directory` });
  }
  if (digest.sha256 === declared) {
    findings.push({ kind: 'digest_verified', severity: 'info', message: `sha256 ${digest.sha256} matches the declared digest` });
  } else {
    failed = true;
    findings.push({
      kind: 'digest_mismatch',
      severity: 'critical',
      message: `recomputed sha256 ${digest.sha256} differs from the declared ${declared}`,
      expected: declared,
      actual: digest.sha256,
    });
  }
  const signature = manifest.artifact.signature;
  if (signature && 'format' in signature) {
    const verdict = oms ?? { valid: false, findings: [{ kind: 'oms_bundle_unreadable', severity: 'critical' as const, message: 'the OMS signature was not verified' }], metrics: {} };
    Object.assign(metrics, verdict.metrics);
    findings.push(...verdict.findings);
    if (!verdict.valid) failed = true;
  } else if (signature) {
    const verdict = verifyDigestSignature(declared, signature, trustedKeys);
    metrics.signatureVerified = verdict.valid;
    metrics.signatureKeyId = verdict.keyId;
    if (verdict.valid) findings.push({ kind: 'signature_verified', severity: 'info', message: `signature by trusted key '${verdict.keyId}' verifies` });
    else {
      failed = true;
      findings.push({ kind: `signature_${verdict.reason}`, severity: 'critical', message: verdict.message });
    }
  } else if (settings.requireSignature) {
    failed = true;
    metrics.signatureVerified = false;
    findings.push({ kind: 'signature_missing', severity: 'high', message: 'the policy requires a signature from a trusted key and the manifest has none' });
  }
  const problems = findings.filter((f) => f.severity !== 'info').map((f) => f.message);
  return {
    outcome: failed ? 'fail' : 'pass',
    summary: failed ? `integrity failed: ${problems.join('; ')}` : `sha256 verified${signature ? ' and signature verified' : ''} (${digest.files.length} file(s), ${digest.bytes} bytes)`,
    findings,
    metrics,
  };
}

const DEFAULT_OMS_BUNDLE = 'model.sig';

/** Reads at most `max` bytes of a stream; `undefined` when it holds more. */
async function readBounded(stream: AsyncIterable<Buffer>, max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of stream) {
    bytes += chunk.length;
    if (bytes > max) {
      (stream as { destroy?: () => void }).destroy?.();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const bundleRefusal = (reason: 'bundle_unreadable' | 'bundle_too_large', message: string): OmsVerdict => ({
  valid: false,
  findings: [{ kind: `oms_${reason}`, severity: 'critical', message }],
  metrics: { signatureFormat: 'oms', signatureVerified: false },
});

/**
 * Reads an OMS bundle — `artifact.signature.bundle` under the sources' rules, or `model.sig`
 * in the staged artifact directory — and verifies it against the artifact's digest
 * (docs/policy.md, "OMS signatures"). A source that cannot be read is an `oms_bundle_unreadable`
 * finding; a passing failure (an HTTP timeout) is thrown to be retried.
 */
export async function verifyOmsBundle(
  signature: OmsSignature,
  artifact: LocalArtifact,
  digest: ArtifactDigest,
  trust: { keys: TrustedKey[]; roots: TrustedRoot[] },
  context: CheckContext,
): Promise<OmsVerdict> {
  let bytes: Buffer | undefined;
  const excluded: string[] = [];
  if (signature.bundle) {
    try {
      bytes = await readBounded(await openDocumentStream(signature.bundle, 'artifact.signature.bundle', sourceReadOptions(context)), OMS_LIMITS.bundleBytes);
    } catch (err) {
      if (err instanceof TransientCheckError) throw err;
      return bundleRefusal('bundle_unreadable', `the OMS bundle cannot be read: ${errorMessage(err)}`);
    }
  } else {
    const inside = artifact.kind === 'directory' ? artifact.files.find((f) => f.relativePath === DEFAULT_OMS_BUNDLE) : undefined;
    if (!inside) {
      return bundleRefusal('bundle_unreadable', `the artifact ${artifact.kind === 'directory' ? 'directory has no' : 'is one file, with no'} ${DEFAULT_OMS_BUNDLE} and the manifest names no artifact.signature.bundle`);
    }
    excluded.push(inside.relativePath);
    bytes = inside.size > OMS_LIMITS.bundleBytes ? undefined : await readFile(inside.absolutePath);
  }
  if (!bytes) return bundleRefusal('bundle_too_large', `the OMS bundle is larger than the limit of ${OMS_LIMITS.bundleBytes} bytes`);
  return verifyOmsSignature({
    bundleText: bytes.toString('utf8'),
    digest,
    keys: trust.keys,
    roots: trust.roots,
    excluded,
    ...(signature.rootDigest ? { rootDigest: signature.rootDigest } : {}),
  });
}

/** Turns a scanner finding into a check finding. */
export function toCheckFinding(f: SecurityFinding): CheckFinding {
  return {
    kind: f.kind,
    severity: f.severity,
    message: f.detail,
    location: f.member ? `${f.file}!${f.member}` : f.file,
    file: f.file,
    ...(f.member ? { member: f.member } : {}),
    ...(f.global ? { global: f.global } : {}),
  };
}

/** Judges a security scan: fail on anything medium or worse (default deny), warn on low findings. */
export function securityOutcome(manifest: PromotionManifest, settings: CheckSettings['security'], scan: ArtifactScan): CheckOutcome {
  const all = scan.files.flatMap((f) => f.findings);
  const findings = all.map(toCheckFinding);
  if (settings.denyFormats.includes(manifest.artifact.format)) {
    findings.unshift({ kind: 'format_denied', severity: 'high', message: `the policy refuses artifacts in the '${manifest.artifact.format}' format` });
  }
  const dangerous = findings.filter((f) => f.severity === 'medium' || f.severity === 'high' || f.severity === 'critical');
  const low = findings.filter((f) => f.severity === 'low');
  const metrics = {
    files: scan.files.length,
    bytes: scan.files.reduce((s, f) => s + f.bytes, 0),
    formats: Object.fromEntries(scan.files.map((f) => [f.file, f.format])),
    dangerousFindings: dangerous.length,
  };
  if (dangerous.length > 0) {
    const top = dangerous.slice(0, 3).map((f) => `${f.severity} ${f.kind}${f.global ? ` ${String(f.global)}` : ''} in ${f.location ?? 'artifact'}`);
    return { outcome: 'fail', summary: `${dangerous.length} dangerous finding(s): ${top.join('; ')}${dangerous.length > 3 ? '; …' : ''}`, findings, metrics };
  }
  if (low.length > 0) return { outcome: 'warn', summary: `no dangerous content; ${low.length} low-severity finding(s)`, findings, metrics };
  return { outcome: 'pass', summary: `no dangerous content in ${scan.files.length} file(s)`, findings, metrics };
}

function scanOptions(manifest: PromotionManifest, settings: CheckSettings['security'], context: CheckContext) {
  return {
    allowGlobals: settings.allowGlobals,
    maxUncompressedBytes: settings.maxUncompressedBytes,
    declaredFormat: manifest.artifact.format,
    progress: context.progress,
  };
}

/**
 * Integrity and security in one streaming pass over one copy of the artifact: the artifact is
 * fetched once, every byte of that copy is read once for the digest and the streaming inspectors,
 * and the security verdict is bound to the declared digest (scanned bytes that are not the
 * declared artifact fail). With a store, the copy is kept under its digest for deployment.
 */
export async function checkIntegrityAndSecurity(
  manifest: PromotionManifest,
  settings: CheckSettings,
  trustedKeys: TrustedKey[],
  context: CheckContext,
  trustedRoots: TrustedRoot[] = [],
): Promise<{ integrity: CheckOutcome; security: CheckOutcome }> {
  const declared = pinnedDigestOf(manifest);
  if (!/^[0-9a-f]{64}$/.test(declared)) {
    throw new CheckInputError(`declared digest has ${declared.length} characters; a sha256 digest has 64 hexadecimal characters`);
  }
  const artifact = await openManifestArtifact(manifest, context);
  let kept = false;
  try {
    const scan = await scanArtifact(artifact, scanOptions(manifest, settings.security, context), true);
    const digest = scan.digest!;
    const signature = manifest.artifact.signature;
    const oms = signature && 'format' in signature ? await verifyOmsBundle(signature, artifact, digest, { keys: trustedKeys, roots: trustedRoots }, context) : undefined;
    const integrity = integrityOutcome(manifest, settings.integrity, trustedKeys, digest, artifact.symlinks, oms);
    const security = securityOutcome(manifest, settings.security, scan);
    if (digest.sha256 !== declared) {
      const finding: CheckFinding = {
        kind: 'scanned_bytes_not_declared',
        severity: 'critical',
        message: `the scanned bytes have sha256 ${digest.sha256}, not the declared digest: the verdict does not apply to the declared artifact`,
      };
      security.findings.unshift(finding);
      security.outcome = 'fail';
      security.summary = `${finding.message}; ${security.summary}`;
    }
    // Only bytes that are the declared artifact and that the scanner passed are kept for deployment.
    if (context.artifactStoreDir && integrity.outcome === 'pass' && security.outcome !== 'fail') {
      kept = true;
      const copy = await keepVerifiedCopy(artifact, digest, context.artifactStoreDir);
      integrity.metrics.verifiedCopy = copy;
      security.metrics.verifiedCopy = copy;
    }
    return { integrity, security };
  } finally {
    if (!kept) await artifact.cleanup();
  }
}

/** True when a scanner finding makes the scan fail. */
export { isDangerous };

/**
 * The digest the artifact must have: the manifest's, or the one pinned from a `models:/` source.
 * @throws {CheckInputError} when a `models:/` artifact's digest was not pinned yet (fail closed).
 */
export function pinnedDigestOf(manifest: PromotionManifest): string {
  if (manifest.artifact.sha256 === undefined) throw new CheckInputError('the artifact has no digest: a models:/ artifact is checked only once its digest is pinned', 'artifact.sha256');
  return manifest.artifact.sha256.toLowerCase();
}

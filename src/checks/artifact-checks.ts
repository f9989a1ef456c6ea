import type { PromotionManifest } from '../manifest/schema';
import type { CheckFinding } from '../shared/checks';
import path from 'node:path';
import { type LocalArtifact, defaultStagingParent, keepVerifiedCopy, stageArtifact } from './artifact-source';
import { type CheckContext, sourceReadOptions } from './context';
import type { ArtifactDigest } from './digest';
import { CheckInputError } from './errors';
import type { CheckOutcome } from './result';
import { type ArtifactScan, scanArtifact } from './security/scanner';
import { type SecurityFinding, isDangerous } from './security/findings';
import type { CheckSettings } from '../policy/check-settings';
import { verifyDigestSignature } from './signature';
import type { TrustedKey } from './trusted-keys';

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

/** Judges a computed digest against the declared one, and the signature against the trusted keys. */
export function integrityOutcome(
  manifest: PromotionManifest,
  settings: CheckSettings['integrity'],
  trustedKeys: TrustedKey[],
  digest: ArtifactDigest,
  symlinks: string[] = [],
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
  if (signature) {
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
    const integrity = integrityOutcome(manifest, settings.integrity, trustedKeys, digest, artifact.symlinks);
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

import type { PromotionManifest } from '../manifest/schema';
import type { CheckFinding } from '../shared/checks';
import { type LocalArtifact, materializeArtifact } from './artifact-source';
import type { CheckContext } from './context';
import { type ArtifactDigest, digestArtifact } from './digest';
import { CheckInputError } from './errors';
import type { CheckOutcome } from './result';
import { type ArtifactScan, scanArtifact } from './security/scanner';
import { type SecurityFinding, isDangerous } from './security/findings';
import type { CheckSettings } from './settings';
import { verifyDigestSignature } from './signature';
import type { TrustedKey } from './trusted-keys';

/** Makes the manifest's artifact available locally (download for http); the caller cleans up. */
export async function openManifestArtifact(manifest: PromotionManifest, context: CheckContext): Promise<LocalArtifact> {
  const artifact = await materializeArtifact(manifest.artifact.uri, {
    baseDir: context.baseDir,
    progress: context.progress,
    httpIdleTimeoutMs: context.httpIdleTimeoutMs,
  });
  if (artifact.files.length === 0) {
    await artifact.cleanup();
    throw new CheckInputError(`artifact ${manifest.artifact.uri} is an empty directory`, manifest.artifact.uri);
  }
  return artifact;
}

/** Judges a computed digest against the declared one, and the signature against the trusted keys. */
export function integrityOutcome(
  manifest: PromotionManifest,
  settings: CheckSettings['integrity'],
  trustedKeys: TrustedKey[],
  digest: ArtifactDigest,
  symlinks: string[] = [],
): CheckOutcome {
  const findings: CheckFinding[] = [];
  const declared = manifest.artifact.sha256.toLowerCase();
  const metrics: Record<string, unknown> = { sha256: digest.sha256, kind: digest.kind, files: digest.files.length, bytes: digest.bytes };
  if (digest.kind === 'directory') metrics.manifest = digest.files;
  let failed = false;
  for (const link of symlinks) {
    failed = true;
    findings.push({ kind: 'symlink_in_artifact', severity: 'high', message: `symbolic link ${link} in the artifact directory is not allowed`, location: link });
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

/** The integrity check body: streaming digest (and signature) of the manifest's artifact. */
export async function checkIntegrity(manifest: PromotionManifest, settings: CheckSettings['integrity'], trustedKeys: TrustedKey[], context: CheckContext): Promise<CheckOutcome> {
  if (!/^[0-9a-f]{64}$/i.test(manifest.artifact.sha256)) {
    throw new CheckInputError(`declared digest has ${manifest.artifact.sha256.length} characters; a sha256 digest has 64 hexadecimal characters`);
  }
  const artifact = await openManifestArtifact(manifest, context);
  try {
    const digest = await digestArtifact(artifact, { progress: context.progress });
    return integrityOutcome(manifest, settings, trustedKeys, digest, artifact.symlinks);
  } finally {
    await artifact.cleanup();
  }
}

/** The security check body: static scan of every file of the manifest's artifact. */
export async function checkSecurity(manifest: PromotionManifest, settings: CheckSettings['security'], context: CheckContext): Promise<CheckOutcome> {
  const artifact = await openManifestArtifact(manifest, context);
  try {
    const scan = await scanArtifact(artifact, scanOptions(manifest, settings, context));
    return securityOutcome(manifest, settings, scan);
  } finally {
    await artifact.cleanup();
  }
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
 * Integrity and security in one streaming pass over the artifact (the CLI's `check` and the
 * benchmark): every byte is read once for the digest and the streaming inspectors.
 */
export async function checkIntegrityAndSecurity(
  manifest: PromotionManifest,
  settings: CheckSettings,
  trustedKeys: TrustedKey[],
  context: CheckContext,
): Promise<{ integrity: CheckOutcome; security: CheckOutcome }> {
  if (!/^[0-9a-f]{64}$/i.test(manifest.artifact.sha256)) {
    throw new CheckInputError(`declared digest has ${manifest.artifact.sha256.length} characters; a sha256 digest has 64 hexadecimal characters`);
  }
  const artifact = await openManifestArtifact(manifest, context);
  try {
    const scan = await scanArtifact(artifact, scanOptions(manifest, settings.security, context), true);
    return {
      integrity: integrityOutcome(manifest, settings.integrity, trustedKeys, scan.digest!, artifact.symlinks),
      security: securityOutcome(manifest, settings.security, scan),
    };
  } finally {
    await artifact.cleanup();
  }
}

/** True when a scanner finding makes the scan fail. */
export { isDangerous };

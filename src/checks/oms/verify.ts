import type { CheckFinding } from '../../shared/checks';
import type { ArtifactDigest } from '../digest';
import type { TrustedKey, TrustedRoot } from '../trusted-keys';
import { type OmsSigner, verifyOmsEnvelope } from './envelope';
import { OMS_LIMITS, OmsRefusal, type OmsRefusalReason } from './refusal';
import { compareFiles, quotedPath, readOmsStatement } from './statement';

/** What verifying an OMS signature needs. */
export interface OmsVerification {
  /** The bundle's text (already bounded by {@link OMS_LIMITS.bundleBytes}). */
  bundleText: string;
  /** The artifact's digest: its files and their sha256, as the integrity pass computed them. */
  digest: ArtifactDigest;
  keys: TrustedKey[];
  roots: TrustedRoot[];
  /** The root digest the manifest pins, if any. */
  rootDigest?: string;
  /** Files of the artifact never compared (the bundle itself, when it lies in the directory). */
  excluded?: string[];
}

/** The outcome: findings for the integrity result, whether it failed, and metrics. */
export interface OmsVerdict {
  valid: boolean;
  findings: CheckFinding[];
  metrics: Record<string, unknown>;
}

const refusalFinding = (reason: OmsRefusalReason, message: string): CheckFinding => ({ kind: `oms_${reason}`, severity: 'critical', message });

function namedFindings(reason: OmsRefusalReason, names: string[], say: (name: string) => string, sayMore: (n: number) => string): CheckFinding[] {
  const findings: CheckFinding[] = names.slice(0, OMS_LIMITS.namedEntries).map((name) => ({ ...refusalFinding(reason, say(quotedPath(name))), location: quotedPath(name) }));
  if (names.length > OMS_LIMITS.namedEntries) findings.push(refusalFinding(reason, sayMore(names.length - OMS_LIMITS.namedEntries)));
  return findings;
}

/**
 * Verifies an OMS signature against an artifact, offline: the envelope's signature (trusted
 * key or certificate chain to a trusted root), the statement (bounded, consistent), every
 * file present listed with its digest and nothing listed missing, and the root digest the
 * manifest pins. Never throws: every refusal is a finding `oms_<reason>`.
 */
export function verifyOmsSignature(input: OmsVerification): OmsVerdict {
  const metrics: Record<string, unknown> = { signatureFormat: 'oms', signatureVerified: false };
  const single = input.digest.kind === 'file';
  let signer: OmsSigner;
  try {
    const envelope = verifyOmsEnvelope(input.bundleText, input.keys, input.roots);
    signer = envelope.signer;
    metrics.signer = signer.kind === 'certificate' ? { ...signer, subject: signer.subject.slice(0, 300) } : signer;
    if (signer.kind === 'key') metrics.signatureKeyId = signer.keyId;
    const statement = readOmsStatement(envelope.payload, single);
    metrics.signedRootDigest = statement.rootDigest;
    metrics.signedFiles = statement.resources.size;
    const findings: CheckFinding[] = [];
    if (input.rootDigest !== undefined && input.rootDigest !== statement.rootDigest) {
      findings.push({ ...refusalFinding('root_digest_mismatch', `the signed root digest ${statement.rootDigest} differs from the pinned ${input.rootDigest}`), expected: input.rootDigest, actual: statement.rootDigest });
    }
    const comparison = compareFiles(statement, input.digest.files, single, input.excluded);
    findings.push(
      ...namedFindings('file_changed', comparison.changed, (n) => `file ${n} differs from its signed digest`, (n) => `${n} more files differ from their signed digests`),
      ...namedFindings('file_unlisted', comparison.unlisted, (n) => `file ${n} is in the artifact but not in the signed statement`, (n) => `${n} more files are not in the signed statement`),
      ...namedFindings('file_missing', comparison.missing, (n) => `file ${n} is in the signed statement but not in the artifact`, (n) => `${n} more signed files are missing`),
    );
    if (comparison.uncovered.length > 0) {
      metrics.unsignedFiles = comparison.uncovered.length;
      findings.push({
        kind: 'oms_unsigned_files',
        severity: 'info',
        message: `${comparison.uncovered.length} file(s) present are left out of the signature (the bundle, or paths the signer ignored): ${comparison.uncovered.slice(0, 5).map(quotedPath).join(', ')}${comparison.uncovered.length > 5 ? ', …' : ''}`,
      });
    }
    const valid = !findings.some((f) => f.severity !== 'info');
    metrics.signatureVerified = valid;
    const by = signer.kind === 'key' ? `trusted key '${signer.keyId}'` : `a certificate chaining to trusted root '${signer.root}'`;
    if (valid) findings.unshift({ kind: 'oms_signature_verified', severity: 'info', message: `OMS signature by ${by} verifies; ${statement.resources.size} signed file(s) match the artifact` });
    return { valid, findings, metrics };
  } catch (err) {
    if (err instanceof OmsRefusal) return { valid: false, findings: [refusalFinding(err.reason, err.message)], metrics };
    throw err;
  }
}

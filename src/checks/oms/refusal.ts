/**
 * Why an OMS signature is refused; each becomes the finding kind `oms_<reason>`.
 * docs/policy.md ("OMS signatures") lists what each means.
 */
export const OMS_REFUSAL_REASONS = [
  'bundle_unreadable',
  'bundle_too_large',
  'bundle_malformed',
  'bundle_unsupported',
  'transparency_log_required',
  'no_trusted_key',
  'unknown_key',
  'bad_key',
  'untrusted_certificate',
  'certificate_expired',
  'certificate_not_for_signing',
  'signature_mismatch',
  'statement_malformed',
  'statement_unsupported',
  'unsupported_hash_algorithm',
  'too_many_files',
  'bad_path',
  'duplicate_entry',
  'root_digest_inconsistent',
  'root_digest_mismatch',
  'file_changed',
  'file_unlisted',
  'file_missing',
] as const;

/** Why an OMS signature is refused. */
export type OmsRefusalReason = (typeof OMS_REFUSAL_REASONS)[number];

/** Thrown inside the OMS verification to stop at the first refusal; never leaves it. */
export class OmsRefusal extends Error {
  override readonly name = 'OmsRefusal';
  constructor(
    readonly reason: OmsRefusalReason,
    message: string,
  ) {
    super(message);
  }
}

/** The bounds of what an OMS bundle may hold; anything past them is refused, never read on. */
export const OMS_LIMITS = {
  /** Size of the bundle file. */
  bundleBytes: 16 * 1024 * 1024,
  /** Nesting of the bundle's and the statement's JSON. */
  jsonDepth: 32,
  /** Files the statement lists (and the artifact directory's own limit). */
  resources: 100_000,
  /** Paths the statement's serialization says it ignored. */
  ignorePaths: 1_000,
  /** Characters of one listed path. */
  pathCharacters: 4_096,
  /** Certificates in the bundle's chain. */
  certificates: 10,
  /** Bytes of one DER certificate. */
  certificateBytes: 64 * 1024,
  /** Signing certificate's distance to a trusted root, in certificates. */
  chainLength: 10,
  /** Files or entries named one by one in the findings; the rest are counted. */
  namedEntries: 20,
} as const;

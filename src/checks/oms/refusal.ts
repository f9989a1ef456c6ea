/**
 * Why an OMS signature is refused, and what each reason means; each becomes the finding kind
 * `oms_<reason>` (docs/policy.md, "OMS signatures", lists them from here).
 */
export const OMS_REFUSALS = {
  bundle_unreadable: 'the bundle cannot be read: its source is refused or missing, or there is no `model.sig` in the directory and no `artifact.signature.bundle`',
  bundle_too_large: `the bundle is larger than the limit (16 MiB)`,
  bundle_malformed: 'the bundle is not JSON, nested too deep, or lacks a field it needs (one envelope signature, well-formed certificates)',
  bundle_unsupported: 'not a Sigstore bundle v0.3 with a DSSE envelope whose payload type is `application/vnd.in-toto+json` (e.g. a message-signature bundle)',
  transparency_log_required: 'a Sigstore keyless bundle whose certificate does not chain to a trusted root: it needs the transparency log, which offline verification does not consult',
  no_trusted_key: 'a key-based bundle, and the policy trusts no ECDSA key',
  unknown_key: 'the bundle\'s key hint names no trusted key',
  bad_key: 'a trusted key cannot be used (not a PEM key on the curve its algorithm names), or the signing certificate\'s key is not ECDSA P-256/P-384/P-521',
  untrusted_certificate: 'the certificate chain does not reach a trusted root, a link\'s signature fails, an issuer is no CA (basicConstraints, keyCertSign, path length), or a critical extension is not understood',
  certificate_expired: 'a certificate of the chain is not valid at the signing time (the signing certificate\'s notBefore)',
  certificate_not_for_signing: 'the signing certificate\'s key usage lacks digitalSignature or its extended key usage lacks codeSigning (each where present; at least one present)',
  signature_mismatch: 'the envelope\'s signature does not verify (the statement was changed, or another key signed it)',
  statement_malformed: 'the signed statement is not JSON, nested too deep, or its subject, serialization or resources are malformed',
  statement_unsupported: 'not an in-toto v1 statement with the model-signing v1.0 predicate serialized by files (earlier formats, shards)',
  unsupported_hash_algorithm: 'a hash algorithm other than sha256 (blake2, blake3, …)',
  too_many_files: 'the statement lists more than 100,000 files',
  bad_path: 'a listed or ignored path is empty, absolute, has a `.`/`..`/empty segment, a backslash or a control character, or is longer than 4,096 characters',
  duplicate_entry: 'a path is listed twice',
  root_digest_inconsistent: 'the listed digests do not hash to the statement\'s subject digest',
  root_digest_mismatch: 'the signed root digest differs from `artifact.signature.rootDigest`',
  file_changed: 'a file\'s sha256 differs from its signed digest',
  file_unlisted: 'a file is in the artifact, outside the ignored paths, but not in the statement',
  file_missing: 'a file is in the statement but not in the artifact',
} as const;

/** The reasons, in the order of {@link OMS_REFUSALS}. */
export const OMS_REFUSAL_REASONS = Object.keys(OMS_REFUSALS) as Array<keyof typeof OMS_REFUSALS>;

/** Why an OMS signature is refused. */
export type OmsRefusalReason = keyof typeof OMS_REFUSALS;

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

// What a registry of record answers when it and PostgreSQL disagree: the read fails closed.

/** The kinds of disagreement between an external registry of record and PostgreSQL. */
export const REGISTRY_DISAGREEMENT_KINDS = ['alias_on_unapproved_version', 'alias_off_deployed_version', 'alias_missing', 'digest_mismatch', 'version_missing'] as const;

/** One disagreement, as it is audited (`registry_disagreement`) and answered. */
export interface RegistryDisagreementDetail {
  kind: (typeof REGISTRY_DISAGREEMENT_KINDS)[number];
  model: string;
  environment: string;
  /** The version the registry of record names, when it names one. */
  version?: string;
  /** What disagrees, in words that name no value read beyond versions and Modelgate's own digests. */
  message: string;
}

/**
 * Thrown by a registry of record whose answer PostgreSQL does not confirm: nothing may act on it
 * (no promotion, rollback or deployment); the API answers 409.
 */
export class RegistryDisagreement extends Error {
  override readonly name = 'RegistryDisagreement';
  constructor(readonly detail: RegistryDisagreementDetail) {
    super(detail.message);
  }
}

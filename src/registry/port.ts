// The model registry as Modelgate uses it: one port, whatever stores it. The built-in store is
// PostgreSQL (`createPgRegistry`); another registry (e.g. MLflow) implements the same interface.
import type { PromotionManifest } from '../manifest/schema';

/** The registry's answers to "which artifact digest does this model version have?" and "who owns this model?". */
export interface VersionDigests {
  /** The digest `model@version` is registered with, or `undefined` when it was never registered. */
  digestOf(model: string, version: string): Promise<string | undefined>;
  /** The registered owner of `model`, or `undefined` when it was never registered (asked every time: an admin may change it). */
  ownerOf(model: string): Promise<string | undefined>;
}

/** A version's registered digest and its model's owner, each `undefined` when never registered. */
export interface Registration {
  digest?: string;
  owner?: string;
}

/** What a submission asks the registry before it starts: one question, asked every time. */
export interface SubmissionRegistration {
  /** The digest `model@version` is registered with and the owner of `model` (an admin may change it, so never remembered). */
  registrationOf(model: string, version: string): Promise<Registration>;
}

/** What the registry knows of one model version. */
export interface RegisteredVersion {
  sha256: string;
  metrics: Record<string, unknown>;
}

/** The version now serving an environment. */
export interface ServingVersion {
  version: string;
  metrics: Record<string, unknown>;
}

/** Read access to the model registry that the lineage and performance checks need. */
export interface RegistryReader {
  /** The registered version `version` of `model`, or undefined when it was never registered. */
  findVersion(model: string, version: string): Promise<RegisteredVersion | undefined>;
  /** The version of `model` currently serving `environment`, or undefined. */
  servingVersion(model: string, environment: string): Promise<ServingVersion | undefined>;
}

/** What {@link VersionClaims.claimVersion} is asked to register. */
export interface VersionClaim {
  promotionId: string;
  manifest: PromotionManifest;
  effectiveTier: string;
}

/**
 * The outcome of a claim: `claimed` (the version is registered with this digest, now or before),
 * or the conflict that refused it (nothing was written then).
 */
export type ClaimOutcome =
  | { status: 'claimed'; owner: string }
  | { status: 'owner_conflict'; registeredOwner: string }
  | { status: 'digest_conflict'; registeredDigest: string | undefined };

/** Claims of model versions by promotions. */
export interface VersionClaims {
  /**
   * Registers the model (with the manifest's owner, when it is new) and the version (idempotent),
   * in one transaction. A model's owner never changes by a claim and a version's digest never
   * changes: either would be a conflict.
   */
  claimVersion(claim: VersionClaim): Promise<ClaimOutcome>;
}

/** One model of {@link ModelCatalog.listModels}. */
export interface ModelSummary {
  name: string;
  owner: string;
  description: string;
  /** How many versions are registered. */
  versions: number;
  /** The version serving each environment (`null` when none serves anywhere). */
  serving: Record<string, string> | null;
  updatedAt: Date;
}

/** One registered version of {@link ModelDetail}. */
export interface ModelVersionDetail {
  version: string;
  artifactSha256: string;
  artifactUri: string;
  artifactFormat: string;
  riskTier: string;
  metrics: Record<string, number>;
  firstPromotionId: string;
  createdAt: Date;
  /** The version's approvals per environment, as the API lists them (`null` when there are none). */
  approvals: unknown[] | null;
}

/** One deployment (current or superseded) of {@link ModelDetail}. */
export interface DeploymentRecord {
  environment: string;
  version: string;
  promotionId: string;
  deployedAt: Date;
  supersededAt: Date | null;
}

/** A model with its versions and the history of its deployments. */
export interface ModelDetail {
  name: string;
  owner: string;
  description: string;
  createdAt: Date;
  /** Oldest first. */
  versions: ModelVersionDetail[];
  /** By environment, oldest first. */
  deployments: DeploymentRecord[];
}

/** The registry's models, as the API shows and an admin changes them. */
export interface ModelCatalog {
  /** Models named after `after` (all when `null`), by name, at most `limit`. */
  listModels(page: { after: string | null; limit: number }): Promise<ModelSummary[]>;
  /** The model `name`, or `undefined` when it is not registered. */
  getModel(name: string): Promise<ModelDetail | undefined>;
  /** Sets the owner of `name`; returns the previous owner, or `undefined` when the model is not registered. */
  changeOwner(name: string, owner: string): Promise<string | undefined>;
}

/** What {@link Approvals.recordApproval} records. */
export interface ApprovalRecord {
  promotionId: string;
  model: string;
  version: string;
  environment: string;
  decidedBy: string;
  policyVersion: string;
  evidenceDigest: string;
  validForMs: number;
  /** When the approval expires, as the workflow computed it (absent in promotions started before it did). */
  validUntil?: string;
}

/** Approvals of versions for environments. */
export interface Approvals {
  /** Records the approval of a version for an environment (idempotent upsert). */
  recordApproval(approval: ApprovalRecord): Promise<void>;
  /**
   * Marks a version's approval for an environment `expired` or `revoked`. Idempotent; a later
   * approval sets it back to `approved`.
   */
  setApprovalStatus(change: { model: string; version: string; environment: string; status: 'expired' | 'revoked' }): Promise<void>;
  /** The approval of `version` for `environment` as recorded, or `undefined` when none was. */
  approvalOf(model: string, version: string, environment: string): Promise<RecordedApproval | undefined>;
}

/** An approval as the registry holds it. */
export interface RecordedApproval {
  promotionId: string;
  status: 'approved' | 'expired' | 'revoked';
  validUntil: Date;
}

/** Which version serves which environment. */
export interface EnvironmentDeployments {
  /**
   * Moves an environment to a version in one transaction: the version serving now is marked
   * superseded (never deleted). Idempotent per promotion.
   *
   * @returns the version that served before (if any).
   */
  activateVersion(move: { promotionId: string; model: string; version: string; environment: string }): Promise<{ previousVersion?: string }>;
}

/** The model registry: every read and write Modelgate makes of models, versions, approvals and deployments. */
export interface Registry extends VersionDigests, RegistryReader, VersionClaims, ModelCatalog, Approvals, EnvironmentDeployments {}

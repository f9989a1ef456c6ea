// Workflow-safe types of a policy resolved for one promotion. The workflow receives one
// of these at start and decides only by it, for its whole life.
import type { CheckSettings } from './check-settings';
import type { RiskTier } from '../manifest/schema';
import type { RegistryKind } from './schema';

/** A gate as resolved for a promotion (durations in milliseconds). */
export interface ResolvedGate {
  name: string;
  title: string;
  roles: string[];
  quorum: number;
  slaMs?: number;
  escalateTo: string[];
  timeoutMs?: number;
  onTimeout: 'reject' | 'expire';
}

/** A stage of parallel gates. */
export interface ResolvedStage {
  name: string;
  gates: ResolvedGate[];
}

/** Retry of a deployment provider (durations in milliseconds). */
export interface ResolvedRetry {
  maximumAttempts: number;
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
}

/** An HTTP deployer (see the policy schema's `WebhookDeploymentSchema`). */
export interface ResolvedWebhookDeployment {
  provider: 'webhook';
  url: string;
  secretEnv: string;
  completion: 'sync' | 'callback';
  callbackTimeoutMs: number;
  requestTimeoutMs: number;
  retry: ResolvedRetry;
}

/** A GitOps working copy (see the policy schema's `GitOpsDeploymentSchema`). */
export interface ResolvedGitOpsDeployment {
  provider: 'gitops';
  repository: string;
  path: string;
  remote: string;
  branch: string;
  namespace: string;
  requestTimeoutMs: number;
  retry: ResolvedRetry;
}

/** How the target environment is provisioned. */
export type ResolvedDeployment = ResolvedWebhookDeployment | ResolvedGitOpsDeployment;

/** Everything a promotion needs from its policy, frozen at submission. */
export interface ResolvedPolicy {
  name: string;
  version: string;
  /** sha256 of the policy file's bytes. */
  digest: string;
  target: string;
  declaredTier: RiskTier;
  effectiveTier: RiskTier;
  /** Why the tier was raised (empty when it was not). */
  tierReasons: string[];
  checks: CheckSettings;
  autoApprove?: { allChecksPass: boolean; minMetrics: Record<string, number> };
  stages: ResolvedStage[];
  separationOfDuties: { allowSamePersonOnMultipleGates: boolean };
  /** `rollback` is absent in promotions started before rollbacks existed. */
  overrides: { waiveCheck: string[]; forceGate: string[]; expedite: string[]; withdraw: string[]; rollback?: string[] };
  /** Roles whose messages are accepted as Temporal Signals (absent in promotions started before operator Signals were limited). */
  operatorSignals?: string[];
  expedite: { slaMs?: number; timeoutMs?: number };
  remediationWindowMs: number;
  approvalValidForMs: number;
  /** Absent in promotions started before re-certification existed. */
  recertification?: { notifyBeforeMs: number; requestRoles: string[] };
  /** The target's registry of record when it is not the built-in one (absent: `builtin`). */
  registry?: Exclude<RegistryKind, 'builtin'>;
  /** The target's provider; absent: an approval moves the registry only. */
  deployment?: ResolvedDeployment;
  notifications: Array<{ url: string; events: string[] }>;
  trustedKeys: Array<{ keyId: string; algorithm: 'ed25519' | 'ecdsa-p256' | 'ecdsa-p384' | 'ecdsa-p521'; publicKey: string }>;
  /** Roots for OMS certificate-based bundles; absent in promotions started before they existed. */
  trustedRoots?: Array<{ name: string; certificate: string }>;
}

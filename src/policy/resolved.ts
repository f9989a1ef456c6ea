// Workflow-safe types of a policy resolved for one promotion. The workflow receives one
// of these at start and decides only by it, for its whole life.
import type { CheckSettings } from '../checks/settings';
import type { RiskTier } from '../manifest/schema';

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
  overrides: { waiveCheck: string[]; forceGate: string[]; expedite: string[]; withdraw: string[] };
  expedite: { slaMs?: number; timeoutMs?: number };
  remediationWindowMs: number;
  approvalValidForMs: number;
  notifications: Array<{ url: string; events: string[] }>;
  trustedKeys: Array<{ keyId: string; algorithm: 'ed25519'; publicKey: string }>;
}

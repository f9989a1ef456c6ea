// Workflow-safe types of a promotion: its lifecycle, messages and state (docs/lifecycle.md).
import type { CheckName, CheckResult } from './checks';
import type { PromotionManifest } from '../manifest/schema';
import type { ResolvedPolicy } from '../policy/resolved';
import type { z } from 'zod';
import type { MessageKind, MessageRefusalKind, PROMOTION_MESSAGES } from './message-table';

export type { MessageKind, MessageRefusalKind } from './message-table';

/** States in which a promotion has ended. */
const ENDED = ['DEPLOYED', 'REJECTED', 'EXPIRED', 'WITHDRAWN', 'SUPERSEDED', 'DEPLOY_FAILED'] as const;

/** Lifecycle states, carried by the `PromotionStatus` search attribute. */
export const PROMOTION_STATUSES = ['VALIDATING', 'CHECKS_FAILED', 'IN_REVIEW', 'CHANGES_REQUESTED', 'APPROVED', 'DEPLOYING', ...ENDED] as const;

/** A promotion's lifecycle state. */
export type PromotionStatus = (typeof PROMOTION_STATUSES)[number];

/** States in which a promotion has ended. */
export const TERMINAL_STATUSES: ReadonlySet<PromotionStatus> = new Set(ENDED);

/** Who sends a message: an authenticated identity and its roles. */
export interface Actor {
  id: string;
  roles: string[];
}

/** A reviewer's decision on a gate. */
export type GateDecision = 'approve' | 'reject' | 'request_changes';

/** Fields every message carries: the sender, a required idempotency key, an optional comment. */
export interface MessageEnvelope {
  actor: Actor;
  /** Idempotency key: a repeated requestId returns the first result and changes nothing. */
  requestId: string;
  comment?: string;
}

/** Payload type of each message: its body in the message table, with the envelope. */
export type MessagePayloads = {
  [K in MessageKind]: Omit<z.infer<(typeof PROMOTION_MESSAGES)[K]['body']>, 'requestId' | 'comment'> & MessageEnvelope;
};

/** What an accepted message did; returned by the Update and kept for repeated requestIds. */
export interface MessageResult {
  requestId: string;
  message: MessageKind;
  /** Status of the promotion right after the message. */
  status: PromotionStatus;
  summary: string;
}

/** A refusal of a message: its kind and the reason, in words for the sender. */
export interface MessageRefusal {
  kind: MessageRefusalKind;
  reason: string;
}

/** A message the promotion refused (Updates also answer with the reason). */
export interface RefusedMessage {
  at: string;
  message: MessageKind | 'unknown';
  via: 'update' | 'signal';
  actorId?: string;
  requestId?: string;
  reason: string;
}

/** One signature (or refusal) on a gate. */
export interface GateSignature {
  actorId: string;
  roles: string[];
  decision: GateDecision;
  comment?: string;
  at: string;
  requestId: string;
  /** Evidence (artifact + manifest + check results) the reviewer saw. */
  evidenceDigest: string;
  /** A signature becomes void when the evidence it approved changes. */
  void?: boolean;
}

/** State of a gate. */
export type GateStatus = 'waiting' | 'open' | 'approved' | 'rejected' | 'changes_requested' | 'timed_out' | 'forced';

export interface GateState {
  name: string;
  title: string;
  roles: string[];
  quorum: number;
  escalateTo: string[];
  onTimeout: 'reject' | 'expire';
  status: GateStatus;
  signatures: GateSignature[];
  openedAt?: string;
  /** When the SLA passes (reminder + escalation). */
  slaAt?: string;
  /** Hard deadline. */
  deadlineAt?: string;
  escalated: boolean;
  forced?: { by: string; justification: string; at: string };
  decidedAt?: string;
}

export interface StageState {
  name: string;
  status: 'waiting' | 'active' | 'passed' | 'failed';
  gates: GateState[];
}

/** A waived check (break-glass), flagged in the audit. */
export interface CheckWaiver {
  check: CheckName;
  by: string;
  justification: string;
  at: string;
  /** The evidence digest the waiver was given for; a revision voids it. */
  evidenceDigest: string;
}

/** An entry of the promotion's own readable timeline. */
export interface TimelineEntry {
  at: string;
  actor: string;
  action: string;
  detail?: Record<string, unknown>;
}

/** How the promotion ended (or why it waits). */
export interface PromotionOutcome {
  status: PromotionStatus;
  at: string;
  by: string;
  reason: string;
}

/** The whole current state, returned by the `state` query. */
export interface PromotionState {
  promotionId: string;
  manifest: PromotionManifest;
  submitter: Actor;
  submittedAt: string;
  status: PromotionStatus;
  policy: { name: string; version: string; digest: string };
  declaredTier: string;
  effectiveTier: string;
  tierReasons: string[];
  checks: CheckResult[];
  checkRuns: number;
  waivers: CheckWaiver[];
  evidenceDigest?: string;
  stages: StageState[];
  currentStage?: number;
  expedited?: { by: string; reason: string; at: string };
  remediationDeadline?: string;
  revisions: number;
  /** The most recent refused signals (at most 200 are kept). */
  refused: RefusedMessage[];
  /** How many signals were refused in all (absent until the first refusal). */
  refusedTotal?: number;
  timeline: TimelineEntry[];
  outcome?: PromotionOutcome;
  /** When the promotion was approved and until when the approval holds (absent in promotions approved before expiry was tracked). */
  approval?: { at: string; validUntil: string };
  /** Registry and deployment results, once approved. */
  deployment?: PromotionDeployment;
  /** Present when this promotion re-certifies a serving version. */
  recertification?: RecertificationRequest;
  /** Runs of this promotion so far (continue-as-new). */
  run: number;
  /**
   * The model's owner as the registry holds it, once this promotion claimed its version
   * (separation of duties excludes this one; absent before: then the manifest's, which the
   * submission checked against the registry).
   */
  registeredOwner?: string;
  /**
   * `pending` until the version is claimed in the registry (promotions since
   * `claim-version-after-integrity` claim it once the integrity check passed); absent in
   * promotions that claimed it at submission.
   */
  versionClaim?: 'pending' | 'claimed';
}

/** The owner separation of duties excludes: the registered one, else the manifest's. */
export function ownerOf(state: Pick<PromotionState, 'registeredOwner' | 'manifest'>): string {
  return state.registeredOwner ?? state.manifest.model.owner;
}

/** Input of `PromotionWorkflow`. */
export interface PromotionInput {
  promotionId: string;
  manifest: PromotionManifest;
  submitter: Actor;
  submittedAt: string;
  policy: ResolvedPolicy;
  /** Present when continuing as new: the state and processed request ids so far. */
  carried?: CarriedPromotion;
  /** Continue as new after this many history events (default 5000; tests set it low). */
  historyEventLimit?: number;
  /** Present when this promotion re-certifies the version serving the target. */
  recertification?: RecertificationRequest;
}

/** Why a serving version is being re-certified. */
export interface RecertificationRequest {
  /** 1 for the first re-certification of this version in this environment, then 2, … */
  sequence: number;
  trigger: 'expiry' | 'drift' | 'policy_change';
  reason: string;
  /** Who asked (`modelgate` for an expiry). */
  requestedBy: string;
  /**
   * People who may not decide on this re-certification: the version's original submitter and
   * whoever asked for it (a drift reporter). The owner is excluded as on every promotion.
   */
  excluded?: string[];
}

/** What the deployment stage did. */
export interface PromotionDeployment {
  environment: string;
  at: string;
  previousVersion?: string;
  /** The provider's id of the deployment (`<promotion id>#deploy`), when a provider ran. */
  deploymentId?: string;
  provider?: 'webhook' | 'gitops';
  /** `provisioning`, `awaiting_completion` (asynchronous deployer), then `deployed` or `failed`. */
  status?: 'provisioning' | 'awaiting_completion' | 'deployed' | 'failed' | 'rolled_back';
  /** The provider's reference (commit, deployer id). */
  reference?: string;
  detail?: string;
  /** For an asynchronous deployer: the variable holding the key its completion report is signed with. */
  secretEnv?: string;
  /** For an asynchronous deployer: when the deployment is given up and rolled back. */
  completionDeadline?: string;
}

/** What a promotion carries into its next run. */
export interface CarriedPromotion {
  state: PromotionState;
  processed: Record<string, MessageResult>;
}

// Workflow-safe definitions of an environment's lifecycle workflow: one per model and
// environment, long-lived (continuing as new), holding the serving version's approval expiry,
// re-certification and rollback (docs/policy.md, approvalValidFor and recertification; docs/lifecycle.md).
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { PromotionManifest } from '../manifest/schema';
import type { ResolvedDeployment } from '../policy/resolved';
import type { Actor, PromotionStatus, TimelineEntry } from './promotion';

/** Workflow type name of an environment's lifecycle. */
export const ENVIRONMENT_WORKFLOW_TYPE = 'ModelEnvironmentWorkflow';

/** Readable workflow id: `environment:<model>:<environment>`. */
export function environmentWorkflowId(model: string, environment: string): string {
  return `environment:${model}:${environment}`;
}

/** Readable id of a re-certification promotion. */
export function recertificationWorkflowId(model: string, version: string, environment: string, sequence: number): string {
  return `recertify:${model}:${version}:${environment}:${sequence}`;
}

/** Readable id of a rollback (also its audit trail's id). */
export function rollbackId(model: string, environment: string, sequence: number): string {
  return `rollback:${model}:${environment}:${sequence}`;
}

/** The rules of the policy that approved the serving version, as the lifecycle needs them. */
export interface EnvironmentPolicy {
  name: string;
  version: string;
  deployment?: ResolvedDeployment;
  rollbackRoles: string[];
  /** Roles that may ask for re-certification (drift, policy change). */
  requestRoles: string[];
  approvalValidForMs: number;
  notifyBeforeMs: number;
  notifications: Array<{ url: string; events: string[] }>;
}

/** A version that serves (or served) the environment. */
export interface ServingVersion {
  version: string;
  /** The promotion (or rollback) that made it serve. */
  promotionId: string;
  manifest: PromotionManifest;
  approvedAt: string;
  /** When the approval expires (re-certification starts then). */
  validUntil: string;
  /** Who approved it (for notifications before expiry). */
  approvers: string[];
  /** Who submitted the promotion that made it serve (may not decide on its re-certification). */
  submitter?: string;
  /** False once its approval expired or a re-certification of it failed. */
  certified: boolean;
  /** When the environment was rolled back away from it (it is then no default rollback target). */
  rolledBackAt?: string;
}

/** What a promotion tells the lifecycle workflow. */
export type EnvironmentAnnouncement =
  | {
      kind: 'deployed';
      model: string;
      environment: string;
      purpose: 'promotion' | 'recertification';
      serving: ServingVersion;
      policy: EnvironmentPolicy;
    }
  | {
      kind: 'recertification_ended';
      model: string;
      environment: string;
      promotionId: string;
      version: string;
      status: PromotionStatus;
      reason: string;
    };

/** Payload of the `rollback` update. */
export interface RollbackRequest {
  actor: Actor;
  requestId?: string;
  justification: string;
  /** A specific earlier version; default: the most recent earlier version whose approval is still valid and that was not rolled back from. */
  toVersion?: string;
}

/** Result of a rollback. */
export interface RollbackResult {
  rollbackId: string;
  fromVersion: string;
  toVersion: string;
  status: 'rolled_back' | 'failed';
  detail: string;
}

/** Payload of the `recertify` update. */
export interface RecertifyRequest {
  actor: Actor;
  requestId?: string;
  trigger: 'drift' | 'policy_change';
  reason: string;
}

/** The lifecycle's whole state (query `environment`). */
export interface EnvironmentState {
  model: string;
  environment: string;
  policy?: EnvironmentPolicy;
  serving?: ServingVersion;
  /** Versions that served before, newest first (rollback targets). */
  previous: ServingVersion[];
  /** The running re-certification, if any. */
  recertification?: { promotionId: string; version: string; trigger: string; reason: string; startedAt: string };
  recertifications: number;
  rollbacks: number;
  /** A rollback in progress. */
  rollingBack?: string;
  /** The `validUntil` whose expiry notice was sent. */
  expiryNoticeFor?: string;
  /** The latest events (at most 200 kept). */
  timeline: TimelineEntry[];
}

/** Input of the lifecycle workflow. */
export interface EnvironmentInput {
  model: string;
  environment: string;
  carried?: { state: EnvironmentState; processed: Record<string, unknown> };
}

/** Signals of the lifecycle workflow. */
export const environmentSignals = {
  announce: defineSignal<[EnvironmentAnnouncement]>('announce'),
} as const;

/** Updates of the lifecycle workflow (the API's rollback and drift endpoints). */
export const environmentUpdates = {
  rollback: defineUpdate<RollbackResult, [RollbackRequest]>('rollback'),
  recertify: defineUpdate<{ promotionId: string }, [RecertifyRequest]>('recertify'),
} as const;

/** Query of the lifecycle's state. */
export const environmentQuery = defineQuery<EnvironmentState>('environment');

// The MLflow alias guard's contract: its workflow id per task queue, its input and the Signal the
// webhook receiver sends when MLflow reports an alias set. Pure and workflow-safe.
import { defineSignal } from '@temporalio/workflow';

/** Workflow type of the alias guard (the API signals it by name). */
export const MLFLOW_ALIAS_GUARD_WORKFLOW = 'MlflowAliasGuardWorkflow';

/** The alias guard of the promotions on `taskQueue`: one long-running workflow per task queue. */
export function mlflowAliasGuardId(taskQueue: string): string {
  return `mlflow-alias-guard:${taskQueue}`;
}

/** An alias MLflow reported set (a verified `model_version_alias.created` delivery). */
export interface MlflowAliasSet {
  model: string;
  alias: string;
  version: string;
}

/** Input of the alias guard. */
export interface MlflowAliasGuardInput {
  /** Time between two reconciliations of every governed alias (MLFLOW_ALIAS_RECONCILE_INTERVAL). */
  reconcileIntervalMs: number;
  /** What a run hands to the next at continue-as-new. */
  carried?: CarriedAliasGuard;
}

/** What one run of the alias guard hands to the next at continue-as-new. */
export interface CarriedAliasGuard {
  queued: MlflowAliasSet[];
  incidents: number;
  /** When the last full reconciliation started (workflow time, ms since the epoch). */
  lastFullAt?: number;
  /** True when the next round must be a full reconciliation (reports dropped or moves left over). */
  fullDue?: boolean;
}

/** Most alias reports waiting at once; beyond it a report is dropped and the next round is a full reconciliation. */
export const MAX_QUEUED_ALIAS_REPORTS = 100;

/** Most unauthorized moves one round handles; the rest are left to a full reconciliation run right after. */
export const MAX_MOVES_PER_ROUND = 50;

/** Signals of the alias guard. */
export const mlflowAliasGuardSignals = {
  aliasSet: defineSignal<[MlflowAliasSet]>('aliasSet'),
} as const;

/** True when a Signal's payload is an alias report of a sane shape (it is checked again by the activity). */
export function isMlflowAliasSet(value: unknown): value is MlflowAliasSet {
  const v = value as Partial<MlflowAliasSet> | null;
  const text = (s: unknown, max: number) => typeof s === 'string' && s.length > 0 && s.length <= max;
  return !!v && typeof v === 'object' && text(v.model, 256) && text(v.alias, 256) && text(v.version, 10);
}

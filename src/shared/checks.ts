/** Names of the automated checks (docs/policy.md#checksettings). */
export const CHECK_NAMES = ['integrity', 'security', 'performance', 'fairness', 'modelCard', 'lineage', 'privacy'] as const;

/** Name of one automated check. */
export type CheckName = (typeof CHECK_NAMES)[number];

/** Outcome of a check: `error` means it could not run, distinct from `fail`. */
export type CheckStatus = 'pass' | 'fail' | 'warn' | 'error';

/** One thing a check found. */
export interface CheckFinding {
  /** Short machine-readable kind, e.g. `dangerous_global`, `threshold_not_met`. */
  kind: string;
  severity: 'info' | 'low' | 'medium' | 'high' | 'critical';
  message: string;
  /** Where: a file, an archive member, a metric, a group, a model-card field. */
  location?: string;
  [extra: string]: unknown;
}

/** The uniform result of every check (docs/policy.md#checksettings). */
export interface CheckResult {
  name: CheckName;
  status: CheckStatus;
  required: boolean;
  summary: string;
  findings: CheckFinding[];
  metrics: Record<string, unknown>;
  durationMs: number;
}

/** Activity name of a check: `runIntegrityCheck`, `runModelCardCheck`, … */
export type CheckActivityName = `run${Capitalize<CheckName>}Check`;

/** Activity name of a check (see {@link CheckActivityName}). */
export function checkActivityName(check: CheckName): CheckActivityName {
  return `run${check.charAt(0).toUpperCase()}${check.slice(1)}Check` as CheckActivityName;
}

import type { CheckFinding, CheckName, CheckResult } from '../shared/checks';
import type { Enforcement } from '../policy/check-settings';
import { CheckInputError, TransientCheckError, errorMessage } from './errors';

/** What a check concluded before enforcement is applied. */
export interface CheckOutcome {
  /** `fail`: the artifact or evidence does not meet the bar; `error`: the check could not run. */
  outcome: 'pass' | 'warn' | 'fail' | 'error';
  summary: string;
  findings: CheckFinding[];
  metrics: Record<string, unknown>;
}

const SEVERITY_ORDER: Record<CheckFinding['severity'], number> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

/** Orders severities: negative when `a` is less severe than `b`. */
export function compareSeverity(a: CheckFinding['severity'], b: CheckFinding['severity']): number {
  return SEVERITY_ORDER[a] - SEVERITY_ORDER[b];
}

/** True when `finding` is at least as severe as `threshold`. */
export function atLeast(finding: CheckFinding, threshold: CheckFinding['severity']): boolean {
  return SEVERITY_ORDER[finding.severity] >= SEVERITY_ORDER[threshold];
}

/**
 * Applies enforcement to an outcome and produces the uniform result (docs/policy.md#checksettings):
 * `required` is `enforcement === 'required'`; an advisory check that fails reports `warn`.
 */
export function toCheckResult(
  name: CheckName,
  enforcement: Enforcement,
  outcome: CheckOutcome,
  startedAt: number,
): CheckResult {
  let status: CheckResult['status'] = outcome.outcome;
  if (status === 'fail' && enforcement !== 'required') status = 'warn';
  return {
    name,
    status,
    required: enforcement === 'required',
    summary: outcome.summary,
    findings: outcome.findings,
    metrics: outcome.metrics,
    durationMs: Math.max(0, Date.now() - startedAt),
  };
}

/** The result of a check whose enforcement is `off`: it did not run. */
export function skippedResult(name: CheckName): CheckResult {
  return {
    name,
    status: 'pass',
    required: false,
    summary: 'not run: the policy turns this check off',
    findings: [{ kind: 'check_off', severity: 'info', message: 'enforcement is off for this check' }],
    metrics: {},
    durationMs: 0,
  };
}

/**
 * What a result says about an unexpected error: its class name (code, not content) and never its
 * message, which could carry what a parser read.
 */
export function internalErrorMessage(err: unknown): string {
  const name = err instanceof Error && /^[A-Za-z][A-Za-z0-9]{0,63}$/.test(err.name) ? `${err.name}; ` : '';
  return `internal error while running the check (${name}see the worker log)`;
}

/** Writes an unexpected error, with its stack, to the process's standard error (the worker log). */
function logInternalError(name: CheckName, err: unknown): void {
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`${JSON.stringify({ level: 'error', msg: 'check failed with an internal error', check: name, err: detail })}\n`);
}

/**
 * Runs one check body and turns what it throws into results: a {@link CheckInputError} becomes
 * status `error` with its message (the checks' own words); a {@link TransientCheckError} is
 * rethrown when `rethrowTransient` (activities, so Temporal retries) and reported as `error`
 * otherwise (CLI); any other error becomes `internal_error` with {@link internalErrorMessage}
 * only, its message and stack going to the worker log.
 */
export async function runCheck(
  name: CheckName,
  enforcement: Enforcement,
  body: () => Promise<CheckOutcome>,
  options: { rethrowTransient: boolean },
): Promise<CheckResult> {
  if (enforcement === 'off') return skippedResult(name);
  const startedAt = Date.now();
  try {
    return toCheckResult(name, enforcement, await body(), startedAt);
  } catch (err) {
    if (err instanceof TransientCheckError && options.rethrowTransient) throw err;
    const kind = err instanceof TransientCheckError ? 'transient_error' : err instanceof CheckInputError ? 'input_error' : 'internal_error';
    if (kind === 'internal_error') logInternalError(name, err);
    const message = kind === 'internal_error' ? internalErrorMessage(err) : errorMessage(err);
    return toCheckResult(
      name,
      enforcement,
      {
        outcome: 'error',
        summary: `${name} check could not run: ${message}`,
        findings: [{ kind, severity: 'high', message }],
        metrics: {},
      },
      startedAt,
    );
  }
}

/** Counts findings by severity, for summaries. */
export function countBySeverity(findings: CheckFinding[]): Partial<Record<CheckFinding['severity'], number>> {
  const counts: Partial<Record<CheckFinding['severity'], number>> = {};
  for (const f of findings) counts[f.severity] = (counts[f.severity] ?? 0) + 1;
  return counts;
}

// The duration histograms of `/metrics` and what feeds them: observations derived from the
// record the workers keep (check results, a closed promotion's timeline), never from what one
// API process happens to read. Pure: the activities record the observations, the API reads them.
import type { CheckResult } from '../shared/checks';
import type { TimelineEntry } from '../shared/promotion';

/** Buckets (seconds) of the human-paced durations: a second to a month. */
const REVIEW_BUCKETS = [1, 10, 60, 300, 900, 3600, 4 * 3600, 86_400, 3 * 86_400, 7 * 86_400, 30 * 86_400];

/** The duration histograms: Prometheus name, help, labels and bucket upper bounds (seconds). */
export const DURATION_HISTOGRAMS = {
  gateDecisionLatency: {
    name: 'modelgate_gate_decision_latency_seconds',
    help: 'Time from a gate opening to a reviewer deciding on it, for every decision of every closed promotion',
    labelNames: ['gate', 'decision'],
    buckets: REVIEW_BUCKETS,
  },
  approvalVelocity: {
    name: 'modelgate_approval_velocity_seconds',
    help: 'Time from submission to approval or rejection, by effective risk tier, for every closed promotion',
    labelNames: ['tier', 'outcome'],
    buckets: REVIEW_BUCKETS,
  },
  checkDuration: {
    name: 'modelgate_check_duration_seconds',
    help: 'Duration of every automated check run that produced a result, by check and result',
    labelNames: ['check', 'status'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
  },
} as const;

/** One of the duration histograms. */
export type DurationMetric = keyof typeof DURATION_HISTOGRAMS;

/** One observed duration. */
export interface DurationObservation {
  metric: DurationMetric;
  /** What was observed, unique within the metric: recording it a second time changes nothing. */
  observation: string;
  labels: Record<string, string>;
  seconds: number;
  promotionId: string;
  /** When the observed thing ended (the decision, the approval, the check's end). */
  observedAt: string;
}

/** Upper bound of the bucket a duration falls in (`Infinity` above the last bound). */
export function bucketOf(metric: DurationMetric, seconds: number): number {
  return DURATION_HISTOGRAMS[metric].buckets.find((bound) => seconds <= bound) ?? Infinity;
}

const DECISION_ACTION = /^decision_(approve|reject|request_changes)$/;
const OUTCOME_OF_ACTION: Record<string, string> = { approved: 'approved', auto_approved: 'approved', rejected: 'rejected' };

const secondsBetween = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / 1000;

/**
 * The durations a closed promotion's timeline records: each gate decision's latency (from the
 * gate's latest opening before it) and the approval velocity (submission to the first approval
 * — by reviewers or automatic — or rejection, by a reviewer, a deadline or the registry).
 * Observations are keyed by the promotion id, its submission time and the event's place in the
 * timeline, so that a later promotion under the same id counts on its own.
 */
export function timelineObservations(promotionId: string, timeline: ReadonlyArray<TimelineEntry>): DurationObservation[] {
  const submitted = timeline.find((entry) => entry.action === 'submitted');
  if (!submitted) return [];
  const key = (index: number) => `${promotionId}@${submitted.at}#${index}`;
  const observations: DurationObservation[] = [];
  const gateOpenedAt = new Map<string, string>();
  let decided = false;
  timeline.forEach((entry, index) => {
    const gate = typeof entry.detail?.gate === 'string' ? entry.detail.gate : undefined;
    if (entry.action === 'gate_opened' && gate) {
      gateOpenedAt.set(gate, entry.at);
      return;
    }
    const decision = DECISION_ACTION.exec(entry.action)?.[1];
    const openedAt = gate ? gateOpenedAt.get(gate) : undefined;
    if (decision && gate && openedAt) {
      observations.push({
        metric: 'gateDecisionLatency',
        observation: key(index),
        labels: { gate, decision },
        seconds: Math.max(0, secondsBetween(openedAt, entry.at)),
        promotionId,
        observedAt: entry.at,
      });
      return;
    }
    const outcome = OUTCOME_OF_ACTION[entry.action];
    if (outcome && !decided) {
      decided = true;
      const tier = typeof submitted.detail?.effectiveTier === 'string' ? submitted.detail.effectiveTier : 'unknown';
      observations.push({
        metric: 'approvalVelocity',
        observation: key(index),
        labels: { tier, outcome },
        seconds: Math.max(0, secondsBetween(submitted.at, entry.at)),
        promotionId,
        observedAt: entry.at,
      });
    }
  });
  return observations;
}

/**
 * The duration of one check run. `run` identifies the run (the activity execution), so that a
 * retried recording counts once.
 */
export function checkObservation(promotionId: string, run: string, result: CheckResult, endedAt: string): DurationObservation {
  return {
    metric: 'checkDuration',
    observation: run,
    labels: { check: result.name, status: result.status },
    seconds: Math.max(0, result.durationMs / 1000),
    promotionId,
    observedAt: endedAt,
  };
}

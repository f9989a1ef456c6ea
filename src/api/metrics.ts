import type { Client } from '@temporalio/client';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { PROMOTION_WORKFLOW_TYPE } from '../shared/messages';
import { type MessageKind, type MessagePayloads, PROMOTION_STATUSES, type PromotionState } from '../shared/promotion';

/** What the API's metrics are computed from. */
export interface ApiMetricsDeps {
  client: Client;
  /** Every gate name of the loaded policies (for the pending count per gate). */
  gateNames: () => string[];
  /** Told when a background observation fails (never fails a request). */
  onError?: (err: unknown) => void;
}

/** The API's Prometheus metrics (served at `/metrics`) and the hooks that feed them. */
export interface ApiMetrics {
  registry: Registry;
  promotionSubmitted(): void;
  /** Observes durations that a promotion's state reveals (checks, decisions, approval velocity), once each. */
  observeState(state: PromotionState): void;
  /** After an accepted message: reads the state in the background and observes it. */
  afterMessage<K extends MessageKind>(kind: K, message: MessagePayloads[K], readState: () => Promise<PromotionState>): void;
  observeRequest(method: string, route: string, status: number, seconds: number): void;
}

const DECIDED = new Set(['APPROVED', 'DEPLOYING', 'DEPLOYED', 'REJECTED']);
const LATENCY_BUCKETS = [1, 10, 60, 300, 900, 3600, 4 * 3600, 86_400, 3 * 86_400, 7 * 86_400, 30 * 86_400];

/** A set that forgets everything once it holds `limit` keys (bounded memory for "seen once"). */
function seenOnce(limit = 50_000) {
  const seen = new Set<string>();
  return (key: string): boolean => {
    if (seen.has(key)) return false;
    if (seen.size >= limit) seen.clear();
    seen.add(key);
    return true;
  };
}

/**
 * Creates the metrics on a registry of their own (so several apps in one process do not
 * collide). Gauges of promotions by status and pending promotions by gate are counted by
 * Temporal visibility queries at scrape time.
 */
export function createApiMetrics(deps: ApiMetricsDeps): ApiMetrics {
  const registry = new Registry();
  const count = async (query: string) => Number((await deps.client.workflow.count(query)).count);
  const base = `WorkflowType = '${PROMOTION_WORKFLOW_TYPE}'`;

  new Gauge({
    name: 'modelgate_promotions',
    help: 'Promotions known to Temporal visibility, by lifecycle status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const counts = await Promise.all(PROMOTION_STATUSES.map((status) => count(`${base} AND PromotionStatus = '${status}'`)));
      PROMOTION_STATUSES.forEach((status, i) => this.set({ status }, counts[i]!));
    },
  });
  new Gauge({
    name: 'modelgate_pending_promotions',
    help: 'Running promotions waiting on a gate, by gate name',
    labelNames: ['gate'],
    registers: [registry],
    async collect() {
      const gates = [...new Set(deps.gateNames())].filter((g) => /^[A-Za-z0-9._-]+$/.test(g));
      const counts = await Promise.all(
        gates.map((gate) => count(`${base} AND ExecutionStatus = 'Running' AND PromotionStatus = 'IN_REVIEW' AND PendingGates = '${gate}'`)),
      );
      this.reset();
      gates.forEach((gate, i) => this.set({ gate }, counts[i]!));
    },
  });
  const submitted = new Counter({ name: 'modelgate_promotions_submitted_total', help: 'Promotions started through this API process', registers: [registry] });
  const decisionLatency = new Histogram({
    name: 'modelgate_gate_decision_latency_seconds',
    help: 'Time from a gate opening to a reviewer deciding on it',
    labelNames: ['gate', 'decision'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const approvalVelocity = new Histogram({
    name: 'modelgate_approval_velocity_seconds',
    help: 'Time from submission to the decision (approved or rejected), by effective risk tier',
    labelNames: ['tier', 'outcome'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const checkDuration = new Histogram({
    name: 'modelgate_check_duration_seconds',
    help: 'Duration of automated checks, by check and result',
    labelNames: ['check', 'status'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
    registers: [registry],
  });
  const requests = new Histogram({
    name: 'modelgate_api_request_duration_seconds',
    help: 'HTTP requests of the API, by method, route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  const firstDecision = seenOnce();
  const firstCheckRun = seenOnce();
  const firstSignature = seenOnce();

  const observeState = (state: PromotionState) => {
    if (state.checks.length > 0 && firstCheckRun(`${state.promotionId}#${state.run}#${state.checkRuns}`)) {
      for (const check of state.checks) checkDuration.observe({ check: check.name, status: check.status }, check.durationMs / 1000);
    }
    if (state.outcome && DECIDED.has(state.outcome.status) && firstDecision(state.promotionId)) {
      const seconds = (Date.parse(state.outcome.at) - Date.parse(state.submittedAt)) / 1000;
      if (seconds >= 0) approvalVelocity.observe({ tier: state.effectiveTier, outcome: state.outcome.status === 'REJECTED' ? 'rejected' : 'approved' }, seconds);
    }
    for (const stage of state.stages) {
      for (const gate of stage.gates) {
        if (!gate.openedAt) continue;
        for (const signature of gate.signatures) {
          if (!firstSignature(`${state.promotionId}#${signature.requestId}`)) continue;
          const seconds = (Date.parse(signature.at) - Date.parse(gate.openedAt)) / 1000;
          if (seconds >= 0) decisionLatency.observe({ gate: gate.name, decision: signature.decision }, seconds);
        }
      }
    }
  };

  return {
    registry,
    promotionSubmitted: () => submitted.inc(),
    observeState,
    afterMessage(kind, _message, readState) {
      if (kind !== 'decide' && kind !== 'override') return;
      readState().then(observeState, (err: unknown) => deps.onError?.(err));
    },
    observeRequest(method, route, status, seconds) {
      requests.observe({ method, route, status: String(status) }, seconds);
    },
  };
}

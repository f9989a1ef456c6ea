import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DURATION_HISTOGRAMS, type DurationMetric } from '../metrics/durations';
import { DURATION_METRICS, readDurationHistogram } from '../metrics/store';
import { PROMOTION_WORKFLOW_TYPE } from '../shared/messages';
import { PROMOTION_STATUSES } from '../shared/promotion';

/** What the API's metrics are computed from. */
export interface ApiMetricsDeps {
  client: Client;
  /** The database the workers record the duration observations in. */
  pool: Pool;
  /** Every gate name of the loaded policies (for the pending count per gate). */
  gateNames: () => string[];
}

/** The API's Prometheus metrics (served at `/metrics`) and the hooks that feed the process's own. */
export interface ApiMetrics {
  registry: Registry;
  promotionSubmitted(): void;
  observeRequest(method: string, route: string, status: number, seconds: number): void;
}

/** One exported sample, in the shape prom-client's registry renders. */
interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string>;
  value: number;
}

/**
 * A histogram whose series are read from PostgreSQL at scrape time (the counts the workers
 * recorded, see `src/metrics/store.ts`), not observed in this process: every API process
 * serves the same figures. A stored bucket bound that is no longer one of the histogram's
 * (the buckets changed) counts in the next bound above it.
 */
class RecordedHistogram extends Histogram<string> {
  constructor(
    private readonly metric: DurationMetric,
    private readonly pool: Pool,
    registry: Registry,
  ) {
    const definition = DURATION_HISTOGRAMS[metric];
    super({ ...definition, labelNames: [...definition.labelNames], buckets: [...definition.buckets], registers: [registry] });
  }

  /** What the registry renders (prom-client calls it for the text format; `get()` builds on it). */
  async getForPromString() {
    const { name, help, buckets: bounds } = DURATION_HISTOGRAMS[this.metric];
    const values: Sample[] = [];
    for (const series of await readDurationHistogram(this.pool, this.metric)) {
      const perBound = bounds.map(() => 0);
      for (const [bound, count] of series.buckets) {
        const index = bounds.findIndex((b) => bound <= b);
        if (index >= 0) perBound[index]! += count;
      }
      let cumulative = 0;
      bounds.forEach((bound, i) => {
        cumulative += perBound[i]!;
        values.push({ metricName: `${name}_bucket`, labels: { le: bound }, sharedLabels: series.labels, value: cumulative });
      });
      values.push(
        { metricName: `${name}_bucket`, labels: { le: '+Inf' }, sharedLabels: series.labels, value: series.count },
        { metricName: `${name}_sum`, labels: {}, sharedLabels: series.labels, value: series.sumSeconds },
        { metricName: `${name}_count`, labels: {}, sharedLabels: series.labels, value: series.count },
      );
    }
    return { name, help, type: 'histogram', values, aggregator: 'sum' };
  }
}

/**
 * Creates the metrics on a registry of their own (so several apps in one process do not
 * collide). Promotions by status and pending promotions by gate are counted by Temporal
 * visibility queries at scrape time; the duration histograms are read from what the workers
 * recorded in PostgreSQL; submissions and request durations are this process's own.
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
  for (const metric of DURATION_METRICS) new RecordedHistogram(metric, deps.pool, registry);
  const submitted = new Counter({ name: 'modelgate_promotions_submitted_total', help: 'Promotions started through this API process', registers: [registry] });
  const requests = new Histogram({
    name: 'modelgate_api_request_duration_seconds',
    help: 'HTTP requests of the API, by method, route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  return {
    registry,
    promotionSubmitted: () => submitted.inc(),
    observeRequest(method, route, status, seconds) {
      requests.observe({ method, route, status: String(status) }, seconds);
    },
  };
}

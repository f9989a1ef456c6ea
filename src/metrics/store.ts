// PostgreSQL side of the duration metrics: observations recorded once each, and counted per
// histogram series and bucket as they arrive, so that a scrape reads a bounded number of rows.
import type { Pool, PoolClient } from 'pg';
import { bucketOf, DURATION_HISTOGRAMS, type DurationMetric, type DurationObservation } from './durations';

/**
 * Records observations; one already recorded (same metric and observation key) is skipped,
 * also when two processes record it at once. The bucket counts grow in the same statement.
 *
 * @returns how many observations were new.
 */
export async function recordDurationObservations(db: Pool | PoolClient, observations: ReadonlyArray<DurationObservation>): Promise<number> {
  if (observations.length === 0) return 0;
  const column = <T>(pick: (o: DurationObservation) => T) => observations.map(pick);
  const result = await db.query<{ added: string }>(
    `WITH added AS (
       INSERT INTO metric_observations (metric, observation, labels, seconds, upper_bound, promotion_id, observed_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::float8[], $5::float8[], $6::text[], $7::timestamptz[])
       ON CONFLICT (metric, observation) DO NOTHING
       RETURNING metric, labels, seconds, upper_bound
     ), counted AS (
       INSERT INTO metric_histogram_buckets (metric, labels, upper_bound, count, sum_seconds)
       SELECT metric, labels, upper_bound, count(*), sum(seconds) FROM added GROUP BY metric, labels, upper_bound
       ON CONFLICT (metric, labels, upper_bound) DO UPDATE SET
         count = metric_histogram_buckets.count + EXCLUDED.count,
         sum_seconds = metric_histogram_buckets.sum_seconds + EXCLUDED.sum_seconds
     )
     SELECT count(*)::text AS added FROM added`,
    [
      column((o) => o.metric),
      column((o) => o.observation),
      column((o) => JSON.stringify(o.labels)),
      column((o) => o.seconds),
      column((o) => bucketOf(o.metric, o.seconds)),
      column((o) => o.promotionId),
      column((o) => o.observedAt),
    ],
  );
  return Number(result.rows[0]?.added ?? 0);
}

/** One series of a duration histogram, as stored: counts per bucket (not cumulative). */
export interface StoredHistogramSeries {
  labels: Record<string, string>;
  /** Observations per bucket upper bound (`Infinity` for above the last bound). */
  buckets: Map<number, number>;
  count: number;
  sumSeconds: number;
}

/** The stored series of one duration histogram: one row per series and bucket is read. */
export async function readDurationHistogram(pool: Pool, metric: DurationMetric): Promise<StoredHistogramSeries[]> {
  const { rows } = await pool.query<{ labels: Record<string, string>; upper_bound: number; count: string; sum_seconds: number }>(
    `SELECT labels, upper_bound, count::text AS count, sum_seconds FROM metric_histogram_buckets WHERE metric = $1`,
    [metric],
  );
  const series = new Map<string, StoredHistogramSeries>();
  for (const row of rows) {
    const key = JSON.stringify(row.labels);
    const s = series.get(key) ?? { labels: row.labels, buckets: new Map<number, number>(), count: 0, sumSeconds: 0 };
    series.set(key, s);
    const count = Number(row.count);
    s.buckets.set(row.upper_bound, (s.buckets.get(row.upper_bound) ?? 0) + count);
    s.count += count;
    s.sumSeconds += row.sum_seconds;
  }
  return [...series.values()];
}

/** The metric names recorded in PostgreSQL (the keys of {@link DURATION_HISTOGRAMS}). */
export const DURATION_METRICS = Object.keys(DURATION_HISTOGRAMS) as DurationMetric[];

-- Up Migration

-- Durations behind the histograms of /metrics, recorded by the workers from the record they keep:
-- each check run as it finishes, and each gate decision and the approval velocity of a promotion
-- from the timeline it archives when it closes. One row per observation; the key makes recording
-- idempotent (an activity retried records nothing twice).
CREATE TABLE metric_observations (
  metric       text NOT NULL,
  observation  text NOT NULL,
  labels       jsonb NOT NULL,
  seconds      double precision NOT NULL CHECK (seconds >= 0),
  upper_bound  double precision NOT NULL,
  promotion_id text NOT NULL,
  observed_at  timestamptz NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (metric, observation)
);

-- The same observations counted per histogram series (metric and labels) and bucket (its upper
-- bound, 'Infinity' above the last), grown in the statement that records them: a scrape reads one
-- row per series and bucket, however many promotions there were.
CREATE TABLE metric_histogram_buckets (
  metric       text NOT NULL,
  labels       jsonb NOT NULL,
  upper_bound  double precision NOT NULL,
  count        bigint NOT NULL,
  sum_seconds  double precision NOT NULL,
  PRIMARY KEY (metric, labels, upper_bound)
);

-- Down Migration
DROP TABLE metric_histogram_buckets;
DROP TABLE metric_observations;

-- Up Migration

-- The model registry (docs/operations.md): every model and version seen, and which version serves each environment.
CREATE TABLE models (
  name        text PRIMARY KEY,
  owner       text NOT NULL,
  description text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A version is immutable: one artifact digest per version, forever.
CREATE TABLE model_versions (
  model_name      text NOT NULL REFERENCES models(name),
  version         text NOT NULL,
  artifact_sha256 text NOT NULL CHECK (artifact_sha256 ~ '^[0-9a-f]{64}$'),
  artifact_uri    text NOT NULL,
  artifact_format text NOT NULL,
  risk_tier       text NOT NULL,
  metrics         jsonb NOT NULL DEFAULT '{}'::jsonb,
  lineage         jsonb NOT NULL DEFAULT '{}'::jsonb,
  first_promotion_id text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model_name, version)
);

-- Approval status of a version for an environment, as decided by a promotion.
CREATE TABLE version_approvals (
  model_name    text NOT NULL,
  version       text NOT NULL,
  environment   text NOT NULL,
  promotion_id  text NOT NULL,
  status        text NOT NULL,
  decided_by    text,
  policy_version text,
  evidence_digest text,
  valid_until   timestamptz,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model_name, version, environment),
  FOREIGN KEY (model_name, version) REFERENCES model_versions(model_name, version)
);

-- Which version serves each environment; history rows are kept (superseded, never deleted).
CREATE TABLE environment_deployments (
  id            bigserial PRIMARY KEY,
  model_name    text NOT NULL,
  environment   text NOT NULL,
  version       text NOT NULL,
  promotion_id  text NOT NULL,
  deployed_at   timestamptz NOT NULL DEFAULT now(),
  superseded_at timestamptz,
  superseded_by_promotion_id text,
  FOREIGN KEY (model_name, version) REFERENCES model_versions(model_name, version)
);
CREATE UNIQUE INDEX environment_deployments_current
  ON environment_deployments (model_name, environment) WHERE superseded_at IS NULL;
CREATE UNIQUE INDEX environment_deployments_by_promotion
  ON environment_deployments (promotion_id, environment);

-- The archived audit trail: append-only and hash-chained per promotion.
CREATE TABLE audit_events (
  promotion_id text NOT NULL,
  seq          integer NOT NULL CHECK (seq >= 1),
  occurred_at  timestamptz NOT NULL,
  actor        text NOT NULL,
  action       text NOT NULL,
  detail       jsonb NOT NULL DEFAULT '{}'::jsonb,
  prev_hash    text NOT NULL,
  hash         text NOT NULL,
  archived_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (promotion_id, seq)
);

CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_events_no_update_delete
  BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate
  BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- Every refused attempt (wrong role, self-approval, wrong state, bad token): who, when, what, why.
CREATE TABLE refused_attempts (
  id           bigserial PRIMARY KEY,
  occurred_at  timestamptz NOT NULL DEFAULT now(),
  actor        text,
  promotion_id text,
  action       text NOT NULL,
  status_code  integer,
  reason       text NOT NULL,
  detail       jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX refused_attempts_by_promotion ON refused_attempts (promotion_id, occurred_at);

-- Down Migration
DROP TABLE refused_attempts;
DROP TRIGGER audit_events_no_truncate ON audit_events;
DROP TRIGGER audit_events_no_update_delete ON audit_events;
DROP TABLE audit_events;
DROP FUNCTION audit_events_append_only();
DROP TABLE environment_deployments;
DROP TABLE version_approvals;
DROP TABLE model_versions;
DROP TABLE models;

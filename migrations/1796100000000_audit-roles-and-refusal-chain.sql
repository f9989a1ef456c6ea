-- Up Migration

-- The services (API, worker) connect as a member of modelgate_service; the migrations run as the
-- owner of the tables (docs/security.md#database-roles). The service role may only SELECT and
-- INSERT the audit tables, so it can neither edit nor delete a row, nor drop or disable a trigger,
-- nor alter a table. The role is cluster-wide; it is created here when the owner may create roles
-- (scripts/postgres.sh and docker-compose create it, with a login role, beforehand).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'modelgate_service') THEN
    BEGIN
      CREATE ROLE modelgate_service NOLOGIN;
    EXCEPTION
      WHEN duplicate_object OR unique_violation THEN NULL; -- created meanwhile for another database
      WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'the role modelgate_service does not exist and this role may not create it: CREATE ROLE modelgate_service NOLOGIN as a role that may, then migrate again';
    END;
  END IF;
END
$$;

GRANT SELECT ON modelgate_migrations TO modelgate_service;
GRANT SELECT, INSERT ON audit_events, refused_attempts TO modelgate_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON models, model_versions, version_approvals, environment_deployments,
  metric_observations, metric_histogram_buckets TO modelgate_service;
GRANT USAGE, SELECT ON SEQUENCE refused_attempts_id_seq, environment_deployments_id_seq TO modelgate_service;

-- Refused attempts are one hash chain (seq, prev_hash, hash), like a promotion's audit events,
-- and append-only. Rows logged before this migration have no link (seq NULL): verify counts them
-- apart. Every new row must be a link (the constraint holds for new rows only: NOT VALID).
ALTER TABLE refused_attempts ADD COLUMN seq bigint UNIQUE;
ALTER TABLE refused_attempts ADD COLUMN prev_hash text;
ALTER TABLE refused_attempts ADD COLUMN hash text;
ALTER TABLE refused_attempts ADD CONSTRAINT refused_attempts_chained
  CHECK (seq IS NOT NULL AND seq >= 1 AND prev_hash IS NOT NULL AND hash IS NOT NULL) NOT VALID;

CREATE FUNCTION refused_attempts_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'refused_attempts is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER refused_attempts_no_update_delete
  BEFORE UPDATE OR DELETE ON refused_attempts
  FOR EACH ROW EXECUTE FUNCTION refused_attempts_append_only();
CREATE TRIGGER refused_attempts_no_truncate
  BEFORE TRUNCATE ON refused_attempts
  FOR EACH STATEMENT EXECUTE FUNCTION refused_attempts_append_only();

-- Down Migration
DROP TRIGGER refused_attempts_no_truncate ON refused_attempts;
DROP TRIGGER refused_attempts_no_update_delete ON refused_attempts;
DROP FUNCTION refused_attempts_append_only();
ALTER TABLE refused_attempts DROP CONSTRAINT refused_attempts_chained;
ALTER TABLE refused_attempts DROP COLUMN hash;
ALTER TABLE refused_attempts DROP COLUMN prev_hash;
ALTER TABLE refused_attempts DROP COLUMN seq;
REVOKE ALL ON modelgate_migrations, audit_events, refused_attempts, models, model_versions, version_approvals,
  environment_deployments, metric_observations, metric_histogram_buckets FROM modelgate_service;
REVOKE ALL ON SEQUENCE refused_attempts_id_seq, environment_deployments_id_seq FROM modelgate_service;

// Models, their owners and their versions in PostgreSQL (`models`, `model_versions`).
import type { Pool } from 'pg';
import { inTransaction } from '../db/transaction';
import type { ClaimOutcome, Registration, RegistryReader, SubmissionRegistration, VersionClaims, VersionDigests } from './port';

/** The lookup as a prepared statement: PostgreSQL parses and plans it once per connection. */
const DIGEST_QUERY = {
  name: 'modelgate-version-digest',
  text: 'SELECT artifact_sha256 FROM model_versions WHERE model_name = $1 AND version = $2',
};

const OWNER_QUERY = { name: 'modelgate-model-owner', text: 'SELECT owner FROM models WHERE name = $1' };

/**
 * Reads registered digests from `model_versions`. A version's digest never changes once
 * registered (docs/api.md), so found digests are remembered (up to `cacheSize`, oldest
 * forgotten first) and asked again never; an unregistered version is asked every time,
 * because another process may register it at any moment.
 */
export function createVersionDigests(pool: Pool, cacheSize = 10_000): VersionDigests {
  const known = new Map<string, string>();
  return {
    async digestOf(model, version) {
      const key = `${model}@${version}`;
      const cached = known.get(key);
      if (cached) return cached;
      const { rows } = await pool.query<{ artifact_sha256: string }>({ ...DIGEST_QUERY, values: [model, version] });
      const digest = rows[0]?.artifact_sha256;
      if (digest) {
        if (known.size >= cacheSize) known.delete(known.keys().next().value!);
        known.set(key, digest);
      }
      return digest;
    },
    async ownerOf(model) {
      const { rows } = await pool.query<{ owner: string }>({ ...OWNER_QUERY, values: [model] });
      return rows[0]?.owner;
    },
  };
}

/** The owner and the version's digest in one statement (a version's model always exists: foreign key). */
const REGISTRATION_QUERY = {
  name: 'modelgate-submission-registration',
  text: 'SELECT m.owner, v.artifact_sha256 FROM models m LEFT JOIN model_versions v ON v.model_name = m.name AND v.version = $2 WHERE m.name = $1',
};

/**
 * {@link SubmissionRegistration} over `models` and `model_versions`: the digest and the owner a
 * submission checks, in one round trip to PostgreSQL (a prepared statement).
 */
export function createSubmissionRegistration(pool: Pool): SubmissionRegistration {
  return {
    async registrationOf(model, version): Promise<Registration> {
      const { rows } = await pool.query<{ owner: string; artifact_sha256: string | null }>({ ...REGISTRATION_QUERY, values: [model, version] });
      const row = rows[0];
      return { ...(row?.owner ? { owner: row.owner } : {}), ...(row?.artifact_sha256 ? { digest: row.artifact_sha256 } : {}) };
    },
  };
}

/** A conflict found inside the claim's transaction: thrown so that it rolls back, then returned. */
class ClaimRefused extends Error {
  constructor(readonly outcome: Exclude<ClaimOutcome, { status: 'claimed' }>) {
    super(outcome.status);
  }
}

/** {@link VersionClaims} over `models` and `model_versions`. */
export function createPgVersionClaims(pool: Pool): VersionClaims {
  return {
    async claimVersion({ promotionId, manifest, effectiveTier }) {
      try {
        return await inTransaction(pool, async (client): Promise<ClaimOutcome> => {
          await client.query(
            `INSERT INTO models (name, owner, description) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO NOTHING`,
            [manifest.model.name, manifest.model.owner, manifest.model.description],
          );
          const model = await client.query<{ owner: string }>('SELECT owner FROM models WHERE name = $1 FOR SHARE', [manifest.model.name]);
          const owner = model.rows[0]!.owner;
          if (owner !== manifest.model.owner) throw new ClaimRefused({ status: 'owner_conflict', registeredOwner: owner });
          // A models:/ artifact's digest is pinned before any claim; a claim without one is refused.
          if (manifest.artifact.sha256 === undefined) throw new ClaimRefused({ status: 'digest_conflict', registeredDigest: undefined });
          const inserted = await client.query(
            `INSERT INTO model_versions (model_name, version, artifact_sha256, artifact_uri, artifact_format, risk_tier, metrics, lineage, first_promotion_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (model_name, version) DO NOTHING
             RETURNING version`,
            [
              manifest.model.name,
              manifest.model.version,
              manifest.artifact.sha256,
              manifest.artifact.uri,
              manifest.artifact.format,
              effectiveTier,
              JSON.stringify(manifest.metrics),
              JSON.stringify(manifest.lineage),
              promotionId,
            ],
          );
          if (inserted.rowCount === 0) {
            const existing = await client.query<{ artifact_sha256: string }>(DIGEST_QUERY.text, [manifest.model.name, manifest.model.version]);
            if (existing.rows[0]?.artifact_sha256 !== manifest.artifact.sha256) {
              throw new ClaimRefused({ status: 'digest_conflict', registeredDigest: existing.rows[0]?.artifact_sha256 });
            }
          }
          return { status: 'claimed', owner };
        });
      } catch (err) {
        if (err instanceof ClaimRefused) return err.outcome;
        throw err;
      }
    },
  };
}

/** `findVersion` of {@link RegistryReader} over `model_versions`. */
export function createPgVersionReader(pool: Pool): Pick<RegistryReader, 'findVersion'> {
  return {
    async findVersion(model, version) {
      const { rows } = await pool.query<{ artifact_sha256: string; metrics: Record<string, unknown> }>(
        'SELECT artifact_sha256, metrics FROM model_versions WHERE model_name = $1 AND version = $2',
        [model, version],
      );
      const row = rows[0];
      return row ? { sha256: row.artifact_sha256, metrics: row.metrics ?? {} } : undefined;
    },
  };
}

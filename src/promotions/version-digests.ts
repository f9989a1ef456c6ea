import type { Pool } from 'pg';

/** The registry's answers to "which artifact digest does this model version have?" and "who owns this model?". */
export interface VersionDigests {
  /** The digest `model@version` is registered with, or `undefined` when it was never registered. */
  digestOf(model: string, version: string): Promise<string | undefined>;
  /** The registered owner of `model`, or `undefined` when it was never registered (asked every time: an admin may change it). */
  ownerOf(model: string): Promise<string | undefined>;
}

/** The lookup as a prepared statement: PostgreSQL parses and plans it once per connection. */
const DIGEST_QUERY = {
  name: 'modelgate-version-digest',
  text: 'SELECT artifact_sha256 FROM model_versions WHERE model_name = $1 AND version = $2',
};

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

const OWNER_QUERY = { name: 'modelgate-model-owner', text: 'SELECT owner FROM models WHERE name = $1' };

/**
 * What a submission or the version claim says when a manifest names another owner than the
 * registered one (the owners are public: `GET /v1/models` lists them).
 */
export function modelOwnerConflictMessage(model: string, registeredOwner: string, claimedOwner: string): string {
  return `model ${model} is registered to owner ${registeredOwner}, not ${claimedOwner}; a manifest cannot change a model's owner (an admin can: PUT /v1/models/${model}/owner)`;
}

/** What a submission or the `registerSubmission` activity says when a version's digest would change. */
export function versionDigestConflictMessage(model: string, version: string, registeredDigest: string): string {
  return `${model}@${version} is registered with digest ${registeredDigest}; a version's artifact never changes (submit a new version)`;
}

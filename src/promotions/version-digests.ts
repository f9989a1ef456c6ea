import type { Pool } from 'pg';

/** The registry's answer to "which artifact digest does this model version have?". */
export interface VersionDigests {
  /** The digest `model@version` is registered with, or `undefined` when it was never registered. */
  digestOf(model: string, version: string): Promise<string | undefined>;
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
  };
}

/** What a submission or the `registerSubmission` activity says when a version's digest would change. */
export function versionDigestConflictMessage(model: string, version: string, registeredDigest: string): string {
  return `${model}@${version} is registered with digest ${registeredDigest}; a version's artifact never changes (submit a new version)`;
}

// The built-in registry: PostgreSQL.
import type { Pool } from 'pg';
import { createPgApprovals } from './approvals';
import { createPgEnvironmentDeployments } from './environments';
import { createPgModelCatalog } from './models';
import type { Registry } from './port';
import { createPgVersionClaims, createPgVersionReader, createVersionDigests } from './versions';

/**
 * The built-in {@link Registry}: PostgreSQL's `models`, `model_versions`, `version_approvals` and
 * `environment_deployments` (migrations/). Found version digests are cached per registry (see
 * {@link createVersionDigests}).
 */
export function createPgRegistry(pool: Pool): Registry {
  return {
    ...createVersionDigests(pool),
    ...createPgVersionReader(pool),
    ...createPgVersionClaims(pool),
    ...createPgModelCatalog(pool),
    ...createPgApprovals(pool),
    ...createPgEnvironmentDeployments(pool),
  };
}

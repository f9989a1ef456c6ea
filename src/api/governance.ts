// `GET /v1/governance`: the governance picture of the dashboard (README "Dashboard").
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { Client } from '@temporalio/client';
import { Router } from 'express';
import type { Pool } from 'pg';
import { countPromotionsByStatus, readArchivedGovernanceEvents } from '../governance/sources';
import { computeArchiveStats } from '../governance/stats';
import { type GovernanceStats, GovernanceQuerySchema, GovernanceStatsSchema } from './dashboard-schemas';
import { BEARER, errorResponses, json, named } from './openapi-parts';
import { parseInput } from './request';

/** How long the counts by status are reused: each is a visibility query, which Temporal rate-limits per namespace. */
export const STATUS_COUNTS_MAX_AGE_MS = 5_000;
/** How long the archive figures are reused: they change only when a promotion closes, and computing them reads the period's archive. */
export const ARCHIVE_FIGURES_MAX_AGE_MS = 15_000;

/**
 * Remembers `compute(key)` for `maxAgeMs` (a computation under way is shared, a failed one is
 * forgotten at once), so that many polling dashboards cost one computation per period.
 */
function reusedFor<K, V>(maxAgeMs: number, compute: (key: K, now: Date) => Promise<V>): (key: K, now: Date) => Promise<V> {
  const recent = new Map<K, { at: number; value: Promise<V> }>();
  return (key, now) => {
    const known = recent.get(key);
    if (known && now.getTime() - known.at < maxAgeMs) return known.value;
    const value = compute(key, now);
    recent.set(key, { at: now.getTime(), value });
    value.catch(() => recent.delete(key));
    return value;
  };
}

/**
 * Builds `GET /v1/governance`. The counts by status are reused for up to
 * {@link STATUS_COUNTS_MAX_AGE_MS} and the archive figures of a period for up to
 * {@link ARCHIVE_FIGURES_MAX_AGE_MS}, however many dashboards poll.
 */
export function governanceRoutes(deps: { client: Client; pool: Pool; now?: () => Date }): Router {
  const router = Router();
  const statusCounts = reusedFor(STATUS_COUNTS_MAX_AGE_MS, () => countPromotionsByStatus(deps.client));
  const archiveFigures = reusedFor(ARCHIVE_FIGURES_MAX_AGE_MS, async (days: number, now): Promise<GovernanceStats['archive']> => {
    const since = new Date(now.getTime() - days * 86_400_000);
    const events = await readArchivedGovernanceEvents(deps.pool, since);
    return { days, since: since.toISOString(), computedAt: now.toISOString(), ...computeArchiveStats(events, { since }) };
  });

  router.get('/', async (req, res) => {
    const { days } = parseInput(GovernanceQuerySchema, req.query, 'query');
    const now = deps.now?.() ?? new Date();
    const [promotionsByStatus, archive] = await Promise.all([statusCounts('all', now), archiveFigures(days, now)]);
    const body: GovernanceStats = { generatedAt: now.toISOString(), promotionsByStatus, archive };
    res.json(body);
  });
  return router;
}

/** Registers `GET /v1/governance` in the OpenAPI document. */
export function registerGovernancePaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'get',
    path: '/v1/governance',
    summary: 'Governance figures: promotions by status (Temporal visibility); decision times, failing checks and rejection reasons (audit archive)',
    security: BEARER,
    request: { query: GovernanceQuerySchema },
    responses: { 200: { description: 'the figures', content: json(named(registry, 'GovernanceStats', GovernanceStatsSchema)) }, ...errorResponses() },
  });
}

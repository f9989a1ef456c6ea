// `GET /v1/governance`: the governance picture of the dashboard (README "Dashboard").
import type { Client } from '@temporalio/client';
import { Router } from 'express';
import type { Pool } from 'pg';
import { countPromotionsByStatus, readArchivedGovernanceEvents } from '../governance/sources';
import { computeArchiveStats } from '../governance/stats';
import { type GovernanceStats, GovernanceQuerySchema } from './dashboard-schemas';
import { parseInput } from './promotions';

/** Builds `GET /v1/governance`. */
export function governanceRoutes(deps: { client: Client; pool: Pool; now?: () => Date }): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    const { days } = parseInput(GovernanceQuerySchema, req.query, 'query');
    const now = deps.now?.() ?? new Date();
    const since = new Date(now.getTime() - days * 86_400_000);
    const [promotionsByStatus, events] = await Promise.all([countPromotionsByStatus(deps.client), readArchivedGovernanceEvents(deps.pool, since)]);
    const body: GovernanceStats = {
      generatedAt: now.toISOString(),
      promotionsByStatus,
      archive: { days, since: since.toISOString(), ...computeArchiveStats(events) },
    };
    res.json(body);
  });
  return router;
}

// Types of the API's answers, taken from the server's own schemas and state types (types only:
// nothing of the server is bundled).
import type { z } from 'zod';
import type { GovernanceStatsSchema, MeSchema, ReviewQueueSchema } from '../../src/api/dashboard-schemas';
import type { AuditTimelineSchema, MessageResultSchema, PromotionListSchema } from '../../src/api/schemas';
import type { Policy } from '../../src/policy/schema';
import type { PromotionState } from '../../src/shared/promotion';

export type { Actor, GateState, PromotionState, PromotionStatus, StageState } from '../../src/shared/promotion';
export type { CheckResult } from '../../src/shared/checks';

export type Me = z.infer<typeof MeSchema>;
export type ReviewQueue = z.infer<typeof ReviewQueueSchema>;
export type QueueEntry = ReviewQueue['entries'][number];
export type GovernanceStats = z.infer<typeof GovernanceStatsSchema>;
export type PromotionList = z.infer<typeof PromotionListSchema>;
export type PromotionSummary = PromotionList['promotions'][number];
export type AuditTimeline = z.infer<typeof AuditTimelineSchema>;
export type MessageResult = z.infer<typeof MessageResultSchema>;

/** `GET /v1/promotions/{id}`: the state with links. */
export type PromotionDetail = PromotionState & { links: { self: string; audit: string; temporalUi: string } };

/** `GET /v1/policies`. */
export interface PolicyList {
  policies: Array<{ name: string; version: string; digest: string; environments: string[]; policy: Policy }>;
}

/** `GET /ui/dev-users`. */
export interface DevUserList {
  users: Array<{ id: string; roles: string[]; description: string }>;
}

/** Every lifecycle status, in lifecycle order (a constant of the workflow-safe shared module, bundled). */
export { PROMOTION_STATUSES } from '../../src/shared/promotion';

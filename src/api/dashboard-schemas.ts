// Schemas of the endpoints the reviewer dashboard reads besides the promotion routes:
// `GET /v1/me`, `GET /v1/review-queue` and `GET /v1/governance`. They describe the answers in
// the OpenAPI document and type the dashboard's code (which imports types only).
import { z } from 'zod';
import { PROMOTION_STATUSES } from '../shared/promotion';

/** At most this many promotions are read for one review queue. */
export const REVIEW_QUEUE_LIMIT = 200;

/** Body of `GET /v1/me`. */
export const MeSchema = z.object({
  id: z.string(),
  roles: z.array(z.string()),
  /** Why the caller's token gives no role (no roles claim, no group mapped), when that is so. */
  rolesProblem: z.string().optional(),
});

const QueueGateSchema = z.object({
  gate: z.string(),
  title: z.string(),
  stage: z.string(),
  quorum: z.number().int(),
  approvals: z.number().int().describe('valid approvals so far'),
  openedAt: z.string().optional(),
  slaAt: z.string().optional().describe('when the SLA passes (reminder and escalation)'),
  deadlineAt: z.string().optional().describe('hard deadline'),
  escalated: z.boolean(),
});

/** Body of `GET /v1/review-queue`. */
export const ReviewQueueSchema = z.object({
  entries: z
    .array(
      z.object({
        promotionId: z.string(),
        model: z.string(),
        version: z.string(),
        target: z.string(),
        riskTier: z.string(),
        submitter: z.string(),
        submittedAt: z.string(),
        expedited: z.boolean(),
        gates: z.array(QueueGateSchema).describe('open gates the caller may sign now'),
        dueAt: z.string().optional().describe("the earliest hard deadline of those gates, else their earliest SLA"),
      }),
    )
    .describe('nearest deadline first; promotions without a deadline last'),
  truncated: z.boolean().describe(`true when more than ${REVIEW_QUEUE_LIMIT} promotions wait on the caller's roles`),
  unreadable: z.array(z.string()).describe('promotions listed by visibility whose review summary was malformed or whose state could not be read just now'),
});

/** Query of `GET /v1/governance`. */
export const GovernanceQuerySchema = z
  .object({
    days: z.coerce
      .number()
      .int()
      .min(1)
      .max(3650)
      .default(90)
      .describe('the archive figures cover promotions submitted in the last `days` days (default 90)'),
  })
  .strict();

const durations = {
  count: z.number().int().describe('how many durations the figures are computed from'),
  medianSeconds: z.number(),
  p90Seconds: z.number(),
};

/** Body of `GET /v1/governance`. */
export const GovernanceStatsSchema = z.object({
  generatedAt: z.string(),
  promotionsByStatus: z
    .array(z.object({ status: z.enum(PROMOTION_STATUSES), count: z.number().int() }))
    .describe('every promotion Temporal visibility holds (running, and closed ones within the namespace retention), by PromotionStatus'),
  archive: z
    .object({
      days: z.number().int(),
      since: z.string(),
      computedAt: z.string().describe('when these figures were computed (they are reused for up to 15 s)'),
      promotions: z.number().int().describe('closed promotions archived in audit_events, submitted since `since`'),
      outcomes: z.array(z.object({ status: z.string(), count: z.number().int() })),
      timeToDecisionByTier: z
        .array(z.object({ tier: z.string(), ...durations, approved: z.number().int(), rejected: z.number().int() }))
        .describe('submission → approved, auto-approved or rejected, by effective risk tier'),
      timeToDecisionByGate: z
        .array(
          z.object({
            gate: z.string(),
            ...durations,
            approvals: z.number().int(),
            rejections: z.number().int(),
            changeRequests: z.number().int(),
          }),
        )
        .describe('gate opened → each reviewer decision on it'),
      failingChecks: z
        .array(z.object({ check: z.string(), failed: z.number().int(), errored: z.number().int(), promotions: z.number().int() }))
        .describe('check runs that failed or could not run, most frequent first'),
      rejectionReasons: z
        .array(
          z.object({
            kind: z.enum(['reviewer', 'deadline', 'other']),
            reason: z.string(),
            count: z.number().int(),
            gates: z.array(z.string()),
            lastAt: z.string(),
          }),
        )
        .describe('why promotions were rejected, most frequent first (at most 10)'),
    })
    .describe('figures from the archived audit timelines of closed promotions'),
});

/** The body of `GET /v1/governance`. */
export type GovernanceStats = z.infer<typeof GovernanceStatsSchema>;


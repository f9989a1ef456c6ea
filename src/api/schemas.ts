// Request schemas of the HTTP API. The same zod objects validate requests and generate
// the OpenAPI document (src/api/openapi.ts), so the two cannot drift apart. The bodies of the
// promotion's messages are the message table's (src/shared/message-table.ts).
import { z } from 'zod';
import { RISK_TIERS } from '../manifest/schema';
import { MESSAGE_KINDS } from '../shared/message-table';
import { PROMOTION_STATUSES } from '../shared/promotion';
import { API_ERROR_CODES } from './errors';

/** Optional idempotency key of a message; the `Idempotency-Key` header works too. */
const requestId = z.string().min(1).max(200).optional().describe('idempotency key; a repeat returns the first result');
const name = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@/+-]*$/, 'must be letters, digits and . _ : @ / + -');

/** Query of `POST /v1/promotions`: which policy governs the promotion. */
export const SubmitPromotionQuerySchema = z.object({
  policy: name.optional().describe('name of the policy in POLICY_DIR; default `default`'),
});

/** Query of `GET /v1/promotions`. */
export const ListPromotionsQuerySchema = z
  .object({
    status: z.enum(PROMOTION_STATUSES).optional(),
    model: name.optional(),
    target: name.optional(),
    tier: z.enum(RISK_TIERS).optional().describe('effective risk tier'),
    pendingFor: z.literal('me').optional().describe("`me`: promotions waiting on a gate one of the caller's roles may decide"),
    pageSize: z.coerce.number().int().min(1).max(500).default(50),
    pageToken: z.string().max(10_000).optional().describe('`nextPageToken` of the previous page'),
  })
  .strict();

/** Query of `GET /v1/promotions/{id}/audit`. */
export const AuditQuerySchema = z
  .object({
    format: z.enum(['json', 'jsonl']).default('json'),
    source: z
      .enum(['auto', 'temporal', 'archive'])
      .default('auto')
      .describe('auto: Temporal while it has the history, else the archive; archive: the hash-chained rows'),
  })
  .strict();

/** Query of `GET /v1/models`. */
export const ListModelsQuerySchema = z
  .object({
    pageSize: z.coerce.number().int().min(1).max(500).default(100),
    after: name.optional().describe('return models whose name sorts after this one'),
  })
  .strict();

/** Path parameter `{id}`: a promotion id such as `promote:fraud:1.2.0:production`. */
export const PromotionIdSchema = z.string().min(1).max(1000);

/** Path parameter `{name}` of a model. */
export const ModelNameSchema = name;

/** The error shape of every failed request (docs/api.md#errors). */
export const ErrorResponseSchema = z.object({
  error: z.object({
    code: z.enum(API_ERROR_CODES),
    message: z.string(),
    details: z
      .object({ problems: z.array(z.object({ path: z.string(), message: z.string() })).optional() })
      .catchall(z.unknown())
      .optional()
      .describe('`problems`: each field path and what is wrong with it'),
  }),
});

/** Body of `GET /healthz`. */
export const HealthSchema = z.object({ status: z.literal('ok') });

/** Body of `GET /readyz`: each dependency `ok` or why not; an `error` when one does not answer (503). */
export const ReadinessSchema = z.object({
  status: z.enum(['ready', 'not ready']),
  checks: z.record(z.string(), z.string()),
  error: z.object({ code: z.literal('not_ready'), message: z.string() }).optional(),
});

/** Body of `GET /v1/promotions/{id}`: the workflow's whole state (`src/shared/promotion.ts`) and links. */
export const PromotionStateResponseSchema = z
  .object({
    promotionId: z.string(),
    status: z.enum(PROMOTION_STATUSES),
    submitter: z.object({ id: z.string(), roles: z.array(z.string()) }),
    submittedAt: z.string(),
    policy: z.object({ name: z.string(), version: z.string(), digest: z.string() }),
    checks: z.array(z.record(z.string(), z.unknown())),
    stages: z.array(z.record(z.string(), z.unknown())),
    timeline: z.array(z.record(z.string(), z.unknown())),
    links: z.object({ self: z.string(), audit: z.string(), temporalUi: z.string() }),
  })
  .catchall(z.unknown());

/** A page of `GET /v1/models`. */
export const ModelListSchema = z.object({
  models: z.array(
    z.object({
      name: z.string(),
      owner: z.string(),
      description: z.string(),
      versions: z.number().int(),
      serving: z.record(z.string(), z.string()).describe('environment → version serving it'),
      updatedAt: z.string(),
    }),
  ),
  nextAfter: z.string().optional().describe('pass as `after` for the next page'),
});

/** Body of `GET /v1/models/{name}`. */
export const ModelDetailSchema = z.object({
  name: z.string(),
  owner: z.string(),
  description: z.string(),
  createdAt: z.string(),
  versions: z.array(
    z.object({
      version: z.string(),
      artifact: z.object({ sha256: z.string(), uri: z.string(), format: z.string() }),
      riskTier: z.string(),
      metrics: z.record(z.string(), z.number()),
      firstPromotionId: z.string(),
      createdAt: z.string(),
      approvals: z.array(z.record(z.string(), z.unknown())),
    }),
  ),
  serving: z.record(z.string(), z.string()),
  deployments: z.array(
    z.object({ environment: z.string(), version: z.string(), promotionId: z.string(), deployedAt: z.string(), supersededAt: z.string().optional() }),
  ),
});

/** Body of `GET /v1/policies`. */
export const PolicyListSchema = z.object({
  policies: z.array(
    z.object({
      name: z.string(),
      version: z.string(),
      digest: z.string(),
      environments: z.array(z.string()),
      policy: z.record(z.string(), z.unknown()).describe('the whole policy as loaded (src/policy/schema.ts)'),
    }),
  ),
});

/** Body of the answer to an accepted message. */
export const MessageResultSchema = z.object({
  promotionId: z.string(),
  requestId: z.string(),
  message: z.enum(MESSAGE_KINDS),
  status: z.enum(PROMOTION_STATUSES),
  summary: z.string(),
});

/** Body of the answer to a submission. */
export const SubmittedPromotionSchema = z.object({
  promotionId: z.string(),
  runId: z.string(),
  existing: z.boolean().describe('true when an identical submission was already running'),
  status: z.enum(PROMOTION_STATUSES),
  links: z.object({ self: z.string(), audit: z.string(), temporalUi: z.string() }),
});

/**
 * Body of `GET /v1/promotions/{id}` for a promotion Temporal no longer holds (past the
 * namespace's retention): what its archived audit trail tells (`summarizeArchivedPromotion`).
 */
export const ArchivedPromotionSchema = z.object({
  promotionId: z.string(),
  source: z.literal('archive'),
  status: z.union([z.enum(PROMOTION_STATUSES), z.literal('UNKNOWN')]).describe('the status it ended in; UNKNOWN when the trail has no closing event'),
  submitter: z.object({ id: z.string() }),
  submittedAt: z.string(),
  policy: z.object({ name: z.string(), version: z.string(), digest: z.string().optional() }).optional(),
  declaredTier: z.string().optional(),
  effectiveTier: z.string().optional(),
  tierReasons: z.array(z.string()).optional(),
  outcome: z.object({ status: z.enum(PROMOTION_STATUSES), at: z.string(), by: z.string(), reason: z.string() }).optional(),
  archivedEvents: z.number().int().describe('events in the archive; `GET …/audit` lists them'),
  links: z.object({ self: z.string(), audit: z.string() }),
});

/** One promotion in a list. */
export const PromotionSummarySchema = z.object({
  promotionId: z.string(),
  model: z.string().optional(),
  version: z.string().optional(),
  target: z.string().optional(),
  riskTier: z.string().optional(),
  status: z.string().optional(),
  submitter: z.string().optional(),
  pendingGates: z.array(z.string()),
  pendingRoles: z.array(z.string()),
  startedAt: z.string().optional(),
  closedAt: z.string().optional(),
});

/** A page of promotions. */
export const PromotionListSchema = z.object({
  promotions: z.array(PromotionSummarySchema),
  nextPageToken: z.string().optional(),
  query: z.string().describe('the Temporal visibility query that selected them'),
});

/** One event of an audit timeline. */
export const AuditEventSchema = z.object({
  seq: z.number().int().optional(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  gate: z.string().optional(),
  decision: z.string().optional(),
  comment: z.string().optional(),
  evidenceDigest: z.string().optional(),
  policyVersion: z.string(),
  /** `signal`: the message came as a Temporal Signal from an operator, not through the API. */
  via: z.enum(['signal']).optional(),
  /** For `via: signal`, the identity the caller's Temporal client declared, as Temporal recorded it. */
  temporalIdentity: z.string().optional(),
  detail: z.record(z.string(), z.unknown()).optional(),
  source: z.enum(['workflow', 'refusal']),
  prevHash: z.string().optional(),
  hash: z.string().optional(),
});

/** A promotion's audit timeline. */
export const AuditTimelineSchema = z.object({
  promotionId: z.string(),
  source: z.enum(['temporal', 'archive']),
  events: z.array(AuditEventSchema),
});

/** Body of `PUT /v1/models/{name}/owner` (admins only). */
export const ChangeOwnerRequestSchema = z
  .object({
    owner: z
      .string()
      .trim()
      .min(1, 'must name the new owner')
      .max(200)
      // eslint-disable-next-line no-control-regex -- the point is to refuse control characters (PostgreSQL refuses NUL)
      .regex(/^[^\x00-\x1f\x7f-\x9f]+$/, 'must not contain control characters')
      .describe('the new owner (excluded from deciding on the model)'),
    reason: z
      .string()
      .trim()
      .min(10, 'must explain the change in at least 10 characters')
      .max(2000)
      // eslint-disable-next-line no-control-regex -- PostgreSQL refuses NUL in text
      .regex(/^[^\x00]*$/, 'must not contain NUL characters')
      .describe('why (recorded in the audit archive)'),
  })
  .strict();

/** Body of `POST /v1/models/{name}/environments/{env}/rollback`. */
export const RollbackRequestSchema = z
  .object({
    justification: z.string().trim().min(1).max(10_000).describe('why (recorded in the audit; a rollback is break-glass)'),
    toVersion: z.string().min(1).max(200).optional().describe('an earlier version; default: the most recent earlier one whose approval is still valid'),
    requestId,
  })
  .strict();

/** Body of `POST /v1/models/{name}/environments/{env}/drift`. */
export const DriftReportSchema = z
  .object({
    reason: z.string().trim().min(1).max(10_000).describe('what monitoring saw, e.g. "PSI 0.31 on feature amount"'),
    requestId,
  })
  .strict();

/** Body of `POST /v1/policies/{name}/recertify`. */
export const PolicyRecertificationRequestSchema = z
  .object({ reason: z.string().trim().min(1).max(10_000).describe('why the policy change requires re-certification') })
  .strict();

/** Body of `POST /v1/promotions/{id}/deployment` (an asynchronous deployer's report, HMAC-signed). */
export const DeploymentReportSchema = z
  .object({
    deploymentId: z.string().min(1).max(1000),
    status: z.enum(['succeeded', 'failed']),
    detail: z.string().max(10_000).optional(),
    reference: z.string().max(1000).optional(),
  })
  .strict();

/** Answer of a rollback. */
export const RollbackResultSchema = z.object({
  rollbackId: z.string(),
  fromVersion: z.string(),
  toVersion: z.string(),
  status: z.enum(['rolled_back', 'failed', 'in_progress']),
  detail: z.string(),
});

/** Answer of a re-certification request. */
export const RecertificationStartedSchema = z.object({ promotionId: z.string(), environment: z.string(), model: z.string() });

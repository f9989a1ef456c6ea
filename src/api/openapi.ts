// The OpenAPI document of the HTTP API, generated from the zod schemas that validate requests.
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { ManifestRevisionSchema, PromotionManifestSchema } from '../manifest/schema';
import {
  ArchivedPromotionSchema,
  AuditQuerySchema,
  AuditTimelineSchema,
  DecisionRequestSchema,
  ErrorResponseSchema,
  ExpediteRequestSchema,
  HealthSchema,
  ListModelsQuerySchema,
  ListPromotionsQuerySchema,
  MessageResultSchema,
  ModelDetailSchema,
  ModelListSchema,
  ModelNameSchema,
  OverrideRequestSchema,
  PolicyListSchema,
  PromotionIdSchema,
  PromotionListSchema,
  PromotionStateResponseSchema,
  ReadinessSchema,
  RevisionRequestSchema,
  SubmitPromotionQuerySchema,
  SubmittedPromotionSchema,
  WithdrawRequestSchema,
  RollbackRequestSchema,
  ChangeOwnerRequestSchema,
  RollbackResultSchema,
  DriftReportSchema,
  RecertificationStartedSchema,
  PolicyRecertificationRequestSchema,
  DeploymentReportSchema,
} from './schemas';
import { GovernanceQuerySchema, GovernanceStatsSchema, MeSchema, ReviewQueueSchema } from './dashboard-schemas';

type Responses = Record<string, { description: string; content?: Record<string, { schema: z.ZodType }> }>;

/** Builds the OpenAPI 3.1 document of `/v1` (served at `/openapi.json`). */
export function buildOpenApiDocument(options: { version: string; serverUrl?: string }) {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  // Named components through zod's own metadata (`.meta({ id })`), which the generator reads;
  // the shared schemas themselves stay untouched.
  const named = <S extends z.ZodType>(id: string, schema: S): S => {
    const withId = schema.meta({ id }) as S;
    registry.definitions.push({ type: 'schema', schema: withId });
    return withId;
  };
  const manifest = named('PromotionManifest', PromotionManifestSchema);
  named('ManifestRevision', ManifestRevisionSchema);
  const error = named('Error', ErrorResponseSchema);
  const messageResult = named('MessageResult', MessageResultSchema);
  const audit = named('AuditTimeline', AuditTimelineSchema);
  const archived = named('ArchivedPromotion', ArchivedPromotionSchema);
  const liveState = PromotionStateResponseSchema.extend({ source: z.literal('temporal') }).describe(
    "the whole state, as the promotion's `state` query (or, once completed, its result) gives it",
  );

  const json = (schema: z.ZodType) => ({ 'application/json': { schema } });
  const errorDescriptions: Record<number, string> = {
    400: 'invalid input (body, query or path); `details.problems` names each field path',
    401: 'missing, expired or wrongly signed bearer token',
    403: 'the caller lacks a role, or separation of duties forbids it',
    404: 'no such promotion or model',
    409: 'the promotion is not in a state that accepts this, or the version exists with another digest',
    413: 'the body is larger than the limit (1 MB)',
    415: 'the body is not `application/json` (or has an unsupported charset or encoding)',
    422: 'valid, but refused by the policy',
    429: 'too many refused requests (bearer tokens, deployer reports) from this address in a minute; retry after the `Retry-After` seconds',
    431: 'the request line and headers are larger than 64 KiB',
    500: 'internal error; logged, the answer carries no detail',
    503: 'Temporal or PostgreSQL is unreachable or overloaded for a moment; retry after the `Retry-After` seconds',
  };
  // Every /v1 operation can answer 400 (a query, path or body that does not parse), 401, 429
  // (after too many refused tokens, src/api/rate-limits.ts), 431 (a request line and headers over
  // 64 KiB, see src/api/http-server.ts), 500 and 503.
  const errors = (...codes: number[]): Responses =>
    Object.fromEntries(
      [...new Set([400, 401, 429, 431, ...codes, 500, 503])]
        .sort((a, b) => a - b)
        .map((code) => [String(code), { description: errorDescriptions[code]!, content: json(error) }]),
    );
  /** Errors of an operation with a JSON body. */
  const bodyErrors = (...codes: number[]) => errors(413, 415, ...codes);
  const idParam = z.object({ id: PromotionIdSchema.describe('promotion id, e.g. `promote:fraud:1.2.0:production` (URL-encoded)') });
  const message = (path: string, summary: string, body: z.ZodObject) =>
    registry.registerPath({
      method: 'post',
      path: `/v1/promotions/{id}/${path}`,
      summary,
      security: [{ bearer: [] }],
      request: { params: idParam, body: { required: true, content: json(body) } },
      responses: { 200: { description: 'accepted; the promotion state after it', content: json(messageResult) }, ...bodyErrors(403, 404, 409, 422) },
    });

  registry.registerPath({
    method: 'post',
    path: '/v1/promotions',
    summary: 'Submit a model version for promotion (the submitter is the caller)',
    security: [{ bearer: [] }],
    request: { query: SubmitPromotionQuerySchema, body: { required: true, content: json(manifest) } },
    responses: {
      201: { description: 'started', content: json(SubmittedPromotionSchema) },
      200: { description: 'an identical submission is already running; that promotion', content: json(SubmittedPromotionSchema) },
      ...bodyErrors(409, 422),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/promotions',
    summary: 'List promotions (Temporal visibility on the search attributes), paginated',
    security: [{ bearer: [] }],
    request: { query: ListPromotionsQuerySchema },
    responses: { 200: { description: 'a page', content: json(PromotionListSchema) }, ...errors() },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/promotions/{id}',
    summary: 'The whole current state of a promotion',
    security: [{ bearer: [] }],
    request: { params: idParam },
    responses: {
      200: {
        description:
          'the state (checks, stages, gates, approvals, deadlines, timeline; `source: temporal`); for a promotion Temporal no longer ' +
          'holds (past retention), the summary of its archived audit trail (`source: archive`, ArchivedPromotion)',
        content: json(z.union([liveState, archived])),
      },
      ...errors(404),
    },
  });
  message('decisions', 'Approve, reject or request changes on a gate', DecisionRequestSchema);
  message('overrides', 'Waive a failed check or force a gate (break-glass, with justification)', OverrideRequestSchema);
  message('expedite', 'Switch to the expedited SLAs', ExpediteRequestSchema);
  message('revisions', 'Revise the evidence after failed checks or requested changes', RevisionRequestSchema);
  message('withdraw', 'Withdraw the promotion', WithdrawRequestSchema);
  registry.registerPath({
    method: 'get',
    path: '/v1/promotions/{id}/audit',
    summary: 'Readable audit timeline (JSON or JSONL), from Temporal or the hash-chained archive',
    security: [{ bearer: [] }],
    request: { params: idParam, query: AuditQuerySchema },
    responses: {
      200: { description: 'the timeline', content: { ...json(audit), 'application/x-ndjson': { schema: z.string() } } },
      ...errors(404),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/promotions/{id}/evidence',
    summary: 'The evidence pack for auditors (zip: manifest, model card, checks, decisions, policy, audit chain and its verification, report.html/.pdf, SHA256SUMS); the export is recorded in the audit archive under evidence:<id>',
    security: [{ bearer: [] }],
    request: { params: idParam },
    responses: {
      200: {
        description: 'the pack; header `X-Evidence-Digest` is the sha256 of its SHA256SUMS',
        content: { 'application/zip': { schema: z.string().meta({ format: 'binary' }) } },
      },
      ...errors(404),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/promotions/{id}/evidence/exports',
    summary: "The promotion's evidence packs exported so far (who, when, digest), from the audit archive, with the chain's verification",
    security: [{ bearer: [] }],
    request: { params: idParam },
    responses: {
      200: {
        description: 'the exports, oldest first, and the verification of their hash chain',
        content: json(
          z.object({
            promotionId: z.string(),
            exports: z.array(
              z.object({
                seq: z.number().int(),
                at: z.string(),
                actor: z.string(),
                digest: z.string().describe('sha256 of the pack’s SHA256SUMS'),
                files: z.array(z.string()),
                pdf: z.boolean(),
                hash: z.string(),
              }),
            ),
            verification: z.object({ ok: z.boolean(), events: z.number().int() }).passthrough(),
          }),
        ),
      },
      ...errors(),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/models',
    summary: 'Models in the registry, with the version serving each environment',
    security: [{ bearer: [] }],
    request: { query: ListModelsQuerySchema },
    responses: { 200: { description: 'a page of models', content: json(ModelListSchema) }, ...errors() },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/models/{name}',
    summary: 'A model: versions with digests and approvals per environment, deployments',
    security: [{ bearer: [] }],
    request: { params: z.object({ name: ModelNameSchema }) },
    responses: { 200: { description: 'the model', content: json(ModelDetailSchema) }, ...errors(404) },
  });
  registry.registerPath({
    method: 'put',
    path: '/v1/models/{name}/owner',
    summary: "Change a model's owner (admin; recorded in the audit archive under model:<name>)",
    security: [{ bearer: [] }],
    request: { params: z.object({ name: ModelNameSchema }), body: { required: true, content: json(ChangeOwnerRequestSchema) } },
    responses: { 200: { description: 'the owner changed' }, ...bodyErrors(400, 401, 403, 404) },
  });
  const environmentParams = z.object({ name: z.string().describe('model name'), env: z.string().describe('environment') });
  registry.registerPath({
    method: 'get',
    path: '/v1/models/{name}/environments/{env}',
    summary: 'The lifecycle of a model in an environment: serving version, approval expiry, re-certification, earlier versions',
    security: [{ bearer: [] }],
    request: { params: environmentParams },
    responses: { 200: { description: 'the lifecycle state' }, ...errors(400, 401, 404) },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/models/{name}/environments/{env}/rollback',
    summary: 'Roll the environment back to an earlier approved version through its provider (rollback roles, justification)',
    security: [{ bearer: [] }],
    request: { params: environmentParams, body: { required: true, content: json(RollbackRequestSchema) } },
    responses: {
      200: { description: 'the rollback ended (`status` rolled_back or failed)', content: json(RollbackResultSchema) },
      202: { description: 'accepted; the rollback continues' },
      ...bodyErrors(400, 401, 403, 404, 409, 422),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/models/{name}/environments/{env}/drift',
    summary: 'Report drift from monitoring: starts a re-certification of the serving version at once',
    security: [{ bearer: [] }],
    request: { params: environmentParams, body: { required: true, content: json(DriftReportSchema) } },
    responses: { 202: { description: 're-certification started', content: json(RecertificationStartedSchema) }, ...bodyErrors(400, 401, 403, 404, 409, 422) },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/policies/{name}/recertify',
    summary: 'Re-certify every serving version approved under an earlier version of this policy',
    security: [{ bearer: [] }],
    request: { params: z.object({ name: z.string() }), body: { required: true, content: json(PolicyRecertificationRequestSchema) } },
    responses: { 202: { description: 'the re-certifications started and the environments skipped (with the reason)' }, ...bodyErrors(400, 401, 403, 404) },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/promotions/{id}/deployment',
    summary: "An asynchronous deployer's completion report (no bearer token: `X-Modelgate-Timestamp: <Unix seconds>`, `X-Modelgate-Signature: sha256=<HMAC of <timestamp>.<deploymentId>.<body>>`)",
    request: { params: idParam, body: { required: true, content: json(DeploymentReportSchema) } },
    responses: {
      200: { description: 'the promotion took the report' },
      // No 415: the signature is checked over the raw body, whatever its declared type.
      ...errors(400, 401, 404, 409, 413),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/policies',
    summary: 'The loaded policies with their versions and digests',
    security: [{ bearer: [] }],
    responses: { 200: { description: 'the policies', content: json(PolicyListSchema) }, ...errors() },
  });
  registry.registerPath({ method: 'get', path: '/healthz', summary: 'Liveness', responses: { 200: { description: 'the process serves', content: json(HealthSchema) } } });
  registry.registerPath({
    method: 'get',
    path: '/readyz',
    summary: 'Readiness: Temporal and PostgreSQL answer',
    responses: {
      200: { description: 'ready', content: json(ReadinessSchema) },
      503: { description: 'a dependency does not answer; `checks` names it', content: json(ReadinessSchema) },
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics',
    responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } } },
  });
  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    summary: 'This document',
    responses: { 200: { description: 'the OpenAPI 3.1 document', content: json(z.record(z.string(), z.unknown())) } },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/me',
    summary: 'The authenticated caller: id and roles, as the API reads them from the token',
    security: [{ bearer: [] }],
    responses: { 200: { description: 'the caller', content: json(MeSchema) }, ...errors() },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/review-queue',
    summary: "The caller's queue: promotions with an open gate the caller may sign now, nearest deadline first",
    security: [{ bearer: [] }],
    responses: { 200: { description: 'the queue', content: json(named('ReviewQueue', ReviewQueueSchema)) }, ...errors() },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/governance',
    summary: 'Governance figures: promotions by status (Temporal visibility); decision times, failing checks and rejection reasons (audit archive)',
    security: [{ bearer: [] }],
    request: { query: GovernanceQuerySchema },
    responses: { 200: { description: 'the figures', content: json(named('GovernanceStats', GovernanceStatsSchema)) }, ...errors() },
  });

  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'Modelgate API', version: options.version, description: 'Governed promotion of machine-learning models (the routes are described in docs/api.md).' },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
  });
}

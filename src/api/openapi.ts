// The OpenAPI document of the HTTP API, generated from the zod schemas that validate requests.
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { ManifestRevisionSchema, PromotionManifestSchema } from '../manifest/schema';
import { PROMOTION_STATUSES } from '../shared/promotion';
import {
  ArchivedPromotionSchema,
  AuditQuerySchema,
  AuditTimelineSchema,
  DecisionRequestSchema,
  ErrorResponseSchema,
  ExpediteRequestSchema,
  ListModelsQuerySchema,
  ListPromotionsQuerySchema,
  MessageResultSchema,
  OverrideRequestSchema,
  PromotionListSchema,
  RevisionRequestSchema,
  SubmitPromotionQuerySchema,
  SubmittedPromotionSchema,
  WithdrawRequestSchema,
} from './schemas';

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
  const liveState = z
    .object({ promotionId: z.string(), source: z.literal('temporal'), status: z.enum(PROMOTION_STATUSES) })
    .catchall(z.unknown())
    .describe("the whole state, as the promotion's `state` query (or, once completed, its result) gives it");

  const json = (schema: z.ZodType) => ({ 'application/json': { schema } });
  const errors = (...codes: number[]): Responses =>
    Object.fromEntries(
      codes.map((code) => [
        String(code),
        {
          description: {
            400: 'invalid input; `details.problems` names each field path',
            401: 'missing, expired or wrongly signed bearer token',
            403: 'the caller lacks a role, or separation of duties forbids it',
            404: 'no such promotion or model',
            409: 'the promotion is not in a state that accepts this, or the version exists with another digest',
            422: 'valid, but refused by the policy',
          }[code]!,
          content: json(error),
        },
      ]),
    );
  const idParam = z.object({ id: z.string().describe('promotion id, e.g. `promote:fraud:1.2.0:production` (URL-encoded)') });
  const message = (path: string, summary: string, body: z.ZodObject) =>
    registry.registerPath({
      method: 'post',
      path: `/v1/promotions/{id}/${path}`,
      summary,
      security: [{ bearer: [] }],
      request: { params: idParam, body: { required: true, content: json(body) } },
      responses: { 200: { description: 'accepted; the promotion state after it', content: json(messageResult) }, ...errors(400, 401, 403, 404, 409, 422) },
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
      ...errors(400, 401, 409, 422),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/promotions',
    summary: 'List promotions (Temporal visibility on the search attributes), paginated',
    security: [{ bearer: [] }],
    request: { query: ListPromotionsQuerySchema },
    responses: { 200: { description: 'a page', content: json(PromotionListSchema) }, ...errors(400, 401) },
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
      ...errors(401, 404),
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
      ...errors(400, 401, 404),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/models',
    summary: 'Models in the registry, with the version serving each environment',
    security: [{ bearer: [] }],
    request: { query: ListModelsQuerySchema },
    responses: { 200: { description: 'a page of models' }, ...errors(400, 401) },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/models/{name}',
    summary: 'A model: versions with digests and approvals per environment, deployments',
    security: [{ bearer: [] }],
    request: { params: z.object({ name: z.string() }) },
    responses: { 200: { description: 'the model' }, ...errors(401, 404) },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/policies',
    summary: 'The loaded policies with their versions and digests',
    security: [{ bearer: [] }],
    responses: { 200: { description: 'the policies' }, ...errors(401) },
  });
  for (const [path, summary] of [
    ['/healthz', 'Liveness'],
    ['/readyz', 'Readiness: Temporal and PostgreSQL answer'],
    ['/metrics', 'Prometheus metrics'],
  ] as const) {
    registry.registerPath({ method: 'get', path, summary, responses: { 200: { description: 'ok' } } });
  }

  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'Modelgate API', version: options.version, description: 'Governed promotion of machine-learning models (DESIGN.md §7).' },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
  });
}

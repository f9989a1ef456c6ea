// `/v1/models`: the model registry as PostgreSQL holds it, and changes of a model's owner.
import { randomUUID } from 'node:crypto';
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { Router } from 'express';
import type { Pool } from 'pg';
import { z } from 'zod';
import { archiveAuditRecords } from '../audit/archive';
import { modelAuditId } from '../audit/model-chain';
import type { AuditSealer } from '../audit/seal';
import { createPgRegistry, type Registry } from '../registry';
import { ApiError } from './errors';
import { BEARER, bodyErrorResponses, errorResponses, json } from './openapi-parts';
import { actorOf, parseInput } from './request';
import { ChangeOwnerRequestSchema, ListModelsQuerySchema, ModelDetailSchema, ModelListSchema, ModelNameSchema } from './schemas';

/** The role that may change a model's owner. */
export const MODEL_ADMIN_ROLE = 'admin';

export { modelAuditId };

/**
 * Builds `GET /v1/models`, `GET /v1/models/{name}` (the registry as PostgreSQL holds it) and
 * `PUT /v1/models/{name}/owner` (admins only, audited). The audit archive is `pool`'s; the
 * registry is PostgreSQL's unless another is given; `sealer` (the API's) signs the chain's new heads.
 */
export function modelRoutes(pool: Pool, registry: Registry = createPgRegistry(pool), sealer?: AuditSealer): Router {
  const router = Router();

  // A model's owner is set when its first version is claimed; only an admin changes it, and each
  // change is appended to the audit archive (chain `model:<name>`, verifiable like a promotion's).
  router.put('/:name/owner', async (req, res) => {
    const actor = actorOf(res);
    const name = parseInput(ModelNameSchema, req.params.name, 'path');
    if (!actor.roles.includes(MODEL_ADMIN_ROLE)) throw new ApiError('forbidden', `${actor.id} may not change a model's owner (needs role ${MODEL_ADMIN_ROLE})`);
    const { owner, reason } = parseInput(ChangeOwnerRequestSchema, req.body, 'body');
    const previous = await registry.changeOwner(name, owner);
    if (previous === undefined) throw new ApiError('not_found', `no model ${name} in the registry`);
    const at = new Date().toISOString();
    await archiveAuditRecords(
      pool,
      modelAuditId(name),
      [{ occurredAt: at, actor: actor.id, action: 'owner_changed', detail: { model: name, from: previous, to: owner, reason } }],
      randomUUID(),
      sealer,
    );
    res.json({ name, owner, previousOwner: previous, changedBy: actor.id, changedAt: at });
  });

  router.get('/', async (req, res) => {
    const query = parseInput(ListModelsQuerySchema, req.query, 'query');
    const result = await registry.listModels({ after: query.after ?? null, limit: query.pageSize + 1 });
    const rows = result.slice(0, query.pageSize);
    res.json({
      models: rows.map((r) => ({
        name: r.name,
        owner: r.owner,
        description: r.description,
        versions: r.versions,
        serving: r.serving ?? {},
        updatedAt: r.updatedAt.toISOString(),
      })),
      ...(result.length > query.pageSize ? { nextAfter: rows[rows.length - 1]!.name } : {}),
    });
  });

  router.get('/:name', async (req, res) => {
    const name = parseInput(ModelNameSchema, req.params.name, 'path');
    const m = await registry.getModel(name);
    if (!m) throw new ApiError('not_found', `no model ${name} in the registry`);
    res.json({
      name: m.name,
      owner: m.owner,
      description: m.description,
      createdAt: m.createdAt.toISOString(),
      versions: m.versions.map((v) => ({
        version: v.version,
        artifact: { sha256: v.artifactSha256, uri: v.artifactUri, format: v.artifactFormat },
        riskTier: v.riskTier,
        metrics: v.metrics,
        firstPromotionId: v.firstPromotionId,
        createdAt: v.createdAt.toISOString(),
        approvals: v.approvals ?? [],
      })),
      serving: Object.fromEntries(m.deployments.filter((d) => !d.supersededAt).map((d) => [d.environment, d.version])),
      deployments: m.deployments.map((d) => ({
        environment: d.environment,
        version: d.version,
        promotionId: d.promotionId,
        deployedAt: d.deployedAt.toISOString(),
        ...(d.supersededAt ? { supersededAt: d.supersededAt.toISOString() } : {}),
      })),
    });
  });
  return router;
}

/** Registers the model routes in the OpenAPI document. */
export function registerModelPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'get',
    path: '/v1/models',
    summary: 'Models in the registry, with the version serving each environment',
    security: BEARER,
    request: { query: ListModelsQuerySchema },
    responses: { 200: { description: 'a page of models', content: json(ModelListSchema) }, ...errorResponses() },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/models/{name}',
    summary: 'A model: versions with digests and approvals per environment, deployments',
    security: BEARER,
    request: { params: z.object({ name: ModelNameSchema }) },
    responses: { 200: { description: 'the model', content: json(ModelDetailSchema) }, ...errorResponses(404) },
  });
  registry.registerPath({
    method: 'put',
    path: '/v1/models/{name}/owner',
    summary: "Change a model's owner (admin; recorded in the audit archive under model:<name>)",
    security: BEARER,
    request: { params: z.object({ name: ModelNameSchema }), body: { required: true, content: json(ChangeOwnerRequestSchema) } },
    responses: { 200: { description: 'the owner changed' }, ...bodyErrorResponses(400, 401, 403, 404) },
  });
}

// `/v1/models`: the model registry as PostgreSQL holds it, and changes of a model's owner.
import { randomUUID } from 'node:crypto';
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { Router } from 'express';
import type { Pool } from 'pg';
import { z } from 'zod';
import { archiveAuditRecords } from '../audit/archive';
import { ApiError } from './errors';
import { BEARER, bodyErrorResponses, errorResponses, json } from './openapi-parts';
import { actorOf, parseInput } from './request';
import { ChangeOwnerRequestSchema, ListModelsQuerySchema, ModelDetailSchema, ModelListSchema, ModelNameSchema } from './schemas';

/** The role that may change a model's owner. */
export const MODEL_ADMIN_ROLE = 'admin';

/** The audit archive's chain of a model's owner changes (`audit_events.promotion_id`). */
export const modelAuditId = (model: string) => `model:${model}`;

/**
 * Builds `GET /v1/models`, `GET /v1/models/{name}` (the registry as PostgreSQL holds it) and
 * `PUT /v1/models/{name}/owner` (admins only, audited).
 */
export function modelRoutes(pool: Pool): Router {
  const router = Router();

  // A model's owner is set when its first version is claimed; only an admin changes it, and each
  // change is appended to the audit archive (chain `model:<name>`, verifiable like a promotion's).
  router.put('/:name/owner', async (req, res) => {
    const actor = actorOf(res);
    const name = parseInput(ModelNameSchema, req.params.name, 'path');
    if (!actor.roles.includes(MODEL_ADMIN_ROLE)) throw new ApiError('forbidden', `${actor.id} may not change a model's owner (needs role ${MODEL_ADMIN_ROLE})`);
    const { owner, reason } = parseInput(ChangeOwnerRequestSchema, req.body, 'body');
    const changed = await pool.query<{ previous: string }>(
      `UPDATE models m SET owner = $2, updated_at = now() FROM (SELECT owner FROM models WHERE name = $1 FOR UPDATE) previous
        WHERE m.name = $1 RETURNING previous.owner AS previous`,
      [name, owner],
    );
    const previous = changed.rows[0]?.previous;
    if (previous === undefined) throw new ApiError('not_found', `no model ${name} in the registry`);
    const at = new Date().toISOString();
    await archiveAuditRecords(
      pool,
      modelAuditId(name),
      [{ occurredAt: at, actor: actor.id, action: 'owner_changed', detail: { model: name, from: previous, to: owner, reason } }],
      randomUUID(),
    );
    res.json({ name, owner, previousOwner: previous, changedBy: actor.id, changedAt: at });
  });

  router.get('/', async (req, res) => {
    const query = parseInput(ListModelsQuerySchema, req.query, 'query');
    const result = await pool.query<{ name: string; owner: string; description: string; versions: number; serving: Record<string, string> | null; updated_at: Date }>(
      `SELECT m.name, m.owner, m.description, m.updated_at,
              (SELECT count(*)::int FROM model_versions v WHERE v.model_name = m.name) AS versions,
              (SELECT jsonb_object_agg(d.environment, d.version) FROM environment_deployments d
                WHERE d.model_name = m.name AND d.superseded_at IS NULL) AS serving
         FROM models m
        WHERE ($1::text IS NULL OR m.name > $1)
        ORDER BY m.name
        LIMIT $2`,
      [query.after ?? null, query.pageSize + 1],
    );
    const rows = result.rows.slice(0, query.pageSize);
    res.json({
      models: rows.map((r) => ({
        name: r.name,
        owner: r.owner,
        description: r.description,
        versions: r.versions,
        serving: r.serving ?? {},
        updatedAt: r.updated_at.toISOString(),
      })),
      ...(result.rows.length > query.pageSize ? { nextAfter: rows[rows.length - 1]!.name } : {}),
    });
  });

  router.get('/:name', async (req, res) => {
    const name = parseInput(ModelNameSchema, req.params.name, 'path');
    const model = await pool.query<{ name: string; owner: string; description: string; created_at: Date }>(
      'SELECT name, owner, description, created_at FROM models WHERE name = $1',
      [name],
    );
    if (!model.rows[0]) throw new ApiError('not_found', `no model ${name} in the registry`);
    const versions = await pool.query<{
      version: string; artifact_sha256: string; artifact_uri: string; artifact_format: string; risk_tier: string;
      metrics: Record<string, number>; first_promotion_id: string; created_at: Date; approvals: unknown[] | null;
    }>(
      `SELECT v.version, v.artifact_sha256, v.artifact_uri, v.artifact_format, v.risk_tier, v.metrics, v.first_promotion_id, v.created_at,
              (SELECT jsonb_agg(jsonb_build_object('environment', a.environment, 'status', a.status, 'promotionId', a.promotion_id,
                        'decidedBy', a.decided_by, 'policyVersion', a.policy_version, 'evidenceDigest', a.evidence_digest,
                        'validUntil', a.valid_until) ORDER BY a.environment)
                 FROM version_approvals a WHERE a.model_name = v.model_name AND a.version = v.version) AS approvals
         FROM model_versions v WHERE v.model_name = $1 ORDER BY v.created_at, v.version`,
      [name],
    );
    const deployments = await pool.query<{ environment: string; version: string; promotion_id: string; deployed_at: Date; superseded_at: Date | null }>(
      `SELECT environment, version, promotion_id, deployed_at, superseded_at FROM environment_deployments
        WHERE model_name = $1 ORDER BY environment, deployed_at`,
      [name],
    );
    const m = model.rows[0];
    res.json({
      name: m.name,
      owner: m.owner,
      description: m.description,
      createdAt: m.created_at.toISOString(),
      versions: versions.rows.map((v) => ({
        version: v.version,
        artifact: { sha256: v.artifact_sha256, uri: v.artifact_uri, format: v.artifact_format },
        riskTier: v.risk_tier,
        metrics: v.metrics,
        firstPromotionId: v.first_promotion_id,
        createdAt: v.created_at.toISOString(),
        approvals: v.approvals ?? [],
      })),
      serving: Object.fromEntries(deployments.rows.filter((d) => !d.superseded_at).map((d) => [d.environment, d.version])),
      deployments: deployments.rows.map((d) => ({
        environment: d.environment,
        version: d.version,
        promotionId: d.promotion_id,
        deployedAt: d.deployed_at.toISOString(),
        ...(d.superseded_at ? { supersededAt: d.superseded_at.toISOString() } : {}),
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

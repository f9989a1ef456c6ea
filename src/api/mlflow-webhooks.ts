// `POST /v1/mlflow/webhooks`: MLflow's registry webhooks (MLflow 3.x). A version tagged with the
// promote tag (`modelgate.target=production`) starts the promotion of `models:/<name>/<version>`;
// an alias set is reported to the alias guard of the task queue (a Signal).
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { errorResponses, json } from './openapi-parts';
import express, { Router } from 'express';
import type { Pool } from 'pg';
import { logRefusedAttempt } from '../audit/archive';
import type { AuditSealer } from '../audit/seal';
import { PromotionManifestSchema, type PromotionManifest, type RiskTier, type ARTIFACT_FORMATS } from '../manifest/schema';
import type { LoadedPolicy } from '../policy/load';
import { startPromotion } from '../promotions/start';
import { createPgRegistry, createSubmissionRegistration } from '../registry';
import {
  MLFLOW_DELIVERY_ID_HEADER,
  MLFLOW_SIGNATURE_HEADER,
  MLFLOW_TIMESTAMP_HEADER,
  mlflowDeliveryProblem,
  parseMlflowWebhook,
  forgetMlflowDelivery,
  rememberMlflowDelivery,
} from '../registry/mlflow-webhooks';
import { mlflowAliasGuardId, mlflowAliasGuardSignals } from '../shared/mlflow-alias-guard';
import { ApiError, asApiError } from './errors';

/** The intake's settings (MLFLOW_WEBHOOK_SECRET and the MLFLOW_INTAKE_* variables). */
export interface MlflowIntakeSettings {
  secret: string;
  promoteTag: string;
  riskTier: RiskTier;
  format: (typeof ARTIFACT_FORMATS)[number];
  roles: string[];
}

/** The policy a webhook-started promotion runs under. */
const INTAKE_POLICY = 'default';
/** Who a webhook-started promotion is submitted by. */
export const MLFLOW_INTAKE_ACTOR = 'mlflow-webhook';

/**
 * The webhook receiver. No bearer token: each delivery is verified with MLflow's v1 signature
 * over `<delivery id>.<timestamp>.<body>` (the API's MLFLOW_WEBHOOK_SECRET), its timestamp must be
 * within 5 minutes, and its delivery id must be new. Mounted before the JSON parser (raw body).
 */
export function mlflowWebhookRoutes(deps: { client: Client; pool: Pool; policies: ReadonlyMap<string, LoadedPolicy>; taskQueue: string; intake: MlflowIntakeSettings; auditSealer?: AuditSealer }): Router {
  const router = Router();
  const registry = createPgRegistry(deps.pool);
  const registration = createSubmissionRegistration(deps.pool);
  router.post('/webhooks', express.raw({ type: () => true, limit: '256kb' }), async (req, res) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const refuse = async (error: ApiError): Promise<never> => {
      const answer = asApiError(error);
      if (answer) await logRefusedAttempt(deps.pool, { actor: MLFLOW_INTAKE_ACTOR, action: 'mlflow_webhook', statusCode: answer.status, reason: answer.message }, deps.auditSealer).catch(() => undefined);
      throw error;
    };
    const deliveryId = req.get(MLFLOW_DELIVERY_ID_HEADER);
    const problem = mlflowDeliveryProblem(deps.intake.secret, { deliveryId, timestamp: req.get(MLFLOW_TIMESTAMP_HEADER), signature: req.get(MLFLOW_SIGNATURE_HEADER), body: raw });
    if (problem) return refuse(new ApiError('unauthenticated', problem));
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return refuse(new ApiError('invalid_input', 'body is not valid JSON'));
    }
    const event = parseMlflowWebhook(body);
    if (!event) return refuse(new ApiError('invalid_input', 'body is not an MLflow webhook event of a known shape'));
    if (!(await rememberMlflowDelivery(deps.pool, deliveryId!))) return refuse(new ApiError('conflict', `${MLFLOW_DELIVERY_ID_HEADER} was delivered before (a replay)`));
    const handleDelivery = async (): Promise<void> => {
      if (event === 'ignored') {
        res.json({ accepted: true, action: 'ignored' });
        return;
      }
      if (event.kind === 'model_version_alias.created') {
        // MLflow does not say who set the alias: the guard checks it against the registry.
        try {
          await deps.client.workflow.getHandle(mlflowAliasGuardId(deps.taskQueue)).signal(mlflowAliasGuardSignals.aliasSet, { model: event.name, alias: event.alias, version: event.version });
        } catch {
          throw new ApiError('not_ready', 'the MLflow alias guard is not running (a worker with MLFLOW_TRACKING_URI and MLFLOW_ALIASES starts it); the alias is checked at its next reconciliation');
        }
        res.json({ accepted: true, action: 'alias_guard_signalled' });
        return;
      }
      const target =
        event.kind === 'model_version_tag.set' ? (event.key === deps.intake.promoteTag ? event.value : undefined) : event.kind === 'model_version.created' ? event.tags[deps.intake.promoteTag] : undefined;
      if (target === undefined) {
        res.json({ accepted: true, action: 'ignored' });
        return;
      }
      const owner = await registry.ownerOf(event.name);
      const parsed = PromotionManifestSchema.safeParse({
        model: { name: event.name, version: event.version, owner: owner ?? `${MLFLOW_INTAKE_ACTOR}:unowned`, riskTier: deps.intake.riskTier, description: `From MLflow: models:/${event.name}/${event.version}` },
        target,
        artifact: { uri: `models:/${event.name}/${event.version}`, format: deps.intake.format },
      } satisfies Record<string, unknown>);
      if (!parsed.success) return refuse(new ApiError('invalid_input', `the tagged version cannot be promoted: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ').slice(0, 500)}`));
      if (owner === undefined) {
        return refuse(new ApiError('refused_by_policy', `model ${event.name} has no owner in Modelgate's registry: submit its first promotion with a manifest naming the owner`));
      }
      const policy = deps.policies.get(INTAKE_POLICY);
      if (!policy) return refuse(new ApiError('refused_by_policy', `no policy named "${INTAKE_POLICY}"`));
      const manifest: PromotionManifest = parsed.data;
      const started = await startPromotion(deps.client, {
        manifest,
        submitter: { id: MLFLOW_INTAKE_ACTOR, roles: deps.intake.roles },
        policy,
        taskQueue: deps.taskQueue,
        registry: registration,
        submissionKey: `mlflow:${event.name}:${event.version}:${target}`,
      });
      res.status(started.existing ? 200 : 201).json({ accepted: true, action: 'promotion_started', promotionId: started.promotionId, existing: started.existing });
    };
    try {
      await handleDelivery();
    } catch (err) {
      // Not handled for a passing reason (Temporal or the alias guard unavailable): MLflow's retry
      // of this delivery must be handled then, not refused as a replay. A refusal stays remembered.
      if ((asApiError(err)?.status ?? 500) >= 500) await forgetMlflowDelivery(deps.pool, deliveryId!).catch(() => undefined);
      throw err;
    }
  });
  return router;
}

/** Registers the MLflow webhook receiver in the OpenAPI document. */
export function registerMlflowWebhookPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'post',
    path: '/v1/mlflow/webhooks',
    summary:
      'MLflow registry webhooks (no bearer token: `X-MLflow-Delivery-Id`, `X-MLflow-Timestamp`, `X-MLflow-Signature: v1,<base64 HMAC-SHA256 of <delivery id>.<timestamp>.<body>>`); a version tagged with MLFLOW_PROMOTE_TAG starts its promotion; an alias set (`model_version_alias.created`) is reported to the alias guard',
    request: { body: { required: true, content: json(z.object({ entity: z.string(), action: z.string(), timestamp: z.string().optional(), data: z.record(z.string(), z.unknown()) })) } },
    responses: {
      200: { description: 'accepted (ignored, reported to the alias guard, or the promotion it names already exists)' },
      201: { description: 'a promotion was started' },
      ...errorResponses(400, 401, 403, 404, 409, 413, 422, 503),
    },
  });
}

// `POST /v1/promotions/{id}/deployment`: the completion reports of asynchronous deployers.
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { type Client, WorkflowUpdateFailedError } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import express, { Router } from 'express';
import type { Pool } from 'pg';
import { logRefusedAttempt } from '../audit/archive';
import type { AuditSealer } from '../audit/seal';
import { deploymentReportProblem, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../deployment/webhook';
import { inPromotionTrace } from '../promotions/messages';
import { completeDeploymentUpdate, stateQuery } from '../shared/messages';
import { DeploymentReportRefused, PromotionEnded } from './domain-errors';
import { ApiError, asApiError } from './errors';
import { errorResponses, json, promotionIdParams } from './openapi-parts';
import { parseInput } from './request';
import { DeploymentReportSchema, PromotionIdSchema } from './schemas';
import { askWorker, WORKER_ANSWER_TIMEOUT_MS } from './worker-answer';

/**
 * `POST /v1/promotions/{id}/deployment`: an asynchronous deployer reports completion. No bearer
 * token: the report carries `X-Modelgate-Timestamp` (Unix seconds, within 5 minutes of the API's
 * clock) and `X-Modelgate-Signature` (HMAC-SHA256 of `<timestamp>.<deploymentId>.<body>` with the
 * deployer's key, the variable the promotion's policy names), for the deployment id the promotion
 * awaits now. Mounted before the JSON parser (it needs the raw body).
 */
export function deploymentReportRoutes(deps: { client: Client; pool: Pool; env?: NodeJS.ProcessEnv; workerAnswerTimeoutMs?: number; auditSealer?: AuditSealer }): Router {
  const router = Router();
  const answerTimeoutMs = deps.workerAnswerTimeoutMs ?? WORKER_ANSWER_TIMEOUT_MS;
  const env = deps.env ?? process.env;
  router.post('/:id/deployment', express.raw({ type: () => true, limit: '64kb' }), async (req, res) => {
    const promotionId = parseInput(PromotionIdSchema, req.params.id, 'path');
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    /** Logs the refusal of a report (the deployer has no token, so it is logged as `deployer`), then throws it. */
    const refuse = async (error: unknown): Promise<never> => {
      const answer = asApiError(error);
      if (answer) {
        await logRefusedAttempt(deps.pool, { actor: 'deployer', promotionId, action: 'report_deployment', statusCode: answer.status, reason: answer.message }, deps.auditSealer).catch(() => undefined);
      }
      throw error;
    };
    const handle = deps.client.workflow.getHandle(promotionId);
    // A promotion Temporal does not know is a 404 (src/api/domain-errors.ts).
    const deployment = (await askWorker(deps.client, `promotion ${promotionId}`, answerTimeoutMs, () => handle.query(stateQuery))).deployment;
    const secretEnv = deployment?.status === 'awaiting_completion' ? deployment.secretEnv : undefined;
    const awaited = deployment?.deploymentId;
    const secret = secretEnv ? env[secretEnv] : undefined;
    if (!secretEnv || !secret || !awaited) return refuse(new ApiError('conflict', `promotion ${promotionId} is not waiting for a deployment report`));
    const problem = deploymentReportProblem(secret, {
      timestamp: req.get(TIMESTAMP_HEADER),
      deploymentId: awaited,
      body: raw,
      signature: req.get(SIGNATURE_HEADER),
    });
    if (problem) return refuse(new ApiError('unauthenticated', problem));
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new ApiError('invalid_input', 'body is not valid JSON');
    }
    const report = parseInput(DeploymentReportSchema, parsed, 'body');
    if (report.deploymentId !== awaited) {
      return refuse(new ApiError('conflict', `the report is for deployment ${report.deploymentId}; promotion ${promotionId} awaits ${awaited}`));
    }
    await askWorker(deps.client, `promotion ${promotionId}`, answerTimeoutMs, () =>
      inPromotionTrace(handle, 'PromotionMessage:completeDeployment', () => handle.executeUpdate(completeDeploymentUpdate, { args: [report] })),
    ).catch(
      (err: unknown) => {
        if (err instanceof WorkflowUpdateFailedError) return refuse(new DeploymentReportRefused(err.cause?.message ?? err.message));
        if (err instanceof WorkflowNotFoundError || /already completed/i.test(err instanceof Error ? err.message : '')) {
          return refuse(new PromotionEnded(promotionId, undefined, 'reports'));
        }
        throw err;
      },
    );
    res.json({ promotionId, deploymentId: report.deploymentId, accepted: true });
  });
  return router;
}

/** Registers the deployers' report route in the OpenAPI document. */
export function registerDeploymentReportPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'post',
    path: '/v1/promotions/{id}/deployment',
    summary: "An asynchronous deployer's completion report (no bearer token: `X-Modelgate-Timestamp: <Unix seconds>`, `X-Modelgate-Signature: sha256=<HMAC of <timestamp>.<deploymentId>.<body>>`)",
    request: { params: promotionIdParams, body: { required: true, content: json(DeploymentReportSchema) } },
    responses: {
      200: { description: 'the promotion took the report' },
      // No 415: the signature is checked over the raw body, whatever its declared type.
      ...errorResponses(400, 401, 404, 409, 413),
    },
  });
}

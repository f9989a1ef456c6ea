// `/v1/models/{name}/environments/{env}`: the lifecycle of a model in an environment after
// approval — its state, rollback, and drift reported by monitoring (a re-certification).
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { type Client, type WorkflowHandle, WorkflowUpdateStage } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { type Request, Router } from 'express';
import { z } from 'zod';
import { environmentQuery, environmentUpdates, environmentWorkflowId, type RollbackResult } from '../shared/environment';
import { LifecycleNotFound } from './domain-errors';
import { BEARER, bodyErrorResponses, errorResponses, json } from './openapi-parts';
import { actorOf, parseInput, requestIdOf } from './request';
import { DriftReportSchema, ModelNameSchema, RecertificationStartedSchema, RollbackRequestSchema, RollbackResultSchema } from './schemas';
import { askWorker, WORKER_ANSWER_TIMEOUT_MS } from './worker-answer';

/** How long `POST …/rollback` waits for the rollback to finish before answering 202. */
const ROLLBACK_WAIT_MS = 20_000;

/** What the lifecycle routes need. */
export interface EnvironmentRoutesDeps {
  client: Client;
  /** How long a lifecycle's query or Update waits for a worker before a 503 (default {@link WORKER_ANSWER_TIMEOUT_MS}). */
  workerAnswerTimeoutMs?: number;
}

/** `GET /v1/models/{name}/environments/{env}`, `POST …/rollback` and `POST …/drift`. */
export function environmentRoutes(deps: EnvironmentRoutesDeps): Router {
  const router = Router();
  const answerTimeoutMs = deps.workerAnswerTimeoutMs ?? WORKER_ANSWER_TIMEOUT_MS;
  /** The lifecycle a request names, and `call` on it (a worker answers; one Temporal does not know is {@link LifecycleNotFound}). */
  const onLifecycle = async <T>(req: Request, call: (handle: WorkflowHandle) => Promise<T>) => {
    const model = parseInput(ModelNameSchema, req.params.name, 'path');
    const environment = parseInput(ModelNameSchema, req.params.env, 'path');
    const handle = deps.client.workflow.getHandle(environmentWorkflowId(model, environment));
    const answer = await askWorker(deps.client, `the lifecycle of ${model} in ${environment}`, answerTimeoutMs, () => call(handle)).catch((err: unknown) => {
      throw err instanceof WorkflowNotFoundError ? new LifecycleNotFound(model, environment) : err;
    });
    return { model, environment, answer };
  };

  router.post('/:name/environments/:env/rollback', async (req, res) => {
    const body = parseInput(RollbackRequestSchema, req.body, 'body');
    const request = { ...body, actor: actorOf(res), requestId: requestIdOf(req, body.requestId) };
    const { model, environment, answer: update } = await onLifecycle(req, (handle) =>
      handle.startUpdate(environmentUpdates.rollback, { args: [request], waitForStage: WorkflowUpdateStage.ACCEPTED }),
    );
    const result: RollbackResult | undefined = await Promise.race([
      update.result(),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ROLLBACK_WAIT_MS).unref()),
    ]);
    if (!result) {
      res.status(202).json({ model, environment, status: 'in_progress', detail: 'the rollback continues; see GET /v1/models/{name}' });
      return;
    }
    res.json({ model, environment, ...result, audit: `/v1/promotions/${encodeURIComponent(result.rollbackId)}/audit` });
  });

  router.post('/:name/environments/:env/drift', async (req, res) => {
    const body = parseInput(DriftReportSchema, req.body, 'body');
    const request = { actor: actorOf(res), trigger: 'drift' as const, reason: body.reason, requestId: requestIdOf(req, body.requestId) };
    const { model, environment, answer } = await onLifecycle(req, (handle) => handle.executeUpdate(environmentUpdates.recertify, { args: [request] }));
    res.status(202).json({ model, environment, ...answer });
  });

  router.get('/:name/environments/:env', async (req, res) => {
    res.json((await onLifecycle(req, (handle) => handle.query(environmentQuery))).answer);
  });
  return router;
}

/** Registers the lifecycle routes in the OpenAPI document. */
export function registerEnvironmentPaths(registry: OpenAPIRegistry): void {
  const environmentParams = z.object({ name: z.string().describe('model name'), env: z.string().describe('environment') });
  registry.registerPath({
    method: 'get',
    path: '/v1/models/{name}/environments/{env}',
    summary: 'The lifecycle of a model in an environment: serving version, approval expiry, re-certification, earlier versions',
    security: BEARER,
    request: { params: environmentParams },
    responses: { 200: { description: 'the lifecycle state' }, ...errorResponses(400, 401, 404) },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/models/{name}/environments/{env}/rollback',
    summary: 'Roll the environment back to an earlier approved version through its provider (rollback roles, justification)',
    security: BEARER,
    request: { params: environmentParams, body: { required: true, content: json(RollbackRequestSchema) } },
    responses: {
      200: { description: 'the rollback ended (`status` rolled_back or failed)', content: json(RollbackResultSchema) },
      202: { description: 'accepted; the rollback continues' },
      ...bodyErrorResponses(400, 401, 403, 404, 409, 422),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/models/{name}/environments/{env}/drift',
    summary: 'Report drift from monitoring: starts a re-certification of the serving version at once',
    security: BEARER,
    request: { params: environmentParams, body: { required: true, content: json(DriftReportSchema) } },
    responses: { 202: { description: 're-certification started', content: json(RecertificationStartedSchema) }, ...bodyErrorResponses(400, 401, 403, 404, 409, 422) },
  });
}

// Routes of the lifecycle after approval: rollback and drift per model and environment,
// re-certification after a policy change, and the completion reports of asynchronous deployers.
import { randomUUID } from 'node:crypto';
import { type Client, WorkflowUpdateFailedError, WorkflowUpdateStage } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import express, { type Request, type Response, Router } from 'express';
import type { Pool } from 'pg';
import { logRefusedAttempt } from '../audit/archive';
import { deploymentReportProblem, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../deployment/webhook';
import type { LoadedPolicy } from '../policy/load';
import {
  ENVIRONMENT_WORKFLOW_TYPE,
  environmentQuery,
  environmentUpdates,
  environmentWorkflowId,
  type RollbackResult,
} from '../shared/environment';
import { completeDeploymentUpdate, stateQuery } from '../shared/messages';
import type { Actor } from '../shared/promotion';
import { ApiError } from './errors';
import { apiCodeOfRefusal } from './message-refusals';
import { parseInput } from './promotions';
import { askWorker, WORKER_ANSWER_TIMEOUT_MS } from './worker-answer';
import {
  DeploymentReportSchema,
  DriftReportSchema,
  ModelNameSchema,
  PolicyRecertificationRequestSchema,
  PromotionIdSchema,
  RollbackRequestSchema,
} from './schemas';

/** How long `POST …/rollback` waits for the rollback to finish before answering 202. */
const ROLLBACK_WAIT_MS = 20_000;

/** Maps a refused lifecycle update to the API's errors. */
function lifecycleError(err: unknown, what: string): Error {
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = err.cause;
    const code = cause instanceof ApplicationFailure ? apiCodeOfRefusal(cause.type ?? undefined) : undefined;
    return new ApiError(code ?? 'refused_by_policy', cause?.message ?? err.message);
  }
  if (err instanceof WorkflowNotFoundError) {
    return new ApiError('not_found', `${what} has no lifecycle yet: nothing was deployed there through Modelgate`);
  }
  return err instanceof Error ? err : new Error(String(err));
}

const actorOf = (res: Response) => res.locals.actor as Actor;

/** What the lifecycle routes need. */
export interface EnvironmentRoutesDeps {
  client: Client;
  pool: Pool;
  policies: ReadonlyMap<string, LoadedPolicy>;
  /** Task queue of the workers (lifecycles elsewhere are not this deployment's). */
  taskQueue: string;
  /** How long a lifecycle's query or Update waits for a worker before a 503 (default {@link WORKER_ANSWER_TIMEOUT_MS}). */
  workerAnswerTimeoutMs?: number;
}

/** What a lifecycle is called in the API's answers. */
const lifecycleOf = (model: string, environment: string) => `the lifecycle of ${model} in ${environment}`;

/** `POST /v1/models/{name}/environments/{env}/rollback` and `…/drift`. */
export function environmentRoutes(deps: EnvironmentRoutesDeps): Router {
  const router = Router();
  const answerTimeoutMs = deps.workerAnswerTimeoutMs ?? WORKER_ANSWER_TIMEOUT_MS;
  const target = (req: Request) => {
    const model = parseInput(ModelNameSchema, req.params.name, 'path');
    const environment = parseInput(ModelNameSchema, req.params.env, 'path');
    return { model, environment, workflowId: environmentWorkflowId(model, environment) };
  };

  router.post('/:name/environments/:env/rollback', async (req, res) => {
    const { model, environment, workflowId } = target(req);
    const body = parseInput(RollbackRequestSchema, req.body, 'body');
    const request = { ...body, actor: actorOf(res), requestId: body.requestId ?? req.get('idempotency-key') ?? randomUUID() };
    let result: RollbackResult | undefined;
    try {
      const update = await askWorker(deps.client, lifecycleOf(model, environment), answerTimeoutMs, () =>
        deps.client.workflow.getHandle(workflowId).startUpdate(environmentUpdates.rollback, { args: [request], waitForStage: WorkflowUpdateStage.ACCEPTED }),
      );
      result = await Promise.race([update.result(), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ROLLBACK_WAIT_MS).unref())]);
    } catch (err) {
      throw lifecycleError(err, `${model} in ${environment}`);
    }
    if (!result) {
      res.status(202).json({ model, environment, status: 'in_progress', detail: 'the rollback continues; see GET /v1/models/{name}' });
      return;
    }
    res.json({ model, environment, ...result, audit: `/v1/promotions/${encodeURIComponent(result.rollbackId)}/audit` });
  });

  router.post('/:name/environments/:env/drift', async (req, res) => {
    const { model, environment, workflowId } = target(req);
    const body = parseInput(DriftReportSchema, req.body, 'body');
    const request = { actor: actorOf(res), trigger: 'drift' as const, reason: body.reason, requestId: body.requestId ?? req.get('idempotency-key') ?? randomUUID() };
    try {
      const started = await askWorker(deps.client, lifecycleOf(model, environment), answerTimeoutMs, () =>
        deps.client.workflow.getHandle(workflowId).executeUpdate(environmentUpdates.recertify, { args: [request] }),
      );
      res.status(202).json({ model, environment, ...started });
    } catch (err) {
      throw lifecycleError(err, `${model} in ${environment}`);
    }
  });

  router.get('/:name/environments/:env', async (req, res) => {
    const { model, environment, workflowId } = target(req);
    try {
      res.json(await askWorker(deps.client, lifecycleOf(model, environment), answerTimeoutMs, () => deps.client.workflow.getHandle(workflowId).query(environmentQuery)));
    } catch (err) {
      throw lifecycleError(err, `${model} in ${environment}`);
    }
  });
  return router;
}

/**
 * `POST /v1/policies/{name}/recertify`: every environment whose serving version was approved
 * under another version of this policy starts a re-certification under the current one.
 */
export function policyRecertificationRoutes(deps: EnvironmentRoutesDeps): Router {
  const router = Router();
  const answerTimeoutMs = deps.workerAnswerTimeoutMs ?? WORKER_ANSWER_TIMEOUT_MS;
  router.post('/:name/recertify', async (req, res) => {
    const name = parseInput(ModelNameSchema, req.params.name, 'path');
    const body = parseInput(PolicyRecertificationRequestSchema, req.body, 'body');
    const loaded = deps.policies.get(name);
    if (!loaded) throw new ApiError('not_found', `no policy ${name} (loaded: ${[...deps.policies.keys()].join(', ')})`);
    const actor = actorOf(res);
    if (!actor.roles.some((r) => loaded.policy.recertification.requestRoles.includes(r))) {
      throw new ApiError('forbidden', `asking for re-certification needs one of the roles: ${loaded.policy.recertification.requestRoles.join(', ') || '(none configured)'}`);
    }
    const started: Array<{ model: string; environment: string; promotionId: string }> = [];
    const skipped: Array<{ model: string; environment: string; reason: string }> = [];
    const lifecycles = deps.client.workflow.list({
      query: `WorkflowType = '${ENVIRONMENT_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running' AND TaskQueue = '${deps.taskQueue.replace(/'/g, "\\'")}'`,
    });
    for await (const execution of lifecycles) {
      const handle = deps.client.workflow.getHandle(execution.workflowId);
      // A lifecycle whose worker does not answer ends the request with a 503 (a retry is safe:
      // each re-certification's requestId names the policy version and the lifecycle); one that
      // does not answer the re-certification itself is listed as skipped, with that reason.
      const state = await askWorker(deps.client, `lifecycle ${execution.workflowId}`, answerTimeoutMs, () => handle.query(environmentQuery));
      const approvedUnder = state.policy;
      if (!state.serving || approvedUnder?.name !== name) continue;
      const where = { model: state.model, environment: state.environment };
      if (approvedUnder.version === loaded.policy.version) {
        skipped.push({ ...where, reason: `approved under the current version ${loaded.policy.version}` });
        continue;
      }
      try {
        const result = await askWorker(deps.client, `lifecycle ${execution.workflowId}`, answerTimeoutMs, () =>
          handle.executeUpdate(environmentUpdates.recertify, {
            args: [{ actor, trigger: 'policy_change', reason: `policy ${name} changed from ${approvedUnder.version} to ${loaded.policy.version}: ${body.reason}`, requestId: `policy:${name}:${loaded.policy.version}:${execution.workflowId}` }],
          }),
        );
        started.push({ ...where, promotionId: result.promotionId });
      } catch (err) {
        skipped.push({ ...where, reason: lifecycleError(err, execution.workflowId).message });
      }
    }
    res.status(202).json({ policy: name, version: loaded.policy.version, started, skipped });
  });
  return router;
}

/**
 * `POST /v1/promotions/{id}/deployment`: an asynchronous deployer reports completion. No bearer
 * token: the report carries `X-Modelgate-Timestamp` (Unix seconds, within 5 minutes of the API's
 * clock) and `X-Modelgate-Signature` (HMAC-SHA256 of `<timestamp>.<deploymentId>.<body>` with the
 * deployer's key, the variable the promotion's policy names), for the deployment id the promotion
 * awaits now. Mounted before the JSON parser (it needs the raw body).
 */
export function deploymentReportRoutes(deps: { client: Client; pool: Pool; env?: NodeJS.ProcessEnv; workerAnswerTimeoutMs?: number }): Router {
  const router = Router();
  const answerTimeoutMs = deps.workerAnswerTimeoutMs ?? WORKER_ANSWER_TIMEOUT_MS;
  const env = deps.env ?? process.env;
  router.post('/:id/deployment', express.raw({ type: () => true, limit: '64kb' }), async (req, res) => {
    const promotionId = parseInput(PromotionIdSchema, req.params.id, 'path');
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const refuse = async (error: ApiError) => {
      await logRefusedAttempt(deps.pool, { actor: 'deployer', promotionId, action: 'report_deployment', statusCode: error.status, reason: error.message }).catch(() => undefined);
      throw error;
    };
    const handle = deps.client.workflow.getHandle(promotionId);
    let secretEnv: string | undefined;
    let awaited: string | undefined;
    try {
      const deployment = (await askWorker(deps.client, `promotion ${promotionId}`, answerTimeoutMs, () => handle.query(stateQuery))).deployment;
      secretEnv = deployment?.status === 'awaiting_completion' ? deployment.secretEnv : undefined;
      awaited = deployment?.deploymentId;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ApiError('not_found', `no promotion ${promotionId}`);
      throw err;
    }
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
    try {
      await askWorker(deps.client, `promotion ${promotionId}`, answerTimeoutMs, () => handle.executeUpdate(completeDeploymentUpdate, { args: [report] }));
    } catch (err) {
      if (err instanceof ApiError) throw err;
      if (err instanceof WorkflowUpdateFailedError) return refuse(new ApiError('conflict', err.cause?.message ?? err.message));
      if (err instanceof WorkflowNotFoundError || /already completed/i.test(err instanceof Error ? err.message : '')) {
        return refuse(new ApiError('conflict', `promotion ${promotionId} has ended; it takes no more reports`));
      }
      throw err;
    }
    res.json({ promotionId, deploymentId: report.deploymentId, accepted: true });
  });
  return router;
}

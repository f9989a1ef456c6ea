// `/v1/policies`: the loaded policies, and re-certification of what was approved under an
// earlier version of one.
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { type Client, WorkflowUpdateFailedError } from '@temporalio/client';
import { Router } from 'express';
import { z } from 'zod';
import type { LoadedPolicy } from '../policy/load';
import { ENVIRONMENT_WORKFLOW_TYPE, environmentQuery, environmentUpdates } from '../shared/environment';
import { ApiError } from './errors';
import { BEARER, bodyErrorResponses, errorResponses, json } from './openapi-parts';
import { actorOf, parseInput } from './request';
import { ModelNameSchema, PolicyListSchema, PolicyRecertificationRequestSchema } from './schemas';
import { askWorker, WORKER_ANSWER_TIMEOUT_MS } from './worker-answer';

/** What the policy routes need. */
export interface PolicyRoutesDeps {
  client: Client;
  /** Loaded policies by name. */
  policies: ReadonlyMap<string, LoadedPolicy>;
  /** Task queue of the workers (lifecycles elsewhere are not this deployment's). */
  taskQueue: string;
  /** How long a lifecycle's query or Update waits for a worker before a 503 (default {@link WORKER_ANSWER_TIMEOUT_MS}). */
  workerAnswerTimeoutMs?: number;
}

/**
 * Builds `GET /v1/policies` (the loaded policies, their versions and digests) and
 * `POST /v1/policies/{name}/recertify`: every environment whose serving version was approved
 * under another version of this policy starts a re-certification under the current one.
 */
export function policyRoutes(deps: PolicyRoutesDeps): Router {
  const router = Router();
  router.get('/', (_req, res) => {
    res.json({
      policies: [...deps.policies.values()].map((p) => ({
        name: p.policy.name,
        version: p.policy.version,
        digest: p.digest,
        environments: Object.keys(p.policy.environments),
        policy: p.policy,
      })),
    });
  });

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
        // Refused (the workflow's reason), or not answered in time (the 503's words).
        const reason = err instanceof WorkflowUpdateFailedError ? (err.cause ?? err) : err;
        skipped.push({ ...where, reason: reason instanceof Error ? reason.message : String(reason) });
      }
    }
    res.status(202).json({ policy: name, version: loaded.policy.version, started, skipped });
  });
  return router;
}

/** Registers the policy routes in the OpenAPI document. */
export function registerPolicyPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'get',
    path: '/v1/policies',
    summary: 'The loaded policies with their versions and digests',
    security: BEARER,
    responses: { 200: { description: 'the policies', content: json(PolicyListSchema) }, ...errorResponses() },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/policies/{name}/recertify',
    summary: 'Re-certify every serving version approved under an earlier version of this policy',
    security: BEARER,
    request: { params: z.object({ name: z.string() }), body: { required: true, content: json(PolicyRecertificationRequestSchema) } },
    responses: { 202: { description: 'the re-certifications started and the environments skipped (with the reason)' }, ...bodyErrorResponses(400, 401, 403, 404) },
  });
}

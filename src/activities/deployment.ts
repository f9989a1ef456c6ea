import { ApplicationFailure, Context } from '@temporalio/activity';
import { deployWithGitOps, GitOpsConfigurationError, revertGitOps } from '../deployment/gitops';
import { DeploymentRefusedError, sendWebhookDeployment } from '../deployment/webhook';
import type { PromotionManifest } from '../manifest/schema';
import { loadPolicyDir } from '../policy/load';
import type { ResolvedDeployment } from '../policy/resolved';
import { startPromotion } from '../promotions/start';
import { DeploymentFailureType, type DeploymentOutcome, type DeploymentRequest } from '../shared/deployment';
import {
  environmentSignals,
  ENVIRONMENT_WORKFLOW_TYPE,
  environmentWorkflowId,
  type EnvironmentAnnouncement,
} from '../shared/environment';

/** What the deployment activities need from their process. */
export interface DeploymentActivityDeps {
  /** Where the policy files are (re-certification runs under the current one). */
  policyDir: string;
  /** Task queue of promotions. */
  taskQueue: string;
  /** Base URL of the API (where asynchronous deployers report completion). */
  publicUrl: string;
  /** Variables holding provider secrets (defaults to the process's). */
  env?: NodeJS.ProcessEnv;
}

function secretOf(env: NodeJS.ProcessEnv, name: string): string {
  const secret = env[name];
  if (!secret) {
    throw ApplicationFailure.create({
      type: DeploymentFailureType.misconfigured,
      nonRetryable: true,
      message: `${name} is not set on the worker: the webhook deployer's signing key is missing`,
    });
  }
  return secret;
}

function asFailure(err: unknown): never {
  if (err instanceof DeploymentRefusedError) {
    throw ApplicationFailure.create({ type: DeploymentFailureType.refused, nonRetryable: true, message: err.message });
  }
  if (err instanceof GitOpsConfigurationError) {
    throw ApplicationFailure.create({ type: DeploymentFailureType.misconfigured, nonRetryable: true, message: err.message });
  }
  throw err;
}

/** Where an asynchronous deployer reports a promotion's deployment: `POST /v1/promotions/{id}/deployment`. */
export function deploymentCallbackUrl(publicUrl: string, promotionId: string): string {
  return `${publicUrl.replace(/\/$/, '')}/v1/promotions/${encodeURIComponent(promotionId)}/deployment`;
}

/** Activities that provision deployments, undo them, and keep each environment's lifecycle workflow informed. */
export function createDeploymentActivities(deps: DeploymentActivityDeps) {
  const env = deps.env ?? process.env;
  return {
    /**
     * Provisions a deployment through the environment's provider. Idempotent per
     * `request.deploymentId`: the webhook's `Idempotency-Key`, GitOps' commit trailer.
     */
    async provisionDeployment(input: { provider: ResolvedDeployment; request: DeploymentRequest }): Promise<DeploymentOutcome> {
      try {
        if (input.provider.provider === 'webhook') {
          const request =
            input.provider.completion === 'callback'
              ? { ...input.request, callbackUrl: deploymentCallbackUrl(deps.publicUrl, input.request.promotionId) }
              : input.request;
          return await sendWebhookDeployment(input.provider, secretOf(env, input.provider.secretEnv), request);
        }
        return await deployWithGitOps(input.provider, input.request);
      } catch (err) {
        return asFailure(err);
      }
    },

    /**
     * Compensation after a deployment finally failed: GitOps reverts what was written or
     * committed; a webhook deployer is sent a signed `cancel` for the deployment id.
     */
    async compensateDeployment(input: { provider: ResolvedDeployment; request: DeploymentRequest }): Promise<DeploymentOutcome> {
      try {
        if (input.provider.provider === 'webhook') {
          return await sendWebhookDeployment(input.provider, secretOf(env, input.provider.secretEnv), input.request, 'cancel');
        }
        return await revertGitOps(input.provider, input.request);
      } catch (err) {
        return asFailure(err);
      }
    },

    /**
     * Tells the environment's lifecycle workflow (one per model and environment) what happened,
     * starting it if it does not run yet.
     */
    async announceToEnvironment(announcement: EnvironmentAnnouncement): Promise<void> {
      const { client } = Context.current();
      await client.workflow.signalWithStart(ENVIRONMENT_WORKFLOW_TYPE, {
        workflowId: environmentWorkflowId(announcement.model, announcement.environment),
        taskQueue: deps.taskQueue,
        args: [{ model: announcement.model, environment: announcement.environment }],
        signal: environmentSignals.announce,
        signalArgs: [announcement],
        staticSummary: `Lifecycle of ${announcement.model} in ${announcement.environment}: approval expiry, re-certification, rollback`,
      });
    },

    /**
     * Starts a re-certification of the serving version under the current policy of the same
     * name (checks re-run, gates as the policy says now). Idempotent: the workflow id carries
     * the sequence number.
     */
    async startRecertification(input: {
      manifest: PromotionManifest;
      policyName: string;
      sequence: number;
      reason: string;
      trigger: 'expiry' | 'drift' | 'policy_change';
      requestedBy: string;
    }): Promise<{ promotionId: string }> {
      const policies = await loadPolicyDir(deps.policyDir);
      const policy = policies.get(input.policyName);
      if (!policy) {
        throw ApplicationFailure.create({
          type: 'PolicyMissing',
          nonRetryable: true,
          message: `policy "${input.policyName}" is no longer in ${deps.policyDir} (have: ${[...policies.keys()].join(', ')})`,
        });
      }
      const { client } = Context.current();
      const started = await startPromotion(client, {
        manifest: input.manifest,
        submitter: { id: 'modelgate', roles: [] },
        policy,
        taskQueue: deps.taskQueue,
        recertification: { sequence: input.sequence, reason: input.reason, trigger: input.trigger, requestedBy: input.requestedBy },
      });
      return { promotionId: started.promotionId };
    },
  };
}

/** The deployment activities' interface, for the workflows' proxies. */
export type DeploymentActivities = ReturnType<typeof createDeploymentActivities>;

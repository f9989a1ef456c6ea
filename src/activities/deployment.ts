import { ApplicationFailure, Context } from '@temporalio/activity';
import { checkVerifiedCopy } from '../checks/artifact-source';
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
  /** The worker's content-addressed store of verified artifacts (ARTIFACT_STORE_DIR). */
  artifactStoreDir?: string;
  /** How deployers reach that store (ARTIFACT_STORE_URI), e.g. `pvc://modelgate-artifact-store`. */
  artifactStoreUri?: string;
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

/**
 * Before a deployment hands the artifact on: when the checks kept a verified copy, it must still be
 * in the store with the approved digest (re-hashed now), and deployers are pointed at it
 * (`verifiedUri`) when the store is reachable to them. A missing or altered copy fails the
 * deployment (not retried): nothing but the bytes that were scanned may be deployed.
 */
async function withVerifiedCopy(request: DeploymentRequest, deps: DeploymentActivityDeps): Promise<DeploymentRequest> {
  const { verifiedCopy, sha256 } = request.artifact;
  if (!verifiedCopy) return request;
  if (!deps.artifactStoreDir || !verifiedCopy.startsWith(`sha256/${sha256}/`)) {
    throw ApplicationFailure.create({ type: DeploymentFailureType.refused, nonRetryable: true, message: `the verified copy ${verifiedCopy} does not name the approved digest or no store is configured` });
  }
  const state = await checkVerifiedCopy(deps.artifactStoreDir, verifiedCopy);
  if (state !== 'intact') {
    throw ApplicationFailure.create({
      type: DeploymentFailureType.refused,
      nonRetryable: true,
      message: `the verified copy of sha256 ${sha256} is ${state} in the artifact store: refusing to deploy bytes that were not scanned`,
    });
  }
  return deps.artifactStoreUri ? { ...request, artifact: { ...request.artifact, verifiedUri: `${deps.artifactStoreUri.replace(/\/$/, '')}/${verifiedCopy}` } } : request;
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
        const verified = await withVerifiedCopy(input.request, deps);
        if (input.provider.provider === 'webhook') {
          const request =
            input.provider.completion === 'callback'
              ? { ...verified, callbackUrl: deploymentCallbackUrl(deps.publicUrl, input.request.promotionId) }
              : verified;
          return await sendWebhookDeployment(input.provider, secretOf(env, input.provider.secretEnv), request);
        }
        return await deployWithGitOps(input.provider, verified);
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
      /** People who may not decide on the re-certification (the version's submitter, the requester). */
      excluded?: string[];
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
        recertification: {
          sequence: input.sequence,
          reason: input.reason,
          trigger: input.trigger,
          requestedBy: input.requestedBy,
          ...(input.excluded?.length ? { excluded: input.excluded } : {}),
        },
      });
      return { promotionId: started.promotionId };
    },
  };
}

/** The deployment activities' interface, for the workflows' proxies. */
export type DeploymentActivities = ReturnType<typeof createDeploymentActivities>;

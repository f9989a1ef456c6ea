// Workflow-safe types of deployments: what a promotion (or a rollback) asks a provider to do,
// and what the provider answers.

/** A deployment asked of an environment's provider. */
export interface DeploymentRequest {
  /**
   * Idempotency key: one per promotion or rollback. A provider given the same id twice deploys
   * once (`Idempotency-Key` of the webhook, commit trailer of GitOps).
   */
  deploymentId: string;
  /** `deploy` after an approval, `rollback` back to a previous approved version. */
  action: 'deploy' | 'rollback';
  /** The promotion (or rollback) on whose behalf the deployment is made. */
  promotionId: string;
  model: string;
  version: string;
  environment: string;
  /**
   * The approved artifact. `verifiedCopy`: where the checks kept the bytes they hashed and scanned,
   * relative to the worker's artifact store (`sha256/<digest>/<kind>-<listing>`); the deployment re-verifies it.
   * `verifiedUri`: how deployers reach that copy (`ARTIFACT_STORE_URI` + `/` + `verifiedCopy`), when configured.
   */
  artifact: { uri: string; sha256: string; format: string; verifiedCopy?: string; verifiedUri?: string };
  /** The version serving the environment now, if any. */
  previousVersion?: string;
  /** Where an asynchronous deployer reports completion (webhook `callback` mode). */
  callbackUrl?: string;
}

/** What a provider did. */
export interface DeploymentOutcome {
  provider: 'webhook' | 'gitops';
  /** `deployed`: done. `accepted`: an asynchronous deployer will report through the API. */
  status: 'deployed' | 'accepted';
  /** The provider's reference: the commit of a GitOps change, the deployer's id of a webhook. */
  reference?: string;
  detail: string;
}

/** A deployer's report of an asynchronous deployment, delivered through the API. */
export interface DeploymentCompletion {
  deploymentId: string;
  status: 'succeeded' | 'failed';
  detail?: string;
  reference?: string;
}

/** Deployment id of a promotion's deployment. */
export function promotionDeploymentId(promotionId: string): string {
  return `${promotionId}#deploy`;
}

/** Failure types after which a deployment is not retried: the deployer refused it, or the provider is misconfigured. */
export const DeploymentFailureType = {
  refused: 'DeploymentRefused',
  misconfigured: 'DeploymentMisconfigured',
} as const;

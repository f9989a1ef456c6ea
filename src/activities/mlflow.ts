// Decisions written back to the MLflow Model Registry: on approval the environment's governed
// alias is moved to the version and the version is tagged with the promotion, its evidence and
// its policy. Idempotent (setting a tag or an alias twice changes nothing), so retried freely.
import { ApplicationFailure } from '@temporalio/common';
import { mlflowModelOf } from '../manifest/schema';
import { MLFLOW_TAGS, type MlflowClient } from '../sources/mlflow';

export { MLFLOW_TAGS };

/** What the MLflow activities need from the worker. */
export interface MlflowActivityDeps {
  /** The configured tracking server (MLFLOW_TRACKING_URI), when there is one. */
  client?: MlflowClient;
  /** Environment → the alias Modelgate governs there (MLFLOW_ALIASES). */
  aliases: Readonly<Record<string, string>>;
}

/** One decision to write back. */
export interface MlflowWriteBack {
  promotionId: string;
  /** The promotion's artifact URI (`models:/<name>/<version>`). */
  artifactUri: string;
  environment: string;
  decision: 'approved' | 'rejected';
  evidenceDigest: string;
  /** `name@version` of the policy that decided. */
  policy: string;
  /** When it was decided (ISO 8601, from the workflow). */
  decidedAt: string;
}

/** Builds the MLflow write-back activities. */
export function createMlflowActivities(deps: MlflowActivityDeps) {
  return {
    /**
     * Tags the version with the decision and, on approval, moves the environment's alias to it.
     * @returns the alias moved, if any.
     */
    async writeBackToMlflow(input: MlflowWriteBack): Promise<{ alias?: string }> {
      const named = mlflowModelOf(input.artifactUri);
      if (!named) throw ApplicationFailure.nonRetryable('the artifact is not a models:/ URI', 'MlflowNotApplicable');
      if (!deps.client) throw ApplicationFailure.nonRetryable('MLFLOW_TRACKING_URI is not set on the worker: nothing was written to MLflow', 'MlflowNotConfigured');
      const { model, version } = named;
      const tags: Array<[string, string]> = [
        [MLFLOW_TAGS.status, input.decision],
        [MLFLOW_TAGS.promotionId, input.promotionId],
        [MLFLOW_TAGS.environment, input.environment],
        [MLFLOW_TAGS.evidenceDigest, input.evidenceDigest],
        [MLFLOW_TAGS.policy, input.policy],
        ...(input.decision === 'approved' ? ([[MLFLOW_TAGS.approvedAt, input.decidedAt]] as Array<[string, string]>) : []),
      ];
      for (const [key, value] of tags) await deps.client.setModelVersionTag(model, version, key, value);
      const alias = deps.aliases[input.environment];
      if (input.decision === 'approved' && alias) {
        await deps.client.setAlias(model, alias, version);
        return { alias };
      }
      return {};
    },
  };
}

/** The MLflow activities' interface (workflows import the type only). */
export type MlflowActivities = ReturnType<typeof createMlflowActivities>;

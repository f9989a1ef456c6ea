// Decisions written back to the MLflow Model Registry, and the guard of the governed aliases. On
// approval the environment's governed alias is moved to the version and the version is tagged with
// the promotion, its evidence and its policy; on rejection the version is tagged and the alias, if
// it points at it, moved back to the version approved and serving (or deleted); on a rollback the
// alias follows the version rolled back to. The guard finds governed aliases pointing at versions
// Modelgate did not approve for the environment and moves them back. Every write is idempotent
// (setting a tag or an alias twice changes nothing), so retried freely.
import { ApplicationFailure } from '@temporalio/common';
import type { Pool } from 'pg';
import { mlflowModelOf } from '../manifest/schema';
import { loadPolicyDir } from '../policy/load';
import { governedAliasStates } from '../registry/mlflow-aliases';
import type { MlflowAliasSet } from '../shared/mlflow-alias-guard';
import { isPassingMlflowError, MLFLOW_TAGS, MlflowError, type MlflowClient } from '../sources/mlflow';

export { MLFLOW_TAGS };

/** The notification event of an alias moved outside Modelgate. */
export const UNAUTHORIZED_ALIAS_MOVE = 'unauthorized_alias_move';

/** What the MLflow activities need from the worker. */
export interface MlflowActivityDeps {
  /** The configured tracking server (MLFLOW_TRACKING_URI), when there is one. */
  client?: MlflowClient;
  /** Environment → the alias Modelgate governs there (MLFLOW_ALIASES). */
  aliases: Readonly<Record<string, string>>;
  /** The registry: which version is approved and serving where. */
  pool: Pool;
  /** Folder of the policy files: their notification targets of {@link UNAUTHORIZED_ALIAS_MOVE}. */
  policyDir: string;
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

/** What a write-back did to the governed alias. */
export interface MlflowAliasOutcome {
  alias?: string;
  /** On rejection: the version the alias was moved back to, or `deleted`. */
  aliasRestored?: string;
}

/** A rollback to write back: the alias moves to `toArtifactUri`'s version. */
export interface MlflowRollbackWriteBack {
  rollbackId: string;
  environment: string;
  fromArtifactUri: string;
  toArtifactUri: string;
}

/** A governed alias found pointing at a version not approved for its environment. */
export interface UnauthorizedAliasMove {
  model: string;
  environment: string;
  alias: string;
  /** The version the alias pointed at. */
  found: string;
  /** The version it belongs at (approved and serving); absent: the alias is to be deleted. */
  restoreTo?: string;
  /** Notification targets subscribed to {@link UNAUTHORIZED_ALIAS_MOVE}. */
  urls: string[];
}

/**
 * Rethrows an MLflow failure for the guard's activities: one that may pass (network, 5xx, 429) as
 * is (retried); any other answer (403, 404, a malformed answer, …) as final, `MlflowRefused`.
 */
function refusedOrPassing(err: unknown): never {
  if (err instanceof MlflowError && !isPassingMlflowError(err)) throw ApplicationFailure.nonRetryable(err.message, 'MlflowRefused');
  throw err;
}

/** Most models one alias report may name; reports beyond are covered by the next reconciliation. */
const MAX_REPORTED_MODELS = 100;

/** Builds the MLflow write-back and alias-guard activities. */
export function createMlflowActivities(deps: MlflowActivityDeps) {
  const clientOrFail = (): MlflowClient => {
    if (!deps.client) throw ApplicationFailure.nonRetryable('MLFLOW_TRACKING_URI is not set on the worker: nothing was written to MLflow', 'MlflowNotConfigured');
    return deps.client;
  };
  const modelOrFail = (uri: string) => {
    const named = mlflowModelOf(uri);
    if (!named) throw ApplicationFailure.nonRetryable('the artifact is not a models:/ URI', 'MlflowNotApplicable');
    return named;
  };
  /** Where the alias belongs in `environment`: the version approved and serving there, if any. */
  const servingOf = async (model: string, environment: string): Promise<string | undefined> => (await governedAliasStates(deps.pool, environment, [model]))[0]?.serving;
  /** Moves `alias` back to `version`, or deletes it when there is none. */
  const restore = async (client: MlflowClient, model: string, alias: string, version: string | undefined): Promise<string> => {
    if (version) await client.setAlias(model, alias, version);
    else await client.deleteAlias(model, alias);
    return version ?? 'deleted';
  };

  return {
    /**
     * Tags the version with the decision. On approval the environment's alias moves to it; on
     * rejection an alias pointing at it moves back to the version approved and serving (or is deleted).
     */
    async writeBackToMlflow(input: MlflowWriteBack): Promise<MlflowAliasOutcome> {
      const { model, version } = modelOrFail(input.artifactUri);
      const client = clientOrFail();
      const tags: Array<[string, string]> = [
        [MLFLOW_TAGS.status, input.decision],
        [MLFLOW_TAGS.promotionId, input.promotionId],
        [MLFLOW_TAGS.environment, input.environment],
        [MLFLOW_TAGS.evidenceDigest, input.evidenceDigest],
        [MLFLOW_TAGS.policy, input.policy],
        ...(input.decision === 'approved' ? ([[MLFLOW_TAGS.approvedAt, input.decidedAt]] as Array<[string, string]>) : []),
      ];
      for (const [key, value] of tags) await client.setModelVersionTag(model, version, key, value);
      const alias = deps.aliases[input.environment];
      if (!alias) return {};
      if (input.decision === 'approved') {
        await client.setAlias(model, alias, version);
        return { alias };
      }
      if ((await client.versionOfAlias(model, alias)) !== version) return {};
      return { alias, aliasRestored: await restore(client, model, alias, await servingOf(model, input.environment)) };
    },

    /** After a rollback: the alias moves to the version rolled back to; both versions are tagged with the rollback. */
    async writeRollbackToMlflow(input: MlflowRollbackWriteBack): Promise<MlflowAliasOutcome> {
      const to = modelOrFail(input.toArtifactUri);
      const from = mlflowModelOf(input.fromArtifactUri);
      const client = clientOrFail();
      if (from && from.model === to.model) {
        await client.setModelVersionTag(from.model, from.version, MLFLOW_TAGS.status, 'rolled_back');
        await client.setModelVersionTag(from.model, from.version, MLFLOW_TAGS.rollbackId, input.rollbackId);
      }
      await client.setModelVersionTag(to.model, to.version, MLFLOW_TAGS.status, 'approved');
      await client.setModelVersionTag(to.model, to.version, MLFLOW_TAGS.rollbackId, input.rollbackId);
      const alias = deps.aliases[input.environment];
      if (!alias) return {};
      await client.setAlias(to.model, alias, to.version);
      return { alias };
    },

    /**
     * Reads each governed alias (MLFLOW_ALIASES) of each model Modelgate knows in its environment
     * (only the reported ones when `reported` is given) and returns those pointing at a version not
     * approved for that environment; a model MLflow refuses to read is skipped. Reads only: the
     * guard records each move before restoring it.
     */
    async findUnauthorizedAliases(input: { reported?: MlflowAliasSet[] }): Promise<UnauthorizedAliasMove[]> {
      const client = clientOrFail();
      let urls: string[] | undefined;
      const moves: UnauthorizedAliasMove[] = [];
      for (const [environment, alias] of Object.entries(deps.aliases)) {
        const reported = input.reported?.filter((r) => r.alias === alias).map((r) => r.model).slice(0, MAX_REPORTED_MODELS);
        if (reported && reported.length === 0) continue;
        for (const state of await governedAliasStates(deps.pool, environment, reported)) {
          let found: string | undefined;
          try {
            found = await client.versionOfAlias(state.model, alias);
          } catch (err) {
            // MLflow refusing one model (403, 404, a malformed answer) skips it; MLflow down fails the round (retried).
            if (isPassingMlflowError(err) || !(err instanceof MlflowError)) throw err;
            continue;
          }
          if (found === undefined || found === state.serving || state.approvedSince.includes(found)) continue;
          urls ??= await notificationTargets(deps.policyDir);
          moves.push({ model: state.model, environment, alias, found, ...(state.serving ? { restoreTo: state.serving } : {}), urls });
        }
      }
      return moves;
    },

    /**
     * Moves a governed alias back to where it belongs (or deletes it), unless it no longer points
     * at the version found (Modelgate moved it meanwhile). Where it belongs is read again here.
     * MLflow refusing (any answer but unavailable) fails it for good (`MlflowRefused`, not retried).
     * @returns the version restored, `deleted`, or `unchanged`.
     */
    async restoreGovernedAlias(move: Pick<UnauthorizedAliasMove, 'model' | 'environment' | 'alias' | 'found'>): Promise<{ restored: string }> {
      const client = clientOrFail();
      if (deps.aliases[move.environment] !== move.alias) throw ApplicationFailure.nonRetryable(`${move.alias} is not the governed alias of ${move.environment}`, 'MlflowNotApplicable');
      if ((await client.versionOfAlias(move.model, move.alias).catch(refusedOrPassing)) !== move.found) return { restored: 'unchanged' };
      const state = (await governedAliasStates(deps.pool, move.environment, [move.model]))[0];
      if (state?.approvedSince.includes(move.found)) return { restored: 'unchanged' };
      return { restored: await restore(client, move.model, move.alias, state?.serving).catch(refusedOrPassing) };
    },
  };
}

/** The notification targets of every policy subscribed to {@link UNAUTHORIZED_ALIAS_MOVE} (or `*`), each once. */
async function notificationTargets(policyDir: string): Promise<string[]> {
  const urls = new Set<string>();
  for (const loaded of (await loadPolicyDir(policyDir)).values()) {
    for (const target of loaded.policy.notifications) if (target.events.includes('*') || target.events.includes(UNAUTHORIZED_ALIAS_MOVE)) urls.add(target.url);
  }
  return [...urls];
}

/** The MLflow activities' interface (workflows import the type only). */
export type MlflowActivities = ReturnType<typeof createMlflowActivities>;

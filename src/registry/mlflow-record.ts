// The MLflow Model Registry as an environment's registry of record. MLflow holds no approvals:
// approvals, claims, owners and deployments stay in PostgreSQL (the built-in registry). What the
// record answers — which version serves the environment (its governed alias) and a version's
// registration (its pinned digest, tagged by Modelgate) — is read from MLflow and believed only
// when PostgreSQL confirms it: the alias target must hold a valid approval for the environment and
// the alias target must be the version deployed there or one approved since, and
// the digest tag must be the digest PostgreSQL pinned. Anything else is a RegistryDisagreement,
// reported to `onDisagreement` (the audit) before the read fails.
import { MLFLOW_TAGS, type MlflowClient, MlflowError } from '../sources/mlflow';
import { RegistryDisagreement, type RegistryDisagreementDetail } from './disagreement';
import type { Registry } from './port';

/** What the MLflow record of one environment needs. */
export interface MlflowRecordDeps {
  /** The built-in registry (PostgreSQL): approvals, claims, owners, deployments. */
  builtin: Registry;
  client: MlflowClient;
  /** The environment whose record this is. */
  environment: string;
  /** Its governed alias (MLFLOW_ALIASES). */
  alias: string;
  /** Records a disagreement (the audit); called before the read fails. */
  onDisagreement: (detail: RegistryDisagreementDetail) => Promise<void>;
  /**
   * Where PostgreSQL says the alias of `model` may point: the version deployed to the environment,
   * or one approved since (its deployment in flight: the approval write-back moves the alias first).
   */
  aliasTargets: (model: string) => Promise<{ serving?: string; approvedSince: readonly string[] }>;
}

/** {@link Registry} of one environment whose record is the MLflow Model Registry. */
export function createMlflowRecordRegistry(deps: MlflowRecordDeps): Registry {
  const { builtin, client, environment, alias } = deps;

  async function disagree(detail: Omit<RegistryDisagreementDetail, 'environment'>): Promise<never> {
    const full = { ...detail, environment };
    await deps.onDisagreement(full);
    throw new RegistryDisagreement(full);
  }

  /** The MLflow version, or undefined when MLflow has no such version. */
  async function mlflowVersion(model: string, version: string) {
    try {
      return await client.getModelVersion(model, version);
    } catch (err) {
      if (err instanceof MlflowError && (err.code === 'RESOURCE_DOES_NOT_EXIST' || err.code === 'INVALID_PARAMETER_VALUE')) return undefined;
      throw err;
    }
  }

  /** Checks MLflow's version against the digest PostgreSQL pinned; a missing tag is no contradiction unless `tagRequired`. */
  async function confirmDigest(model: string, version: string, pinned: string, tagRequired: boolean): Promise<void> {
    const found = await mlflowVersion(model, version);
    if (!found) return disagree({ kind: 'version_missing', model, version, message: `MLflow has no version ${version} of ${model}, which Modelgate registered` });
    const tagged = found.tags[MLFLOW_TAGS.artifactSha256];
    if (tagged === undefined && !tagRequired) return;
    if (tagged !== pinned) {
      return disagree({
        kind: 'digest_mismatch',
        model,
        version,
        message: `MLflow's ${model}@${version} ${tagged === undefined ? 'carries no' : 'carries another'} ${MLFLOW_TAGS.artifactSha256} tag than the digest Modelgate pinned (${pinned.slice(0, 12)}…)`,
      });
    }
  }

  return {
    ...builtin,

    async servingVersion(model, env) {
      if (env !== environment) throw new Error(`the MLflow record of ${environment} was asked about ${env}`);
      const target = await client.versionOfAlias(model, alias);
      if (target === undefined) {
        const served = await builtin.servingVersion(model, environment);
        if (served) {
          return disagree({ kind: 'alias_missing', model, version: served.version, message: `MLflow's alias ${alias} of ${model} is not set, but Modelgate deployed ${model}@${served.version} to ${environment}` });
        }
        return undefined;
      }
      const approval = await builtin.approvalOf(model, target, environment);
      if (!approval || approval.status !== 'approved' || !(approval.validUntil.getTime() > Date.now())) {
        const state = !approval ? 'holds no approval of it' : approval.status !== 'approved' ? `holds its approval as ${approval.status}` : 'holds an expired approval of it';
        return disagree({
          kind: 'alias_on_unapproved_version',
          model,
          version: target,
          message: `MLflow's alias ${alias} of ${model} points at version ${target}, but Modelgate ${state} for ${environment}`,
        });
      }
      // Approved is not enough: an older approved version is not the one serving.
      const allowed = await deps.aliasTargets(model);
      if (target !== allowed.serving && !allowed.approvedSince.includes(target)) {
        return disagree({
          kind: 'alias_off_deployed_version',
          model,
          version: target,
          message: `MLflow's alias ${alias} of ${model} points at version ${target}, which is neither the version Modelgate deployed to ${environment}${allowed.serving ? ` (${allowed.serving})` : ''} nor one approved since`,
        });
      }
      const registered = await builtin.findVersion(model, target);
      if (!registered) return disagree({ kind: 'version_missing', model, version: target, message: `MLflow's alias ${alias} of ${model} points at version ${target}, which Modelgate never registered` });
      await confirmDigest(model, target, registered.sha256, true);
      return { version: target, metrics: registered.metrics };
    },

    async findVersion(model, version) {
      const registered = await builtin.findVersion(model, version);
      if (registered) await confirmDigest(model, version, registered.sha256, false);
      return registered;
    },

    async digestOf(model, version) {
      const pinned = await builtin.digestOf(model, version);
      if (pinned) await confirmDigest(model, version, pinned, false);
      return pinned;
    },

    /** Tags the MLflow version with the pinned digest (what later reads check), then records the approval in PostgreSQL. */
    async recordApproval(approval) {
      const pinned = await builtin.digestOf(approval.model, approval.version);
      if (!pinned) {
        return disagree({ kind: 'version_missing', model: approval.model, version: approval.version, message: `${approval.model}@${approval.version} is not registered in Modelgate: its approval cannot be recorded` });
      }
      await client.setModelVersionTag(approval.model, approval.version, MLFLOW_TAGS.artifactSha256, pinned);
      await builtin.recordApproval(approval);
    },
  };
}

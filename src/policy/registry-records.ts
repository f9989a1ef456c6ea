// Which registry is the record of each environment, as the loaded policies name it, refused when
// the policies disagree or name MLflow where this process has no MLflow to read.
import type { Policy, RegistryKind } from './schema';

/** Thrown by {@link registryRecordsOf} naming why the policies' registries cannot be used. */
export class RegistryRecordsError extends Error {
  override readonly name = 'RegistryRecordsError';
}

/**
 * The registry of record of every environment the policies govern (environments they do not
 * govern are `builtin`).
 *
 * @param mlflowConfigured whether this process can reach an MLflow tracking server
 *   (MLFLOW_TRACKING_URI) with a governed alias for each environment (`aliases`, MLFLOW_ALIASES).
 * @throws {RegistryRecordsError} when two policies name different registries for one environment,
 *   or one names `mlflow` while MLflow is not configured or the environment has no alias.
 */
export function registryRecordsOf(
  policies: Iterable<Pick<Policy, 'name' | 'environments'>>,
  mlflow: { configured: boolean; aliases: Readonly<Record<string, string>> },
): ReadonlyMap<string, RegistryKind> {
  const records = new Map<string, { kind: RegistryKind; policy: string }>();
  for (const policy of policies) {
    for (const [environment, definition] of Object.entries(policy.environments)) {
      const kind = definition.registry ?? 'builtin';
      const known = records.get(environment);
      if (known && known.kind !== kind) {
        throw new RegistryRecordsError(
          `policies ${known.policy} and ${policy.name} name different registries of record for environment ${environment} (${known.kind}, ${kind}); an environment has one record`,
        );
      }
      if (kind === 'mlflow' && !mlflow.configured) {
        throw new RegistryRecordsError(
          `policy ${policy.name} names MLflow as the registry of record of environment ${environment}, but MLFLOW_TRACKING_URI is not set on this process`,
        );
      }
      if (kind === 'mlflow' && !Object.hasOwn(mlflow.aliases, environment)) {
        throw new RegistryRecordsError(
          `policy ${policy.name} names MLflow as the registry of record of environment ${environment}, but MLFLOW_ALIASES names no alias for it`,
        );
      }
      records.set(environment, known ?? { kind, policy: policy.name });
    }
  }
  return new Map([...records].map(([environment, { kind }]) => [environment, kind]));
}

import { type CheckSettings, CheckSettingsSchema } from './check-settings';
import { DATA_CLASSIFICATIONS, mlflowModelOf, type PromotionManifest, RISK_TIERS, type RiskTier } from '../manifest/schema';
import { durationMs } from '../shared/duration';
import type { LoadedPolicy } from './load';
import type { ResolvedDeployment, ResolvedPolicy, ResolvedRetry, ResolvedStage } from './resolved';
import type { DeploymentDefinition, Policy, StageDefinition } from './schema';

/** Thrown when a manifest is valid but the policy refuses it (e.g. an unknown target): HTTP 422. */
export class PolicyRefusal extends Error {
  constructor(
    message: string,
    readonly path?: string,
  ) {
    super(message);
    this.name = 'PolicyRefusal';
  }
}

const tierRank = (tier: RiskTier) => RISK_TIERS.indexOf(tier);

/**
 * The risk tier a promotion is reviewed at: the declared tier, raised by every
 * matching `tierRaise` rule, never lowered.
 */
export function effectiveRiskTier(
  policy: Policy,
  manifest: PromotionManifest,
): { tier: RiskTier; reasons: string[] } {
  let tier = manifest.model.riskTier;
  const reasons: string[] = [];
  const trainingData = manifest.lineage.trainingData;
  for (const rule of policy.tierRaise) {
    const w = rule.when;
    if (w.targets && !w.targets.includes(manifest.target)) continue;
    if (w.containsPersonalData !== undefined && trainingData?.containsPersonalData !== w.containsPersonalData) continue;
    if (
      w.classificationAtLeast !== undefined &&
      (!trainingData ||
        DATA_CLASSIFICATIONS.indexOf(trainingData.classification) < DATA_CLASSIFICATIONS.indexOf(w.classificationAtLeast))
    ) {
      continue;
    }
    if (tierRank(rule.raiseTo) > tierRank(tier)) {
      tier = rule.raiseTo;
      reasons.push(rule.reason);
    }
  }
  return { tier, reasons };
}

/** Deep-merges check overrides over settings, then validates the result. */
function mergeChecks(base: CheckSettings, ...overrides: Array<Record<string, unknown> | undefined>): CheckSettings {
  const merged: Record<string, Record<string, unknown>> = structuredClone(base) as never;
  for (const layer of overrides) {
    for (const [check, settings] of Object.entries(layer ?? {})) {
      merged[check] = { ...merged[check], ...(settings as Record<string, unknown>) };
    }
  }
  return CheckSettingsSchema.parse(merged);
}

function resolveStages(stages: StageDefinition[]): ResolvedStage[] {
  return stages.map((stage) => ({
    name: stage.name,
    gates: stage.gates.map((gate) => ({
      name: gate.name,
      title: gate.title ?? gate.name,
      roles: gate.roles,
      quorum: gate.quorum,
      ...(gate.sla ? { slaMs: durationMs(gate.sla) } : {}),
      escalateTo: gate.escalateTo,
      ...(gate.timeout ? { timeoutMs: durationMs(gate.timeout) } : {}),
      onTimeout: gate.onTimeout,
    })),
  }));
}

function resolveRetry(retry: DeploymentDefinition['retry']): ResolvedRetry {
  return {
    maximumAttempts: retry.maximumAttempts,
    initialIntervalMs: durationMs(retry.initialInterval),
    backoffCoefficient: retry.backoffCoefficient,
    maximumIntervalMs: durationMs(retry.maximumInterval),
  };
}

/** An environment's provider with durations in milliseconds. */
export function resolveDeployment(deployment: DeploymentDefinition): ResolvedDeployment {
  if (deployment.provider === 'webhook') {
    return {
      provider: 'webhook',
      url: deployment.url,
      secretEnv: deployment.secretEnv,
      completion: deployment.completion,
      callbackTimeoutMs: durationMs(deployment.callbackTimeout),
      requestTimeoutMs: durationMs(deployment.requestTimeout),
      retry: resolveRetry(deployment.retry),
    };
  }
  return {
    provider: 'gitops',
    repository: deployment.repository,
    path: deployment.path,
    remote: deployment.remote,
    branch: deployment.branch,
    namespace: deployment.namespace,
    requestTimeoutMs: durationMs(deployment.requestTimeout),
    retry: resolveRetry(deployment.retry),
  };
}

/**
 * Resolves a policy for one manifest: effective tier, check settings
 * (defaults ← tier ← environment ← environment's tier), auto-approval, stages and
 * every other rule the promotion will be decided by.
 *
 * @throws {PolicyRefusal} when the policy does not govern the manifest's target.
 */
export function resolvePolicy(loaded: LoadedPolicy, manifest: PromotionManifest): ResolvedPolicy {
  const { policy } = loaded;
  const environment = policy.environments[manifest.target];
  if (!environment) {
    throw new PolicyRefusal(
      `policy ${policy.name}@${policy.version} does not govern target "${manifest.target}" (known: ${Object.keys(policy.environments).join(', ')})`,
      'target',
    );
  }
  if (environment.registry === 'mlflow' && !mlflowModelOf(manifest.artifact.uri)) {
    throw new PolicyRefusal(
      `the registry of record of "${manifest.target}" is MLflow (policy ${policy.name}@${policy.version}): its artifact must be a models:/<name>/<version> URI`,
      'artifact.uri',
    );
  }
  const { tier, reasons } = effectiveRiskTier(policy, manifest);
  const tierRules = policy.tiers[tier];
  const environmentTierRules = environment.tiers?.[tier];
  const rules = environmentTierRules ?? tierRules;
  const checks = mergeChecks(
    CheckSettingsSchema.parse({}),
    policy.checks,
    tierRules.checks,
    environment.checks,
    environmentTierRules?.checks,
  );
  return {
    name: policy.name,
    version: policy.version,
    digest: loaded.digest,
    target: manifest.target,
    declaredTier: manifest.model.riskTier,
    effectiveTier: tier,
    tierReasons: reasons,
    checks,
    ...(rules.autoApprove ? { autoApprove: rules.autoApprove } : {}),
    stages: resolveStages(rules.stages),
    separationOfDuties: policy.separationOfDuties,
    overrides: policy.overrides,
    operatorSignals: policy.operatorSignals,
    expedite: {
      ...(policy.expedite.sla ? { slaMs: durationMs(policy.expedite.sla) } : {}),
      ...(policy.expedite.timeout ? { timeoutMs: durationMs(policy.expedite.timeout) } : {}),
    },
    remediationWindowMs: durationMs(policy.remediationWindow),
    approvalValidForMs: durationMs(policy.approvalValidFor),
    recertification: {
      notifyBeforeMs: durationMs(policy.recertification.notifyBefore),
      requestRoles: policy.recertification.requestRoles,
    },
    ...(environment.registry !== 'builtin' ? { registry: environment.registry } : {}),
    ...(environment.deployment ? { deployment: resolveDeployment(environment.deployment) } : {}),
    notifications: policy.notifications,
    trustedKeys: policy.trustedKeys,
    ...(policy.trustedRoots.length > 0 ? { trustedRoots: policy.trustedRoots } : {}),
  };
}

/**
 * What `modelgate check --policy` needs: the check settings, effective tier and
 * trusted keys for a manifest.
 */
export function resolveCheckSettings(
  loaded: LoadedPolicy,
  manifest: PromotionManifest,
): { settings: CheckSettings; tier: RiskTier; trustedKeys: ResolvedPolicy['trustedKeys']; trustedRoots: NonNullable<ResolvedPolicy['trustedRoots']> } {
  const resolved = resolvePolicy(loaded, manifest);
  return { settings: resolved.checks, tier: resolved.effectiveTier, trustedKeys: resolved.trustedKeys, trustedRoots: resolved.trustedRoots ?? [] };
}

// Explains what a policy means for one manifest (`modelgate policy explain`) and who may act
// under a policy at all (the role matrix of docs/security.md). Pure functions over a loaded
// policy: no I/O.
import type { CheckSettings } from './check-settings';
import { DATA_CLASSIFICATIONS, type PromotionManifest, RISK_TIERS, type RiskTier } from '../manifest/schema';
import type { LoadedPolicy } from './load';
import { resolvePolicy } from './resolve';
import type { ResolvedDeployment, ResolvedPolicy, ResolvedStage } from './resolved';
import type { Policy, RegistryKind } from './schema';

/** One `tierRaise` rule of the policy and whether it applied to the manifest. */
export interface TierRaiseExplanation {
  /** Index of the rule in the policy's `tierRaise` list. */
  index: number;
  /** The rule's conditions in words. */
  condition: string;
  raiseTo: RiskTier;
  reason: string;
  /** `raised`: the rule matched and raised the tier; `matched-no-effect`: it matched but the tier was already as high; `not-matched`: a condition does not hold. */
  outcome: 'raised' | 'matched-no-effect' | 'not-matched';
}

/** Everything the policy decides for one manifest, in the order a promotion meets it. */
export interface PolicyExplanation {
  policy: { name: string; version: string; digest: string; file: string };
  promotion: { model: string; version: string; target: string; owner: string };
  environment: { name: string; description?: string; registry: RegistryKind; deployment?: ResolvedDeployment; tierRulesFrom: 'tier' | 'environment' };
  declaredTier: RiskTier;
  effectiveTier: RiskTier;
  tierRaises: TierRaiseExplanation[];
  checks: CheckSettings;
  autoApprove?: ResolvedPolicy['autoApprove'];
  stages: ResolvedStage[];
  /** The separation-of-duties rules that apply, in words. */
  separationOfDuties: string[];
  overrides: Required<ResolvedPolicy['overrides']>;
  expedite: ResolvedPolicy['expedite'];
  remediationWindowMs: number;
  approvalValidForMs: number;
  recertification: { notifyBeforeMs: number; requestRoles: string[] };
}

/** A duration in milliseconds as a policy writes it: whole days from 10 days on, else the largest unit that divides it (`72h`, `14d`, `90s`). */
export function formatDurationMs(ms: number): string {
  const day = 86_400_000;
  if (ms >= 10 * day && ms % day === 0) return `${ms / day}d`;
  const units: Array<[string, number]> = [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ];
  for (const [unit, size] of units) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

function describeCondition(when: Policy['tierRaise'][number]['when']): string {
  const parts: string[] = [];
  if (when.containsPersonalData !== undefined) parts.push(`training data ${when.containsPersonalData ? 'contains' : 'does not contain'} personal data`);
  if (when.classificationAtLeast !== undefined) parts.push(`training data classified ${when.classificationAtLeast} or above`);
  if (when.targets !== undefined) parts.push(`target is ${when.targets.join(' or ')}`);
  return parts.join(' and ');
}

function ruleMatches(when: Policy['tierRaise'][number]['when'], manifest: PromotionManifest): boolean {
  const training = manifest.lineage.trainingData;
  if (when.targets && !when.targets.includes(manifest.target)) return false;
  if (when.containsPersonalData !== undefined && training?.containsPersonalData !== when.containsPersonalData) return false;
  if (
    when.classificationAtLeast !== undefined &&
    (!training || DATA_CLASSIFICATIONS.indexOf(training.classification) < DATA_CLASSIFICATIONS.indexOf(when.classificationAtLeast))
  ) {
    return false;
  }
  return true;
}

/** The separation-of-duties rules of a policy, in words (the workflow enforces them on every decision). */
export function separationOfDutiesRules(policy: Pick<Policy, 'separationOfDuties'>): string[] {
  return [
    'the submitter never decides, waives a check or forces a gate on their own promotion',
    "the model's owner (model.owner) never decides, waives a check or forces a gate on a promotion of their model",
    'one person decides a gate once: a second decision by the same person is refused, so a quorum of n needs n people',
    policy.separationOfDuties.allowSamePersonOnMultipleGates
      ? 'one person may sign several gates of one promotion (allowSamePersonOnMultipleGates: true)'
      : 'one person signs at most one gate per promotion (allowSamePersonOnMultipleGates: false)',
    'a revision whose evidence changes voids the approvals and waivers given for the earlier evidence',
  ];
}

/**
 * Explains the policy for a manifest: the effective tier and the `tierRaise` rules behind it,
 * the resolved check settings, auto-approval, the stages and gates, separation of duties,
 * overrides and deadlines — exactly what a promotion of this manifest would be decided by.
 *
 * @throws {PolicyRefusal} when the policy does not govern the manifest's target.
 */
export function explainPolicy(loaded: LoadedPolicy, manifest: PromotionManifest): PolicyExplanation {
  const resolved = resolvePolicy(loaded, manifest);
  const { policy } = loaded;
  const environment = policy.environments[manifest.target]!;
  let tier = manifest.model.riskTier;
  const tierRaises = policy.tierRaise.map((rule, index): TierRaiseExplanation => {
    const base = { index, condition: describeCondition(rule.when), raiseTo: rule.raiseTo, reason: rule.reason };
    if (!ruleMatches(rule.when, manifest)) return { ...base, outcome: 'not-matched' };
    if (RISK_TIERS.indexOf(rule.raiseTo) > RISK_TIERS.indexOf(tier)) {
      tier = rule.raiseTo;
      return { ...base, outcome: 'raised' };
    }
    return { ...base, outcome: 'matched-no-effect' };
  });
  return {
    policy: { name: policy.name, version: policy.version, digest: loaded.digest, file: loaded.file },
    promotion: { model: manifest.model.name, version: manifest.model.version, target: manifest.target, owner: manifest.model.owner },
    environment: {
      name: manifest.target,
      ...(environment.description ? { description: environment.description } : {}),
      registry: resolved.registry ?? 'builtin',
      ...(resolved.deployment ? { deployment: resolved.deployment } : {}),
      tierRulesFrom: environment.tiers?.[resolved.effectiveTier] ? 'environment' : 'tier',
    },
    declaredTier: resolved.declaredTier,
    effectiveTier: resolved.effectiveTier,
    tierRaises,
    checks: resolved.checks,
    ...(resolved.autoApprove ? { autoApprove: resolved.autoApprove } : {}),
    stages: resolved.stages,
    separationOfDuties: separationOfDutiesRules(policy),
    overrides: { ...resolved.overrides, rollback: resolved.overrides.rollback ?? [] },
    expedite: resolved.expedite,
    remediationWindowMs: resolved.remediationWindowMs,
    approvalValidForMs: resolved.approvalValidForMs,
    recertification: resolved.recertification ?? { notifyBeforeMs: 0, requestRoles: [] },
  };
}

const list = (items: readonly string[]) => (items.length > 0 ? items.join(', ') : '(nobody)');

function settingText(value: unknown): string {
  if (Array.isArray(value)) return value.length > 0 ? `[${value.join(', ')}]` : '[]';
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    return entries.length > 0 ? `{ ${entries.map(([k, v]) => `${k}: ${settingText(v)}`).join(', ')} }` : '{}';
  }
  return String(value);
}

function registryText(registry: RegistryKind): string {
  return registry === 'mlflow'
    ? "mlflow: the environment's MLflow alias, honoured only for a version PostgreSQL holds a valid approval of"
    : 'builtin: PostgreSQL';
}

function deploymentText(deployment: ResolvedDeployment | undefined): string {
  if (!deployment) return 'none: an approval moves the registry only';
  if (deployment.provider === 'webhook') return `webhook ${deployment.url} (${deployment.completion}, key in $${deployment.secretEnv})`;
  return `gitops ${deployment.repository} ${deployment.path} (branch ${deployment.branch}, namespace ${deployment.namespace})`;
}

/** The explanation as the text `modelgate policy explain` prints. */
export function renderPolicyExplanation(e: PolicyExplanation): string {
  const lines: string[] = [];
  lines.push(`policy      ${e.policy.name}@${e.policy.version} (${e.policy.file}, sha256 ${e.policy.digest.slice(0, 12)}…)`);
  lines.push(`promotion   ${e.promotion.model}@${e.promotion.version} → ${e.promotion.target}, owner ${e.promotion.owner}`);
  lines.push(`environment ${e.environment.name}${e.environment.description ? `: ${e.environment.description}` : ''}`);
  lines.push(`registry    ${registryText(e.environment.registry)}`);
  lines.push(`deployment  ${deploymentText(e.environment.deployment)}`);
  lines.push('');
  const raised = e.tierRaises.filter((r) => r.outcome === 'raised');
  lines.push(
    `Risk tier: ${e.effectiveTier}${e.effectiveTier === e.declaredTier ? ` (as declared${raised.length === 0 ? '; no tierRaise rule raised it' : ''})` : ` (declared ${e.declaredTier}, raised)`}`,
  );
  for (const r of e.tierRaises) {
    const mark = r.outcome === 'raised' ? 'RAISED' : r.outcome === 'matched-no-effect' ? 'matched, tier already as high' : 'not matched';
    lines.push(`  tierRaise.${r.index}: when ${r.condition} → ${r.raiseTo}: ${mark}${r.outcome === 'raised' ? ` — ${r.reason}` : ''}`);
  }
  lines.push('');
  lines.push('Checks (defaults ← policy checks ← tier ← environment ← environment tier):');
  for (const [name, settings] of Object.entries(e.checks) as Array<[string, Record<string, unknown>]>) {
    const { enforcement, ...rest } = settings;
    lines.push(`  ${name.padEnd(11)} ${String(enforcement).padEnd(8)} ${settingText(rest)}`);
  }
  lines.push('');
  if (e.autoApprove) {
    const metrics = Object.entries(e.autoApprove.minMetrics).map(([m, v]) => `${m} ≥ ${v}`);
    lines.push(
      `Auto-approval: when ${[e.autoApprove.allChecksPass ? 'every check that ran passed (waived checks do not count)' : '', ...metrics].filter(Boolean).join(' and ') || 'always'}; otherwise the stages below`,
    );
  } else {
    lines.push('Auto-approval: none for this tier; every promotion goes through the stages below');
  }
  lines.push(`Stages (from the ${e.environment.tierRulesFrom === 'environment' ? `environment's ${e.effectiveTier} tier` : `${e.effectiveTier} tier`}; in order, gates of a stage in parallel):`);
  e.stages.forEach((stage, i) => {
    lines.push(`  ${i + 1}. ${stage.name}`);
    for (const g of stage.gates) {
      const deadlines = [
        g.slaMs !== undefined ? `SLA ${formatDurationMs(g.slaMs)} then reminder and escalation to ${list(g.escalateTo)}` : 'no SLA',
        g.timeoutMs !== undefined ? `deadline ${formatDurationMs(g.timeoutMs)} then ${g.onTimeout === 'reject' ? 'rejected' : 'expired'}` : 'no deadline',
      ];
      lines.push(`     gate ${g.name} (${g.title}): roles ${list(g.roles)}, quorum ${g.quorum}; ${deadlines.join('; ')}`);
    }
  });
  lines.push('');
  lines.push('Separation of duties:');
  for (const rule of e.separationOfDuties) lines.push(`  - ${rule}`);
  lines.push('');
  lines.push('Other messages and who may send them:');
  lines.push(`  override waive_check  ${list(e.overrides.waiveCheck)} (with a justification)`);
  lines.push(`  override force_gate   ${list(e.overrides.forceGate)} (with a justification)`);
  lines.push(
    `  expedite              ${list(e.overrides.expedite)}${e.expedite.slaMs !== undefined || e.expedite.timeoutMs !== undefined ? ` (open gates then get SLA ${e.expedite.slaMs !== undefined ? formatDurationMs(e.expedite.slaMs) : '-'}, deadline ${e.expedite.timeoutMs !== undefined ? formatDurationMs(e.expedite.timeoutMs) : '-'})` : ''}`,
  );
  lines.push(`  withdraw              the submitter, ${list(e.overrides.withdraw)}`);
  lines.push('  revise                the submitter (while CHECKS_FAILED or CHANGES_REQUESTED)');
  lines.push(`  rollback              ${list(e.overrides.rollback)}`);
  lines.push(`  drift (re-certify)    ${list(e.recertification.requestRoles)}`);
  lines.push('');
  lines.push(`Remediation window ${formatDurationMs(e.remediationWindowMs)} (CHECKS_FAILED or CHANGES_REQUESTED, then EXPIRED)`);
  lines.push(`Approval valid for ${formatDurationMs(e.approvalValidForMs)}; owner and approvers told ${formatDurationMs(e.recertification.notifyBeforeMs)} before it expires, then re-certification`);
  return `${lines.join('\n')}\n`;
}

/** Who may act on what under a policy, for every tier and environment it defines. */
export interface PolicyRoleMatrix {
  /** Messages and overrides that are not a gate decision: name → roles (`submitter` stands for the promotion's submitter). */
  actions: Array<{ action: string; roles: string[]; note: string }>;
  /** Every gate: where it appears (tier, environment), its roles, its escalation roles, its quorum. */
  gates: Array<{ gate: string; title: string; where: string[]; roles: string[]; escalateTo: string[]; quorum: number[] }>;
  separationOfDuties: string[];
}

/** Who may submit: the policy's `submitters` roles when it names them, else any authenticated caller. */
function submitAction(policy: Policy): PolicyRoleMatrix['actions'][number] {
  const submitters = (policy as Policy & { submitters?: string[] }).submitters;
  return { action: 'submit', roles: submitters ?? ['any authenticated caller'], note: 'becomes the submitter' };
}

/** Builds the role matrix of a policy: who may send which message and sign which gate, under any tier. */
export function policyRoleMatrix(policy: Policy): PolicyRoleMatrix {
  const gates = new Map<string, PolicyRoleMatrix['gates'][number]>();
  const addTier = (where: string, rules: Policy['tiers'][RiskTier]) => {
    for (const stage of rules.stages) {
      for (const g of stage.gates) {
        const entry = gates.get(g.name) ?? { gate: g.name, title: g.title ?? g.name, where: [], roles: [], escalateTo: [], quorum: [] };
        entry.where.push(where);
        for (const r of g.roles) if (!entry.roles.includes(r)) entry.roles.push(r);
        for (const r of g.escalateTo) if (!entry.escalateTo.includes(r)) entry.escalateTo.push(r);
        if (!entry.quorum.includes(g.quorum)) entry.quorum.push(g.quorum);
        gates.set(g.name, entry);
      }
    }
  };
  for (const tier of RISK_TIERS) addTier(`${tier} tier`, policy.tiers[tier]);
  for (const [env, environment] of Object.entries(policy.environments)) {
    for (const tier of RISK_TIERS) {
      const rules = environment.tiers?.[tier];
      if (rules) addTier(`${tier} tier in ${env}`, rules);
    }
  }
  const o = policy.overrides;
  return {
    actions: [
      submitAction(policy),
      { action: 'decide (approve, reject, request_changes)', roles: ['the roles of the open gate, see below'], note: 'after the SLA, also its escalation roles' },
      { action: 'override waive_check', roles: o.waiveCheck, note: 'a failed required check, while CHECKS_FAILED; justification required' },
      { action: 'override force_gate', roles: o.forceGate, note: 'break-glass: passes an open gate, while IN_REVIEW; justification required' },
      { action: 'expedite', roles: o.expedite, note: 'before the review ends; open gates get the expedited deadlines' },
      { action: 'revise', roles: ['submitter'], note: 'while CHECKS_FAILED or CHANGES_REQUESTED' },
      { action: 'withdraw', roles: ['submitter', ...o.withdraw], note: 'until the promotion is approved' },
      { action: 'rollback', roles: o.rollback, note: 'of an environment, to an earlier approved version' },
      { action: 'drift (re-certification)', roles: policy.recertification.requestRoles, note: 're-certifies the serving version now' },
    ],
    gates: [...gates.values()],
    separationOfDuties: separationOfDutiesRules(policy),
  };
}

const roleCell = (roles: readonly string[]) => (roles.length > 0 ? roles.map((r) => (r.includes(' ') ? r : `\`${r}\``)).join(', ') : 'nobody');

/** The role matrix as Markdown tables (generated into docs/security.md). */
export function renderRoleMatrixMarkdown(policy: Policy, source: string): string {
  const m = policyRoleMatrix(policy);
  const lines = [
    `Generated from \`${source}\` (${policy.name}@${policy.version}) by \`scripts/generate-docs.ts\`.`,
    '',
    '| message or action | who may send it | note |',
    '| --- | --- | --- |',
    ...m.actions.map((a) => `| ${a.action} | ${roleCell(a.roles)} | ${a.note} |`),
    '',
    '| gate | where | roles | quorum | after the SLA, also |',
    '| --- | --- | --- | --- | --- |',
    ...m.gates.map((g) => `| \`${g.gate}\` (${g.title}) | ${g.where.join(', ')} | ${roleCell(g.roles)} | ${g.quorum.join(' or ')} | ${roleCell(g.escalateTo)} |`),
    '',
    'Separation of duties, enforced by the workflow on every decision:',
    '',
    ...m.separationOfDuties.map((rule) => `- ${rule}`),
  ];
  return `${lines.join('\n')}\n`;
}

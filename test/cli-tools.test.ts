// The local tools of the CLI: `init` writes a starter manifest that passes `check`, `policy explain`
// says what the shipped policy decides (expectations worked out by hand from policies/default.yaml),
// `policy check` names the file, the path and the reason of what is wrong.
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { absoluteFileUris } from '../src/cli/promotion-commands';
import type { PolicyExplanation } from '../src/policy/explain';
import { runCli } from './support/cli';

const ROOT = path.resolve(__dirname, '..');
const EXAMPLES = path.join(ROOT, 'examples');
const DEFAULT_POLICY = path.join(ROOT, 'policies', 'default.yaml');
const HOUR = 3_600_000;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'modelgate-cli-tools-'));
  await copyFile(path.join(EXAMPLES, 'model', 'model.skops'), path.join(dir, 'model.skops'));
  await copyFile(path.join(EXAMPLES, 'evaluation.csv'), path.join(dir, 'evaluation.csv'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function explain(manifest: string): Promise<PolicyExplanation> {
  const result = await runCli(['policy', 'explain', manifest, '--policy', DEFAULT_POLICY, '--json']);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as PolicyExplanation;
}

const gatesOf = (e: PolicyExplanation) =>
  e.stages.map((s) => ({ stage: s.name, gates: s.gates.map((g) => [g.name, g.roles.join(','), g.quorum, g.slaMs! / HOUR, g.escalateTo.join(','), g.timeoutMs! / HOUR, g.onTimeout]) }));

describe('modelgate init', () => {
  it.each(['low', 'medium', 'high'] as const)('writes a %s-tier manifest for the example model that passes modelgate check', async (tier) => {
    const manifest = path.join(dir, `${tier}.yaml`);
    const init = await runCli(['init', path.join(dir, 'model.skops'), '--tier', tier, '--policy', DEFAULT_POLICY, '--owner', 'olivia', '--evaluation', path.join(dir, 'evaluation.csv'), '--code-commit', '813eefb7a4dc20ec15fe948a12dcd4699a1f67d5', '-o', manifest]);
    expect(init.stderr).toContain(`wrote ${manifest}`);
    expect(init.code).toBe(0);
    const written = parseYaml(await readFile(manifest, 'utf8')) as Record<string, Record<string, unknown>>;
    expect(written.artifact).toEqual({ uri: 'file://model.skops', sha256: 'e1b34e02ef9a672f443f3f5f1785eed95b81ebba1c410336cf3faea2e443f80f', format: 'other' });
    expect(written.evaluation).toMatchObject({ uri: 'file://evaluation.csv', labelColumn: 'label', predictionColumn: 'prediction', scoreColumn: 'score', sensitiveColumns: ['group'] });
    const fields = Object.keys(written.modelCard!);
    expect(fields).toEqual(
      tier === 'high'
        ? ['intendedUse', 'outOfScopeUse', 'limitations', 'ethicalConsiderations', 'trainingData', 'evaluationData', 'license', 'contacts', 'humanOversight', 'riskManagement', 'postMarketMonitoring']
        : ['intendedUse', 'limitations', 'trainingData', 'evaluationData', 'contacts'],
    );

    const check = await runCli(['check', manifest, '--policy', DEFAULT_POLICY, '--json'], { ARTIFACT_ROOTS: undefined });
    const result = JSON.parse(check.stdout) as { status: string; checks: Array<{ name: string; status: string; summary: string }> };
    expect(result.checks.filter((c) => c.status !== 'pass')).toEqual([]);
    expect(check.code).toBe(0);
  });

  it('refuses to overwrite a file and names a missing artifact', async () => {
    const existing = path.join(dir, 'existing.yaml');
    await writeFile(existing, 'keep me\n');
    const overwrite = await runCli(['init', path.join(dir, 'model.skops'), '--policy', DEFAULT_POLICY, '-o', existing]);
    expect(overwrite.code).toBe(2);
    expect(overwrite.stderr).toContain('it exists (not overwritten)');
    expect(await readFile(existing, 'utf8')).toBe('keep me\n');
    const missing = await runCli(['init', path.join(dir, 'nothing.skops')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nothing.skops');
  });
});

describe('modelgate policy explain (policies/default.yaml)', () => {
  it('low tier in staging: auto-approval at accuracy 0.9, else one technical review; fairness advisory', async () => {
    const e = await explain(path.join(EXAMPLES, 'low-auto-approved.yaml'));
    expect([e.declaredTier, e.effectiveTier]).toEqual(['low', 'low']);
    expect(e.tierRaises.map((r) => r.outcome)).toEqual(['not-matched', 'not-matched']);
    expect(e.autoApprove).toEqual({ allChecksPass: true, minMetrics: { accuracy: 0.9 } });
    expect(gatesOf(e)).toEqual([{ stage: 'review', gates: [['technical', 'ml-reviewer', 1, 24, 'ml-manager', 72, 'expire']] }]);
    expect(e.checks.fairness.enforcement).toBe('advisory');
    expect(e.checks.performance.min).toEqual({ accuracy: 0.8 });
    expect(e.checks.modelCard.requiredFields).toEqual(['intendedUse', 'limitations', 'trainingData', 'evaluationData', 'contacts']);
  });

  it('medium tier in production: technical, then business; no auto-approval; fairness required', async () => {
    const e = await explain(path.join(EXAMPLES, 'medium-review.yaml'));
    expect(e.effectiveTier).toBe('medium');
    expect(e.autoApprove).toBeUndefined();
    expect(gatesOf(e)).toEqual([
      { stage: 'technical', gates: [['technical', 'ml-reviewer', 1, 24, 'ml-manager', 120, 'expire']] },
      { stage: 'business', gates: [['business', 'business-owner', 1, 48, 'ml-manager', 168, 'expire']] },
    ]);
    expect(e.checks.fairness.enforcement).toBe('required');
    expect(e.overrides).toEqual({ waiveCheck: ['risk-manager'], forceGate: ['risk-manager'], expedite: ['ml-manager', 'risk-manager'], withdraw: ['admin'], rollback: ['ml-manager', 'risk-manager'] });
    expect(e.expedite).toEqual({ slaMs: 4 * HOUR, timeoutMs: 24 * HOUR });
    expect(e.remediationWindowMs).toBe(14 * 24 * HOUR);
    expect(e.approvalValidForMs).toBe(180 * 24 * HOUR);
    expect(e.separationOfDuties).toContain('one person signs at most one gate per promotion (allowSamePersonOnMultipleGates: false)');
  });

  it('high tier in production: three stages, two technical reviewers, legal rejects at its deadline', async () => {
    const e = await explain(path.join(EXAMPLES, 'high-review.yaml'));
    expect(e.effectiveTier).toBe('high');
    expect(gatesOf(e)).toEqual([
      { stage: 'technical-and-security', gates: [['technical', 'ml-reviewer', 2, 24, 'ml-manager', 120, 'expire'], ['security', 'security-reviewer', 1, 48, 'ciso', 120, 'expire']] },
      { stage: 'fairness-and-legal', gates: [['fairness', 'fairness-reviewer', 1, 48, 'risk-manager', 168, 'expire'], ['legal', 'compliance-officer', 1, 72, 'chief-compliance-officer', 240, 'reject']] },
      { stage: 'business', gates: [['business', 'business-owner', 1, 48, 'ml-manager', 168, 'expire']] },
    ]);
    expect(e.checks.modelCard.requiredFields).toHaveLength(11);
    expect(e.checks.fairness.requireEvaluation).toBe(true);
    const text = await runCli(['policy', 'explain', path.join(EXAMPLES, 'high-review.yaml'), '--policy', DEFAULT_POLICY]);
    expect(text.stdout).toContain('gate legal (Legal & compliance review): roles compliance-officer, quorum 1; SLA 72h then reminder and escalation to chief-compliance-officer; deadline 10d then rejected');
  });

  it('a medium manifest with personal data for production is raised to high, and says why', async () => {
    const manifest = parseYaml(await readFile(path.join(EXAMPLES, 'medium-review.yaml'), 'utf8')) as { lineage: { trainingData: { containsPersonalData: boolean } }; artifact: { uri: string }; evaluation: { uri: string } };
    manifest.lineage.trainingData.containsPersonalData = true;
    const file = path.join(dir, 'personal-data.yaml');
    await writeFile(file, stringifyYaml(manifest));
    const e = await explain(file);
    expect([e.declaredTier, e.effectiveTier]).toEqual(['medium', 'high']);
    expect(e.tierRaises[0]).toMatchObject({ outcome: 'raised', raiseTo: 'high', condition: 'training data contains personal data and target is production' });
    expect(e.stages.map((s) => s.name)).toEqual(['technical-and-security', 'fairness-and-legal', 'business']);
    const text = await runCli(['policy', 'explain', file, '--policy', DEFAULT_POLICY]);
    expect(text.stdout).toContain('Risk tier: high (declared medium, raised)');
    expect(text.stdout).toContain('tierRaise.0: when training data contains personal data and target is production → high: RAISED — training data contains personal data (GDPR); legal & compliance review required');
  });

  it('refuses a target the policy does not govern (exit 2)', async () => {
    const manifest = parseYaml(await readFile(path.join(EXAMPLES, 'medium-review.yaml'), 'utf8')) as { target: string };
    manifest.target = 'moon';
    const file = path.join(dir, 'moon.yaml');
    await writeFile(file, stringifyYaml(manifest));
    const result = await runCli(['policy', 'explain', file, '--policy', DEFAULT_POLICY]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('does not govern target "moon"');
  });
});

describe('modelgate policy check', () => {
  it('accepts the shipped and the example policies', async () => {
    for (const file of [DEFAULT_POLICY, path.join(EXAMPLES, 'policies', 'strict.yaml')]) {
      const result = await runCli(['policy', 'check', file]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`${file}: valid policy`);
    }
  });

  it('names the file, the path inside it and the reason of each problem (exit 2)', async () => {
    const broken = path.join(dir, 'broken.yaml');
    const policy = parseYaml(await readFile(path.join(EXAMPLES, 'policies', 'strict.yaml'), 'utf8')) as {
      tiers: { medium: { stages: Array<{ gates: Array<{ quorum: number; sla: string }> }> } };
    };
    policy.tiers.medium.stages[0]!.gates[0]!.quorum = 0;
    policy.tiers.medium.stages[1]!.gates[0]!.sla = '200h';
    await writeFile(broken, stringifyYaml(policy));
    const result = await runCli(['policy', 'check', broken]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`invalid policy ${broken}:`);
    expect(result.stderr).toContain('tiers.medium.stages.0.gates.0.quorum: Too small: expected number to be >=1');
    expect(result.stderr).toContain('tiers.medium.stages.1.gates.0.sla: the SLA must be shorter than the hard timeout');

    const json = await runCli(['policy', 'check', broken, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ valid: false, file: broken, problems: expect.arrayContaining([{ path: 'tiers.medium.stages.0.gates.0.quorum', message: 'Too small: expected number to be >=1' }]) });
  });

  it('names the line of a YAML error', async () => {
    const broken = path.join(dir, 'not-yaml.yaml');
    await writeFile(broken, 'apiVersion: modelgate/v1\nkind: [unclosed\n');
    const result = await runCli(['policy', 'check', broken]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`invalid policy ${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\n  line \\d+, column \\d+: `));
  });
});

describe('submit and revise: relative file:// URIs', () => {
  it('are made absolute against the file folder; absolute, remote, localhost and `..` URIs are left as written', () => {
    const manifest = {
      artifact: { uri: 'file://model/model.skops' },
      evaluation: { uri: 'file://eval%20set.csv' },
      modelCard: { uri: 'file:///abs/card.md' },
      lineage: { trainingData: { uri: 's3://bucket/data' } },
      other: { uri: 'file://not-a-source' },
    };
    expect(absoluteFileUris(manifest, '/work/examples')).toEqual({
      artifact: { uri: 'file:///work/examples/model/model.skops' },
      evaluation: { uri: 'file:///work/examples/eval%20set.csv' },
      modelCard: { uri: 'file:///abs/card.md' },
      lineage: { trainingData: { uri: 's3://bucket/data' } },
      other: { uri: 'file://not-a-source' },
    });
    expect(absoluteFileUris({ artifact: { uri: 'file://../outside.pkl' }, evaluation: { uri: 'file://localhost/x.csv' } }, '/work')).toEqual({
      artifact: { uri: 'file://../outside.pkl' },
      evaluation: { uri: 'file://localhost/x.csv' },
    });
    expect(absoluteFileUris('not an object', '/work')).toBe('not an object');
  });
});

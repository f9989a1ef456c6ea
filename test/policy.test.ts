import { mkdtemp, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PromotionManifestSchema, type PromotionManifestInput } from '../src/manifest/schema';
import { evaluateAutoApproval, blockingChecks } from '../src/policy/evaluate';
import { loadPolicyDir, loadPolicyFile, parsePolicy, PolicyLoadError } from '../src/policy/load';
import { PolicyRefusal, resolvePolicy } from '../src/policy/resolve';
import { explainPolicy } from '../src/policy/explain';
import { createPolicyStoreActivities } from '../src/activities/policy-store';
import { policyDirRecords } from '../src/promotions/registry-of-record';
import { RegistryRecordsError, registryRecordsOf } from '../src/policy/registry-records';
import type { CheckResult } from '../src/shared/checks';
import { parseDuration } from '../src/shared/duration';

const DEFAULT_POLICY = path.join(__dirname, '..', 'policies', 'default.yaml');

function manifest(overrides: Partial<PromotionManifestInput> = {}) {
  return PromotionManifestSchema.parse({
    model: { name: 'fraud', version: '2.0.0', owner: 'olivia', riskTier: 'low' },
    target: 'production',
    artifact: { uri: 'file:///models/fraud.onnx', sha256: 'A'.repeat(64), format: 'onnx' },
    ...overrides,
  });
}

function problemsOf(text: string): Array<{ path: string; message: string }> {
  try {
    parsePolicy(text, 'broken.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyLoadError);
    expect((err as PolicyLoadError).message).toContain('invalid policy broken.yaml');
    return [...(err as PolicyLoadError).problems];
  }
  throw new Error('the policy was accepted');
}

const minimal = (tiers: string) => `
apiVersion: modelgate/v1
kind: PromotionPolicy
name: p
version: "1"
environments: { production: {} }
tiers:
${tiers}
`;
const oneStage = `    stages: [{ name: s, gates: [{ name: g, roles: [r] }] }]`;
const allTiers = `  low:\n${oneStage}\n  medium:\n${oneStage}\n  high:\n${oneStage}`;

describe('policy loading', () => {
  it('the shipped default policy loads and has the five gates of the pattern', async () => {
    const loaded = await loadPolicyFile(DEFAULT_POLICY);
    expect(loaded.digest).toMatch(/^[0-9a-f]{64}$/);
    const gates = new Set(
      Object.values(loaded.policy.tiers).flatMap((t) => t.stages.flatMap((s) => s.gates.map((g) => g.name))),
    );
    expect([...gates].sort()).toEqual(['business', 'fairness', 'legal', 'security', 'technical']);
    const high = loaded.policy.tiers.high.stages;
    expect(high.map((s) => s.gates.map((g) => g.name))).toEqual([['technical', 'security'], ['fairness', 'legal'], ['business']]);
    expect(high[0]!.gates[0]!.quorum).toBe(2);
    expect(loaded.policy.tiers.medium.stages.map((s) => s.name)).toEqual(['technical', 'business']);
    expect(loaded.policy.tiers.low.autoApprove).toEqual({ allChecksPass: true, minMetrics: { accuracy: 0.9 } });
  });

  it('a YAML syntax error names the line and column', () => {
    const problems = problemsOf('apiVersion: modelgate/v1\nkind: [unclosed\n');
    expect(problems[0]!.path).toMatch(/^line \d+, column \d+$/);
  });

  it('schema errors name the path inside the file and the problem', () => {
    const problems = problemsOf(
      minimal(`  low:\n    stages: [{ name: s, gates: [{ name: g, roles: [], quorum: 0, sla: soon }] }]\n  medium:\n${oneStage}`),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        { path: 'tiers.low.stages.0.gates.0.roles', message: 'must name at least one role' },
        { path: 'tiers.low.stages.0.gates.0.quorum', message: expect.stringMatching(/>=1|at least|too small/i) },
        { path: 'tiers.low.stages.0.gates.0.sla', message: 'must be a duration such as "30m", "72h" or "14d"' },
        { path: 'tiers.high', message: expect.any(String) },
      ]),
    );
  });

  it('refuses unknown fields, duplicate gates, an SLA not shorter than the timeout, and unknown environments', () => {
    expect(problemsOf(minimal(allTiers) + 'escalation: yes\n')).toEqual([{ path: '(root)', message: expect.stringMatching(/escalation/) }]);
    const duplicate = minimal(
      `  low:\n    stages: [{ name: s, gates: [{ name: g, roles: [r], sla: 2h, timeout: 1h }, { name: g, roles: [r] }] }]\n  medium:\n${oneStage}\n  high:\n${oneStage}`,
    ) + 'tierRaise: [{ when: { targets: [mars] }, raiseTo: high, reason: r }]\n';
    expect(problemsOf(duplicate)).toEqual(
      expect.arrayContaining([
        { path: 'tiers.low.stages.0.gates.1.name', message: 'gate "g" appears twice in this tier' },
        { path: 'tiers.low.stages.0.gates.0.sla', message: 'the SLA must be shorter than the hard timeout' },
        { path: 'tierRaise.0.when.targets.0', message: 'unknown environment "mars"' },
      ]),
    );
  });

  it('deployment providers: each field is checked and named with its path', () => {
    const withDeployment = (deployment: string, extra = '') =>
      minimal(allTiers).replace('environments: { production: {} }', `environments:\n  production:\n    deployment: ${deployment}\n`) + extra;
    expect(problemsOf(withDeployment('{ provider: ftp }'))).toEqual([
      { path: 'environments.production.deployment.provider', message: expect.stringMatching(/webhook|gitops/) },
    ]);
    expect(problemsOf(withDeployment('{ provider: webhook, url: not-a-url, secretEnv: lower-case, completion: later }'))).toEqual(
      expect.arrayContaining([
        { path: 'environments.production.deployment.url', message: 'must be an http(s) URL' },
        { path: 'environments.production.deployment.secretEnv', message: 'must be an environment variable name (A-Z, 0-9, _)' },
        { path: 'environments.production.deployment.completion', message: expect.stringMatching(/sync|callback/) },
      ]),
    );
    expect(problemsOf(withDeployment('{ provider: gitops, repository: ./deploy, namespace: Bad_NS, retry: { maximumAttempts: 0 } }'))).toEqual(
      expect.arrayContaining([
        { path: 'environments.production.deployment.namespace', message: 'must be a Kubernetes namespace name' },
        { path: 'environments.production.deployment.retry.maximumAttempts', message: expect.stringMatching(/>=\s*1/) },
      ]),
    );
    expect(problemsOf(minimal(allTiers) + 'approvalValidFor: 7d\nrecertification: { notifyBefore: 14d }\n')).toEqual([
      { path: 'recertification.notifyBefore', message: 'must be shorter than approvalValidFor' },
    ]);
  });

  it('resolves a provider with durations in milliseconds and the retry policy', () => {
    const text = minimal(allTiers).replace(
      'environments: { production: {} }',
      'environments:\n  production:\n    deployment: { provider: webhook, url: "https://deploy.example/hook", completion: callback, callbackTimeout: 10m, retry: { maximumAttempts: 7 } }\n',
    );
    const resolved = resolvePolicy(parsePolicy(text, 'p.yaml'), manifest());
    expect(resolved.deployment).toEqual({
      provider: 'webhook',
      url: 'https://deploy.example/hook',
      secretEnv: 'MODELGATE_DEPLOY_WEBHOOK_SECRET',
      completion: 'callback',
      callbackTimeoutMs: 600_000,
      requestTimeoutMs: 30_000,
      retry: { maximumAttempts: 7, initialIntervalMs: 2_000, backoffCoefficient: 2, maximumIntervalMs: 60_000 },
    });
    expect(resolved.recertification).toEqual({ notifyBeforeMs: 14 * 86_400_000, requestRoles: [] });
  });

  it('a check threshold of the wrong type is named with its path', () => {
    expect(problemsOf(minimal(allTiers) + 'checks: { performance: { min: { accuracy: high } } }\n')).toEqual([
      { path: 'checks.performance.min.accuracy', message: expect.stringMatching(/number/) },
    ]);
  });

  it('a missing file and two files with one policy name are errors naming the file', async () => {
    await expect(loadPolicyFile('/nonexistent/policy.yaml')).rejects.toThrow(/invalid policy \/nonexistent\/policy\.yaml:\n {2}\(file\): cannot be read/);
    const dir = await mkdtemp(path.join(tmpdir(), 'policies-'));
    try {
      await copyFile(DEFAULT_POLICY, path.join(dir, 'a.yaml'));
      await copyFile(DEFAULT_POLICY, path.join(dir, 'b.yaml'));
      await expect(loadPolicyDir(dir)).rejects.toThrow(/b\.yaml:\n {2}name: policy "default" is also defined in .*a\.yaml/);
      await rm(path.join(dir, 'b.yaml'));
      await writeFile(path.join(dir, 'notes.txt'), 'not a policy');
      expect([...(await loadPolicyDir(dir)).keys()]).toEqual(['default']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('policy resolution', () => {
  it('raises the tier for personal data in production, never lowers it', async () => {
    const loaded = await loadPolicyFile(DEFAULT_POLICY);
    const personal = { trainingData: { uri: 's3://d', classification: 'internal' as const, containsPersonalData: true } };
    expect(resolvePolicy(loaded, manifest({ lineage: personal })).effectiveTier).toBe('high');
    expect(resolvePolicy(loaded, manifest({ lineage: personal, target: 'staging' })).effectiveTier).toBe('low');
    const confidential = { trainingData: { uri: 's3://d', classification: 'restricted' as const, containsPersonalData: false } };
    const raised = resolvePolicy(loaded, manifest({ lineage: confidential }));
    expect([raised.effectiveTier, raised.tierReasons]).toEqual(['medium', ['training data is confidential or restricted']]);
    // a high-tier model with confidential data stays high
    const high = manifest({ lineage: confidential });
    high.model.riskTier = 'high';
    expect(resolvePolicy(loaded, high).effectiveTier).toBe('high');
  });

  it('merges check settings: defaults ← tier ← environment', async () => {
    const loaded = await loadPolicyFile(DEFAULT_POLICY);
    const production = resolvePolicy(loaded, manifest());
    const staging = resolvePolicy(loaded, manifest({ target: 'staging' }));
    expect(production.checks.fairness.enforcement).toBe('required');
    expect(staging.checks.fairness.enforcement).toBe('advisory');
    expect(staging.checks.fairness.demographicParityRatio).toEqual({ min: 0.8 }); // kept from the defaults
    const high = manifest();
    high.model.riskTier = 'high';
    expect(resolvePolicy(loaded, high).checks.modelCard.requiredFields).toContain('postMarketMonitoring');
    expect(resolvePolicy(loaded, high).checks.fairness.requireEvaluation).toBe(true);
    // An override that sets one field leaves the others as the layers below set them: the high
    // tier's `fairness: { requireEvaluation: true }` keeps production's `required` enforcement.
    expect(resolvePolicy(loaded, high).checks.fairness.enforcement).toBe('required');
    expect(resolvePolicy(loaded, high).checks.modelCard.minFieldLength).toBe(production.checks.modelCard.minFieldLength);
    expect(production.checks.fairness.requireEvaluation).toBe(false);
    expect(production.checks.modelCard.requiredFields).not.toContain('postMarketMonitoring');
    expect(production.stages[0]!.gates[0]).toMatchObject({ name: 'technical', slaMs: 86_400_000, timeoutMs: 259_200_000 });
  });

  it('refuses a target the policy does not govern (HTTP 422)', async () => {
    const loaded = await loadPolicyFile(DEFAULT_POLICY);
    expect(() => resolvePolicy(loaded, manifest({ target: 'moon' }))).toThrow(PolicyRefusal);
    expect(() => resolvePolicy(loaded, manifest({ target: 'moon' }))).toThrow(/does not govern target "moon" \(known: staging, production\)/);
  });
});

describe('policy evaluation', () => {
  const result = (name: CheckResult['name'], status: CheckResult['status'], required = true, metrics = {}): CheckResult => ({
    name, status, required, summary: '', findings: [], metrics, durationMs: 1,
  });

  it('auto-approval needs every check to pass and each metric to reach its minimum', () => {
    const condition = { allChecksPass: true, minMetrics: { accuracy: 0.9 } };
    expect(evaluateAutoApproval(condition, [result('integrity', 'pass'), result('performance', 'pass', true, { accuracy: 0.95 })], {})).toEqual({ approved: true, reasons: [] });
    expect(evaluateAutoApproval(condition, [result('fairness', 'warn', false)], { accuracy: 0.95 }).reasons).toEqual(['check fairness is warn']);
    // a recomputed metric wins over the declared one
    expect(evaluateAutoApproval(condition, [result('performance', 'pass', true, { accuracy: 0.7 })], { accuracy: 0.99 }).reasons).toEqual([
      'metric accuracy = 0.7 is below 0.9',
    ]);
    expect(evaluateAutoApproval(condition, [], {}).reasons).toEqual(['metric accuracy is not available']);
    expect(evaluateAutoApproval(undefined, [], {}).approved).toBe(false);
  });

  it('blocking checks: required fail or error, unless waived for the same evidence', () => {
    const checks = [result('integrity', 'fail'), result('security', 'error'), result('fairness', 'fail', false), result('lineage', 'pass')];
    expect(blockingChecks(checks, [], 'e1')).toEqual(['integrity', 'security']);
    const waiver = { check: 'integrity' as const, by: 'rick', justification: 'x', at: '', evidenceDigest: 'e1' };
    expect(blockingChecks(checks, [waiver], 'e1')).toEqual(['security']);
    expect(blockingChecks(checks, [waiver], 'e2')).toEqual(['integrity', 'security']); // new evidence voids the waiver
  });

  it('durations', () => {
    expect(parseDuration('72h')).toBe(259_200_000);
    expect(parseDuration('1d12h')).toBe(129_600_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('2 days')).toBeUndefined();
    expect(parseDuration('0s')).toBeUndefined();
  });
});

describe('registry of record per environment', () => {
  const withRecord = (registry: string, name = 'p') => `
apiVersion: modelgate/v1
kind: PromotionPolicy
name: ${name}
version: "1"
environments: { staging: {}, production: { registry: ${registry} } }
tiers:
  low: { stages: [{ name: review, gates: [{ name: technical, roles: [r], quorum: 1 }] }] }
  medium: { stages: [{ name: review, gates: [{ name: technical, roles: [r], quorum: 1 }] }] }
  high: { stages: [{ name: review, gates: [{ name: technical, roles: [r], quorum: 1 }] }] }
`;
  const mlflowConfigured = { configured: true, aliases: { production: 'champion' } };

  it('is builtin by default; an unknown registry is refused naming the path and the choices', () => {
    const { policy } = parsePolicy(withRecord('builtin'), 'ok.yaml');
    expect(policy.environments.staging!.registry).toBe('builtin');
    expect(problemsOf(withRecord('unity'))).toEqual([{ path: 'environments.production.registry', message: 'must be one of builtin, mlflow' }]);
  });

  it('a models:/ artifact must be the manifest\'s own model and version (approvals, the record and the alias guard key on them)', () => {
    const owner = { owner: 'olivia', riskTier: 'low' as const };
    const problems = (model: { name: string; version: string }, uri: string) => {
      const parsed = PromotionManifestSchema.safeParse({ model: { ...model, ...owner }, target: 'production', artifact: { uri, format: 'other' } });
      return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(problems({ name: 'fraud', version: '7' }, 'models:/fraud/7')).toEqual([]);
    const refused = ["artifact.uri: a models:/<name>/<version> artifact must name the manifest's own model.name and model.version"];
    expect(problems({ name: 'fraud', version: '7' }, 'models:/fraud-safe/1')).toEqual(refused);
    expect(problems({ name: 'fraud', version: '7' }, 'models:/fraud/1')).toEqual(refused);
    expect(problems({ name: 'fraud', version: '7' }, 'models:/fraud-safe/7')).toEqual(refused);
  });

  it('a builtin environment resolves exactly as before (no registry field); an MLflow one names it and takes models:/ artifacts only', () => {
    const builtin = resolvePolicy(parsePolicy(withRecord('builtin'), 'b.yaml'), manifest());
    expect(builtin).not.toHaveProperty('registry');
    const loaded = parsePolicy(withRecord('mlflow'), 'm.yaml');
    expect(resolvePolicy(loaded, manifest({ model: { name: 'fraud', version: '2', owner: 'olivia', riskTier: 'low' }, artifact: { uri: 'models:/fraud/2', sha256: 'a'.repeat(64), format: 'onnx' } })).registry).toBe('mlflow');
    expect(() => resolvePolicy(loaded, manifest())).toThrow(new PolicyRefusal('the registry of record of "production" is MLflow (policy p@1): its artifact must be a models:/<name>/<version> URI', 'artifact.uri'));
    expect(explainPolicy(loaded, manifest({ model: { name: 'fraud', version: '2', owner: 'olivia', riskTier: 'low' }, artifact: { uri: 'models:/fraud/2', sha256: 'a'.repeat(64), format: 'onnx' } })).environment.registry).toBe('mlflow');
  });

  it('MLflow named without MLflow configured, without an alias, or two policies disagreeing: refused with the reason', () => {
    const mlflow = parsePolicy(withRecord('mlflow'), 'm.yaml').policy;
    expect(registryRecordsOf([mlflow], mlflowConfigured)).toEqual(new Map([['staging', 'builtin'], ['production', 'mlflow']]));
    expect(() => registryRecordsOf([mlflow], { configured: false, aliases: {} })).toThrow(
      new RegistryRecordsError('policy p names MLflow as the registry of record of environment production, but MLFLOW_TRACKING_URI is not set on this process'),
    );
    expect(() => registryRecordsOf([mlflow], { configured: true, aliases: { staging: 'candidate' } })).toThrow(/MLFLOW_ALIASES names no alias for it/);
    const builtin = parsePolicy(withRecord('builtin', 'q'), 'q.yaml').policy;
    expect(() => registryRecordsOf([mlflow, builtin], mlflowConfigured)).toThrow(
      new RegistryRecordsError('policies p and q name different registries of record for environment production (mlflow, builtin); an environment has one record'),
    );
  });

  it('the worker refuses the policy folder, and its policy store a promotion, when MLflow is named but not configured', async () => {
    const dir = path.join(__dirname, 'fixtures', 'policies-mlflow-record');
    await expect(policyDirRecords(dir, undefined)()).rejects.toThrow(
      'policy default names MLflow as the registry of record of environment production, but MLFLOW_TRACKING_URI is not set on this process',
    );
    expect(await policyDirRecords(dir, { aliases: { production: 'champion' } })()).toEqual(new Map([['production', 'mlflow']]));
    const loaded = await loadPolicyFile(path.join(dir, 'mlflow-record.yaml'));
    const models = manifest({ model: { name: 'fraud', version: '2', owner: 'olivia', riskTier: 'low' }, artifact: { uri: 'models:/fraud/2', sha256: 'a'.repeat(64), format: 'onnx' } });
    const input = { policy: resolvePolicy(loaded, models), manifest: models };
    expect(await createPolicyStoreActivities({ policyDir: dir }).verifyPolicy(input)).toEqual({
      verified: false,
      reason: 'the policy default@mlflow-record-1 names MLflow as the registry of record of production, but this worker has no MLflow tracking server or no MLFLOW_ALIASES entry for it',
    });
    expect(await createPolicyStoreActivities({ policyDir: dir, mlflowAliases: { production: 'champion' } }).verifyPolicy(input)).toEqual({ verified: true });
  });
});

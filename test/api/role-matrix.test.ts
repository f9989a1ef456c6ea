// The role matrix: for every message and route, every role the default policy names, the
// submitter and the model's owner, only the combinations the policy allows succeed. The matrix
// is generated from the policy (its roles and what each rule grants), not listed by hand; the
// flows run through the real API, worker, Temporal and PostgreSQL.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { parse, stringify } from 'yaml';
import type { Policy } from '../../src/policy/schema';
import { environmentQuery, environmentWorkflowId } from '../../src/shared/environment';
import { MESSAGE_KINDS, type MessageKind } from '../../src/shared/message-table';
import type { PromotionStatus } from '../../src/shared/promotion';
import { type ApiHarness, promotionPath, startApiHarness } from './support';
import { waitForStatus } from '../support/promotions';
import { waitUntil } from '../support/wait';

jest.setTimeout(600_000);

const REPOSITORY = path.join(__dirname, '..', '..');
const SUBMITTER = 'sam';
const OWNER = 'olivia';

/**
 * The default policy with the workflow tests' checks (so the test models pass them): every role,
 * gate, override and deadline is the default policy's.
 */
async function defaultPolicyWithTestChecks(): Promise<{ file: string; policy: Policy }> {
  const policy = parse(await readFile(path.join(REPOSITORY, 'policies', 'default.yaml'), 'utf8')) as Policy & Record<string, unknown>;
  const testPolicy = parse(await readFile(path.join(REPOSITORY, 'test', 'fixtures', 'policies', 'workflow-test.yaml'), 'utf8')) as { checks: unknown };
  policy.name = 'role-matrix';
  policy.checks = testPolicy.checks as Policy['checks'];
  for (const tier of Object.values(policy.tiers)) delete (tier as { checks?: unknown }).checks;
  for (const environment of Object.values(policy.environments)) delete (environment as { checks?: unknown }).checks;
  const dir = await mkdtemp(path.join(tmpdir(), 'modelgate-role-matrix-'));
  const file = path.join(dir, 'role-matrix.yaml');
  await writeFile(file, stringify(policy));
  return { file, policy };
}

/** Every role the policy names anywhere. */
function rolesNamedBy(policy: Policy): string[] {
  const gates = Object.values(policy.tiers).flatMap((t) => t.stages.flatMap((s) => s.gates));
  return [
    ...new Set([
      ...policy.submitters,
      ...(policy.operatorSignals ?? []),
      ...gates.flatMap((g) => [...g.roles, ...(g.escalateTo ?? [])]),
      ...Object.values(policy.overrides).flat(),
      ...policy.recertification.requestRoles,
    ]),
  ].sort();
}

interface Persona {
  label: string;
  id: string;
  roles: string[];
}

/** What a persona is asked to do, and where. */
interface Row {
  name: string;
  /** The message of the table the row sends (absent for other routes). */
  message?: MessageKind;
  /** Whether the policy allows `who` (its meaning, as docs/security.md states it). */
  allows(who: Persona): boolean;
  /** A fresh target in the state the row needs; returns its context. */
  target(): Promise<Target>;
  /** Sends the request as `who` to `target`; resolves to the HTTP status. */
  send(who: Persona, target: Target): Promise<number>;
  /** When a success changes the target so the next one needs a new target. */
  consumes: boolean;
}

interface Target {
  promotionId?: string;
  model: string;
  versions?: string[];
  /** Successes so far on this target. */
  used: number;
}

describe('role matrix: every message and route × every role of the default policy, the submitter and the owner', () => {
  let h: ApiHarness;
  let policy: Policy;
  let personas: Persona[];

  beforeAll(async () => {
    const written = await defaultPolicyWithTestChecks();
    policy = written.policy;
    h = await startApiHarness({ policyFile: written.file });
    const roles = rolesNamedBy(policy);
    personas = [
      ...roles.map((role) => ({ label: role, id: `holder-of-${role}`, roles: [role] })),
      // The submitter and the owner hold every role: only separation of duties can stop them.
      { label: 'the submitter (every role)', id: SUBMITTER, roles },
      { label: 'the owner (every role)', id: OWNER, roles },
    ];
  }, 180_000);
  afterAll(async () => {
    await h?.close();
  });

  const holds = (who: Persona, roles: readonly string[] | undefined) => who.roles.some((r) => (roles ?? []).includes(r));
  const independent = (who: Persona) => who.id !== SUBMITTER && who.id !== OWNER;
  const submitterPersona = (): Persona => personas.find((p) => p.id === SUBMITTER)!;
  const as = async (who: Persona) => h.bearer({ id: who.id, roles: who.roles });

  /** A promotion submitted through the API by the submitter, waited until `status`. */
  const promotionIn = async (status: PromotionStatus, changes: Parameters<ApiHarness['manifest']>[0] = {}): Promise<Target> => {
    const manifest = await h.manifest({ model: { riskTier: 'medium', owner: OWNER }, ...changes });
    const res = await request(h.app).post('/v1/promotions').set('authorization', await as(submitterPersona())).send(manifest);
    expect(res.status).toBe(201);
    await waitForStatus(h.client.workflow.getHandle(res.body.promotionId), status);
    return { promotionId: res.body.promotionId, model: manifest.model.name, used: 0 };
  };
  /** A model whose versions were auto-approved and serve production (low tier, every check passes). */
  const deployed = async (versions: string[]): Promise<Target> => {
    const model = `matrix-${Math.random().toString(36).slice(2, 8)}`;
    for (const version of versions) {
      const manifest = await h.manifest({ model: { name: model, version, riskTier: 'low', owner: OWNER } });
      const res = await request(h.app).post('/v1/promotions').set('authorization', await as(submitterPersona())).send(manifest);
      expect(res.status).toBe(201);
      await waitForStatus(h.client.workflow.getHandle(res.body.promotionId), 'DEPLOYED');
    }
    const lifecycle = h.client.workflow.getHandle(environmentWorkflowId(model, 'production'));
    await waitUntil(() => lifecycle.query(environmentQuery).catch(() => undefined), (s) => !!s && s.serving?.version === versions.at(-1) && s.previous.length === versions.length - 1);
    return { model, versions, used: 0 };
  };
  const post = async (who: Persona, url: string, body: Record<string, unknown>) =>
    (await request(h.app).post(url).set('authorization', await as(who)).send(body)).status;

  const gateRoles = (tier: 'medium', gate: string) => policy.tiers[tier].stages.flatMap((s) => s.gates).find((g) => g.name === gate)!.roles;

  const rows = (): Row[] => [
    {
      name: 'POST /v1/promotions (submit)',
      allows: (who) => holds(who, policy.submitters),
      target: async () => ({ model: '', used: 0 }),
      send: async (who) => {
        const manifest = await h.manifest({ model: { riskTier: 'medium', owner: OWNER } });
        const res = await request(h.app).post('/v1/promotions').set('authorization', await as(who)).send(manifest);
        if (res.status === 201) await post(submitterPersona(), promotionPath(res.body.promotionId, 'withdraw'), { reason: 'role matrix: done' });
        return res.status;
      },
      consumes: false,
    },
    {
      name: 'decide on the open technical gate',
      message: 'decide',
      allows: (who) => holds(who, gateRoles('medium', 'technical')) && independent(who),
      target: () => promotionIn('IN_REVIEW'),
      send: (who, t) => post(who, promotionPath(t.promotionId!, 'decisions'), { gate: 'technical', decision: 'approve', comment: 'role matrix' }),
      consumes: true,
    },
    {
      name: 'override: force the open technical gate',
      message: 'override',
      allows: (who) => holds(who, policy.overrides.forceGate) && independent(who),
      target: () => promotionIn('IN_REVIEW'),
      send: (who, t) => post(who, promotionPath(t.promotionId!, 'overrides'), { kind: 'force_gate', target: 'technical', justification: 'role matrix: break-glass test' }),
      consumes: true,
    },
    {
      name: 'override: waive the failed model-card check',
      message: 'override',
      allows: (who) => holds(who, policy.overrides.waiveCheck) && independent(who),
      target: () => promotionIn('CHECKS_FAILED', { modelCard: { intendedUse: 'x' } }),
      send: (who, t) => post(who, promotionPath(t.promotionId!, 'overrides'), { kind: 'waive_check', target: 'modelCard', justification: 'role matrix: break-glass test' }),
      consumes: true,
    },
    {
      name: 'expedite',
      message: 'expedite',
      allows: (who) => holds(who, policy.overrides.expedite),
      target: () => promotionIn('IN_REVIEW'),
      send: (who, t) => post(who, promotionPath(t.promotionId!, 'expedite'), { reason: 'role matrix: urgent fix' }),
      consumes: true,
    },
    {
      name: 'revise after failed checks',
      message: 'revise',
      allows: (who) => who.id === SUBMITTER,
      target: () => promotionIn('CHECKS_FAILED', { modelCard: { intendedUse: 'x' } }),
      send: (who, t) => post(who, promotionPath(t.promotionId!, 'revisions'), { changes: { modelCard: { intendedUse: 'Scoring card fraud in tests', limitations: 'Synthetic test data only' } } }),
      consumes: true,
    },
    {
      name: 'withdraw',
      message: 'withdraw',
      allows: (who) => who.id === SUBMITTER || holds(who, policy.overrides.withdraw),
      target: () => promotionIn('IN_REVIEW'),
      send: (who, t) => post(who, promotionPath(t.promotionId!, 'withdraw'), { reason: 'role matrix: done' }),
      consumes: true,
    },
    {
      name: 'POST /v1/models/{name}/environments/{env}/rollback',
      allows: (who) => holds(who, policy.overrides.rollback),
      target: () => deployed(['1.0.0', '2.0.0']),
      // each success moves production to the other version, so the next one rolls back again
      send: (who, t) =>
        post(who, `/v1/models/${t.model}/environments/production/rollback`, {
          justification: 'role matrix: rollback test',
          toVersion: t.used % 2 === 0 ? '1.0.0' : '2.0.0',
        }),
      consumes: false,
    },
    {
      name: 'POST /v1/models/{name}/environments/{env}/drift (re-certify now)',
      allows: (who) => holds(who, policy.recertification.requestRoles),
      target: () => deployed(['1.0.0']),
      send: (who, t) => post(who, `/v1/models/${t.model}/environments/production/drift`, { reason: 'role matrix: PSI 0.31 on amount' }),
      consumes: true,
    },
    {
      name: 'PUT /v1/models/{name}/owner',
      allows: (who) => who.roles.includes('admin'),
      target: async () => ({ ...(await promotionIn('IN_REVIEW')), used: 0 }),
      send: async (who, t) =>
        (await request(h.app).put(`/v1/models/${t.model}/owner`).set('authorization', await as(who)).send({ owner: OWNER, reason: 'role matrix: owner change test' })).status,
      consumes: false,
    },
  ];

  it('the matrix covers every role the default policy names, and a row for each message of the table', async () => {
    const defaultPolicy = parse(await readFile(path.join(REPOSITORY, 'policies', 'default.yaml'), 'utf8')) as Policy;
    expect(rolesNamedBy(policy)).toEqual(rolesNamedBy(defaultPolicy));
    expect(personas.length).toBeGreaterThanOrEqual(10);
    expect([...new Set(rows().flatMap((r) => (r.message ? [r.message] : [])))].sort()).toEqual([...MESSAGE_KINDS].sort());
  });

  it('only the allowed combinations succeed (2xx); every other one is refused with 403', async () => {
    const outcomes: string[] = [];
    const expected: string[] = [];
    for (const row of rows()) {
      const allowed = personas.filter((p) => row.allows(p));
      const refused = personas.filter((p) => !row.allows(p));
      expect(allowed.length).toBeGreaterThan(0);
      expect(refused.length).toBeGreaterThan(0);
      // refusals change nothing, so they share one target; then each success gets a target that has not changed
      let target = await row.target();
      for (const who of [...refused, ...allowed]) {
        if (row.allows(who) && row.consumes && target.used > 0) target = await row.target();
        const status = await row.send(who, target);
        if (status >= 200 && status < 300) target.used += 1;
        outcomes.push(`${row.name} × ${who.label}: ${status >= 200 && status < 300 ? 'succeeds' : status === 403 ? 'refused (403)' : `answered ${status}`}`);
        expected.push(`${row.name} × ${who.label}: ${row.allows(who) ? 'succeeds' : 'refused (403)'}`);
      }
    }
    expect(outcomes).toEqual(expected);
  });
});

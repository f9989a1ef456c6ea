import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import request from 'supertest';
import { apiCodeOfRefusal } from '../../src/api/message-refusals';
import { startPromotion } from '../../src/promotions/start';
import { createSubmissionRegistration, createVersionDigests } from '../../src/registry';
import { MESSAGE_REFUSAL_TYPES } from '../../src/shared/messages';
import type { PromotionState } from '../../src/shared/promotion';
import { people, sendUpdate, waitForState, waitForStatus } from '../support/promotions';
import { type ApiHarness, apiHarnessForSuite, promotionPath } from './support';

interface RefusalRow {
  actor: string | null;
  promotion_id: string | null;
  action: string;
  status_code: number;
  reason: string;
  detail: Record<string, unknown>;
}

describe('refused attempts: invalid input logged, refusals typed by the workflow', () => {
  const harness = apiHarnessForSuite();
  let h: ApiHarness;
  beforeAll(() => {
    h = harness();
  });

  /** Waits for the refusal log (written after the answer) to hold a row matching `where`. */
  const logged = async (where: string, values: unknown[]): Promise<RefusalRow[]> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { rows } = await h.pool.query<RefusalRow>(
        `SELECT actor, promotion_id, action, status_code, reason, detail FROM refused_attempts WHERE ${where} ORDER BY id`,
        values,
      );
      if (rows.length > 0 || Date.now() > deadline) return rows;
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const submitted = async () => {
    const manifest = await h.manifest({ model: { riskTier: 'medium' } });
    const res = await request(h.app).post('/v1/promotions').set('authorization', await h.bearer(people.sam)).send(manifest);
    expect(res.status).toBe(201);
    return { manifest, id: res.body.promotionId as string };
  };

  it('without a token a malformed body is 401: the caller is checked before the body is read', async () => {
    const res = await request(h.app).post(promotionPath('promote:x:1:production', 'decisions')).set('content-type', 'application/json').send('{"gate": ');
    expect(res.status).toBe(401);
    const rows = await logged(`promotion_id = 'promote:x:1:production'`, []);
    expect(rows.map((r) => [r.actor, r.action, r.status_code])).toEqual([[null, 'decide', 401]]);
  });

  it('malformed JSON or message on a promotion: 400, logged with the actor, shown in the audit as refused_<action> (400)', async () => {
    const { id } = await submitted();
    await waitForStatus(h.client.workflow.getHandle(id), 'IN_REVIEW');
    const auth = await h.bearer(people.rita);
    const json = await request(h.app).post(promotionPath(id, 'decisions')).set('authorization', auth).set('content-type', 'application/json').send('{"gate": ');
    expect(json.status).toBe(400);
    expect(json.body.error.code).toBe('invalid_input');
    const message = await request(h.app).post(promotionPath(id, 'overrides')).set('authorization', await h.bearer(people.rick)).send({ kind: 'waive_check', target: 'security', justification: 'short' });
    expect(message.status).toBe(400);

    const rows = await logged(`promotion_id = $1 AND action = 'override'`, [id]);
    expect(rows[0]).toMatchObject({ actor: 'rick', action: 'override', status_code: 400, detail: { problems: [{ path: 'justification' }] } });
    const malformed = await logged(`promotion_id = $1 AND action = 'decide'`, [id]);
    expect(malformed[0]).toMatchObject({ actor: 'rita', status_code: 400 });
    expect(malformed[0]!.reason).toMatch(/^request body is not valid JSON/);

    const audit = await request(h.app).get(promotionPath(id, 'audit')).set('authorization', auth);
    const refusals = (audit.body.events as Array<{ actor: string; action: string; source: string; detail: { statusCode: number } }>).filter((e) => e.source === 'refusal');
    // (logged after answering, so their order in the log is not the order of the requests)
    expect(refusals.map((e) => [e.actor, e.action, e.detail.statusCode]).sort()).toEqual([
      ['rick', 'refused_override', 400],
      ['rita', 'refused_decide', 400],
    ]);
  });

  it('a malformed manifest is logged under the promotion it names, with its field paths; huge input is clipped', async () => {
    const manifest = await h.manifest({ model: { riskTier: 'medium' } });
    const id = `promote:${manifest.model.name}:1.0.0:production`;
    const hugeKey = 'k'.repeat(50_000);
    const auth = await h.bearer(people.sam);
    const bad = await request(h.app)
      .post('/v1/promotions')
      .set('authorization', auth)
      .send({ ...manifest, artifact: { ...manifest.artifact, sha256: 'nope' }, [hugeKey]: 1 });
    expect(bad.status).toBe(400);
    const [row] = await logged(`promotion_id = $1`, [id]);
    expect(row).toMatchObject({ actor: 'sam', action: 'submit', status_code: 400 });
    expect(row!.reason.length).toBeLessThanOrEqual(1000);
    const problems = row!.detail.problems as Array<{ path: string; message: string }>;
    expect(problems.map((p) => p.path)).toContain('artifact.sha256');
    expect(JSON.stringify(row!.detail).length).toBeLessThan(4000);

    // That attempt came before the promotion existed: its audit starts with its submission.
    const good = await request(h.app).post('/v1/promotions').set('authorization', auth).send(manifest);
    expect(good.status).toBe(201);
    const again = await request(h.app).post('/v1/promotions').set('authorization', auth).send({ ...manifest, metrics: { accuracy: 'high' } });
    expect(again.status).toBe(400);
    await logged(`promotion_id = $1 AND reason LIKE '%metrics.accuracy%'`, [id]);
    const audit = await request(h.app).get(promotionPath(id, 'audit')).set('authorization', auth);
    const refusals = (audit.body.events as Array<{ action: string; source: string; comment: string }>).filter((e) => e.source === 'refusal');
    expect(refusals).toHaveLength(1);
    expect(refusals[0]!.comment).toMatch(/metrics\.accuracy/);
  });

  it('the workflow refuses an Update with a failure type per kind of refusal; the API maps each to its status', async () => {
    const { id } = await submitted();
    const handle = h.client.workflow.getHandle(id);
    await waitForStatus(handle, 'IN_REVIEW');
    const refusalType = async (payload: Record<string, unknown>) => {
      const err = await sendUpdate(handle, 'decide', payload as never).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
      const cause = (err as WorkflowUpdateFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      return (cause as ApplicationFailure).type;
    };
    expect(await refusalType({ actor: people.rita, gate: 'technical', decision: 'maybe' })).toBe('MessageInvalid');
    expect(await refusalType({ actor: people.bo, gate: 'technical', decision: 'approve' })).toBe('MessageForbidden');
    expect(await refusalType({ actor: people.bo, gate: 'business', decision: 'approve' })).toBe('MessageConflict');
    expect(await refusalType({ actor: people.rita, gate: 'astrology', decision: 'approve' })).toBe('MessageRefusedByPolicy');

    expect(Object.values(MESSAGE_REFUSAL_TYPES).map(apiCodeOfRefusal)).toEqual(['invalid_input', 'forbidden', 'conflict', 'refused_by_policy']);
    expect(apiCodeOfRefusal('TypeError')).toBeUndefined();
    expect(apiCodeOfRefusal(undefined)).toBeUndefined();
  });

  it('two submissions of one version with different digests racing past the look-up: the registry keeps one, the other promotion ends REJECTED', async () => {
    const manifest = await h.manifest({ model: { riskTier: 'medium' } });
    // Another real artifact for the same version: both pass integrity, and the version is claimed then.
    const other = await h.manifest({ model: { riskTier: 'medium' } });
    const rival = { ...manifest, target: 'staging', artifact: other.artifact };
    // Neither is registered yet, so both pass the look-up and start; their workflows decide.
    const [one, two] = await Promise.all(
      [manifest, rival].map((m) => startPromotion(h.client, { manifest: m, submitter: people.sam, policy: h.policy, taskQueue: h.config.temporal.taskQueue, registry: createSubmissionRegistration(h.pool) })),
    );
    const settled = (s: PromotionState) => s.status !== 'VALIDATING';
    const outcomes = await Promise.all([one!, two!].map((s) => waitForState(h.client.workflow.getHandle(s.promotionId), settled)));
    const registered = await h.pool.query<{ artifact_sha256: string }>('SELECT artifact_sha256 FROM model_versions WHERE model_name = $1', [manifest.model.name]);
    expect(registered.rows).toHaveLength(1);
    const winner = registered.rows[0]!.artifact_sha256 === manifest.artifact.sha256 ? 0 : 1;
    expect(outcomes[winner]!.status).not.toBe('REJECTED');
    expect(outcomes[1 - winner]).toMatchObject({ status: 'REJECTED', outcome: { reason: expect.stringMatching(/is registered with digest/) } });

    // Once registered, the look-up refuses the other digest before anything starts (409), even
    // where the rejected promotion has closed and its id could be reused.
    const late = await request(h.app).post('/v1/promotions').set('authorization', await h.bearer(people.sam)).send([manifest, rival][1 - winner]);
    expect(late.status).toBe(409);
    expect(late.body.error.details.problems[0].path).toBe('artifact.sha256');
  }, 60_000);

  /** The test pool, counting the statements sent through it. */
  const countingPool = () => {
    const counted = { queries: 0, pool: undefined as unknown as typeof h.pool };
    counted.pool = { query: (...args: Parameters<typeof h.pool.query>) => (counted.queries++, h.pool.query(...args)) } as unknown as typeof h.pool;
    return counted;
  };
  /** Registers `model` (owner olivia) and its version 1 with `digest`, as a claim would. */
  const registerVersionOne = async (model: string, digest: string) => {
    await h.pool.query(`INSERT INTO models (name, owner) VALUES ($1, 'olivia') ON CONFLICT DO NOTHING`, [model]);
    await h.pool.query(
      `INSERT INTO model_versions (model_name, version, artifact_sha256, artifact_uri, artifact_format, risk_tier, first_promotion_id)
       VALUES ($1, '1', $2, 'file:///m', 'onnx', 'low', 'p') ON CONFLICT DO NOTHING`,
      [model, digest],
    );
  };

  it('the registry look-up remembers found digests (they never change) and asks again for unregistered versions', async () => {
    const counting = countingPool();
    const digests = createVersionDigests(counting.pool);
    await registerVersionOne('cached-model', 'c'.repeat(64));
    expect(await digests.digestOf('cached-model', '1')).toBe('c'.repeat(64));
    expect(await digests.digestOf('cached-model', '1')).toBe('c'.repeat(64));
    expect(await digests.digestOf('cached-model', '2')).toBeUndefined();
    expect(await digests.digestOf('cached-model', '2')).toBeUndefined();
    expect(counting.queries).toBe(3);
  });

  it("a submission's registry look-up is one statement answering the version's digest and the model's owner, the owner never remembered", async () => {
    const counting = countingPool();
    const registration = createSubmissionRegistration(counting.pool);
    await registerVersionOne('registration-model', 'd'.repeat(64));
    expect(await registration.registrationOf('registration-model', '1')).toEqual({ owner: 'olivia', digest: 'd'.repeat(64) });
    expect(await registration.registrationOf('registration-model', '2')).toEqual({ owner: 'olivia' });
    expect(await registration.registrationOf('no-such-model', '1')).toEqual({});
    // An admin moved the model to another owner: the next submission is checked against the new one.
    await h.pool.query(`UPDATE models SET owner = 'rita' WHERE name = 'registration-model'`);
    expect(await registration.registrationOf('registration-model', '1')).toEqual({ owner: 'rita', digest: 'd'.repeat(64) });
    expect(counting.queries).toBe(4);
  });
});

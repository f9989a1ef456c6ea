import request from 'supertest';
import { recordHistory } from '../support/histories';
import { people, waitForStatus } from '../support/promotions';
import { type ApiHarness, apiHarnessForSuite, promotionPath } from './support';

const waitFor = async <T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`condition never held; last: ${JSON.stringify(last).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 200));
    last = await read();
  }
  return last;
};

describe('HTTP API /v1', () => {
  const harness = apiHarnessForSuite();
  let h: ApiHarness;
  beforeAll(() => {
    h = harness();
  });

  describe('authentication', () => {
    it('when no token is sent, then 401 in the error shape', async () => {
      const res = await request(h.app).post('/v1/promotions').send(await h.manifest());
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: { code: 'unauthenticated', message: 'missing bearer token (Authorization: Bearer <jwt>)' } });
    });

    it('when the token has expired, then 401 says so', async () => {
      const expired = await h.bearer(people.sam, { expiresIn: Math.floor(Date.now() / 1000) - 60 });
      const res = await request(h.app).get('/v1/promotions').set('authorization', expired);
      expect(res.status).toBe(401);
      expect(res.body.error.message).toBe('token has expired');
    });

    it('when the token is signed with another key, then 401 says the signature is invalid', async () => {
      const forged = await h.bearer(people.sam, { secret: 'another-secret-that-is-long-enough-0123456789' });
      const res = await request(h.app).get('/v1/promotions').set('authorization', forged);
      expect(res.status).toBe(401);
      expect(res.body.error.message).toBe('token signature is invalid');
      const logged = await waitFor(
        () => h.pool.query<{ action: string; status_code: number; reason: string; detail: { claimedSubject?: string } }>(
          `SELECT action, status_code, reason, detail FROM refused_attempts WHERE reason = 'token signature is invalid'`,
        ),
        (r) => r.rowCount === 1,
      );
      expect(logged.rows[0]).toEqual({ action: 'get /promotions', status_code: 401, reason: 'token signature is invalid', detail: { claimedSubject: 'sam' } });
    });

    it('when the token is unsigned (alg none), then 401', async () => {
      const body = Buffer.from(JSON.stringify({ sub: 'mallory', roles: ['admin'] })).toString('base64url');
      const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
      const res = await request(h.app).get('/v1/promotions').set('authorization', `Bearer ${header}.${body}.`);
      expect(res.status).toBe(401);
      expect(res.body.error.message).toMatch(/algorithm "none" is not accepted/);
    });
  });

  describe('POST /promotions', () => {
    it('when the manifest is malformed, then 400 names every field path', async () => {
      const manifest = (await h.manifest()) as Record<string, unknown> & { artifact: Record<string, unknown>; model: Record<string, unknown> };
      const { version: _version, ...model } = manifest.model;
      const res = await request(h.app)
        .post('/v1/promotions')
        .set('authorization', await h.bearer(people.sam))
        .send({ ...manifest, model, artifact: { ...manifest.artifact, sha256: 'not-a-digest' }, submitter: 'eve' });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_input');
      const paths = (res.body.error.details.problems as Array<{ path: string }>).map((p) => p.path).sort();
      expect(paths).toEqual(expect.arrayContaining(['artifact.sha256', 'model.version']));
      expect(JSON.stringify(res.body)).toMatch(/submitter/);
      expect(JSON.stringify(res.body)).not.toMatch(/at .*\.[jt]s:\d+/);
    });

    it('when the policy does not govern the target, then 422', async () => {
      const res = await request(h.app)
        .post('/v1/promotions')
        .set('authorization', await h.bearer(people.sam))
        .send(await h.manifest({ target: 'moon' }));
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('refused_by_policy');
      expect(res.body.error.message).toMatch(/moon/);
    });

    it('when the request names an unknown policy, then 422', async () => {
      const res = await request(h.app)
        .post('/v1/promotions?policy=nope')
        .set('authorization', await h.bearer(people.sam))
        .send(await h.manifest());
      expect(res.status).toBe(422);
      expect(res.body.error.message).toMatch(/no policy named "nope"/);
    });

    it('starts a promotion with the caller as submitter; an identical repeat returns it; another digest for the version is 409', async () => {
      const manifest = await h.manifest({ model: { riskTier: 'medium' } });
      const auth = await h.bearer(people.sam);
      const first = await request(h.app).post('/v1/promotions').set('authorization', auth).send(manifest);
      expect(first.status).toBe(201);
      expect(first.body.promotionId).toBe(`promote:${manifest.model.name}:1.0.0:production`);
      expect(first.body.existing).toBe(false);
      const again = await request(h.app).post('/v1/promotions').set('authorization', auth).send(manifest);
      expect(again.status).toBe(200);
      expect(again.body.existing).toBe(true);

      const state = await request(h.app).get(promotionPath(first.body.promotionId)).set('authorization', auth);
      expect(state.status).toBe(200);
      expect(state.body.submitter).toEqual(people.sam);

      // once the registry knows the version, another digest for it is refused
      await waitFor(
        () => h.pool.query('SELECT 1 FROM model_versions WHERE model_name = $1', [manifest.model.name]),
        (r) => r.rowCount === 1,
      );
      const otherDigest = { ...manifest, target: 'staging', artifact: { ...manifest.artifact, sha256: 'a'.repeat(64) } };
      const conflict = await request(h.app).post('/v1/promotions').set('authorization', auth).send(otherDigest);
      expect(conflict.status).toBe(409);
      expect(conflict.body.error.details.problems[0].path).toBe('artifact.sha256');
    });

    it('a retried submission with the same Idempotency-Key returns its promotion even after it ended; without a key it starts anew', async () => {
      const manifest = await h.manifest({ model: { riskTier: 'low' } }); // auto-approved: ends at once
      const auth = await h.bearer(people.sam);
      const submit = (key?: string) => {
        const req = request(h.app).post('/v1/promotions').set('authorization', auth);
        return (key ? req.set('idempotency-key', key) : req).send(manifest);
      };
      const first = await submit('ci-run-42');
      expect(first.status).toBe(201);
      const handle = h.client.workflow.getHandle(first.body.promotionId);
      await handle.result();
      // the answer was lost and the client retries: the same promotion, not a second run
      const retried = await submit('ci-run-42');
      expect(retried.status).toBe(200);
      expect(retried.body).toMatchObject({ promotionId: first.body.promotionId, runId: first.body.runId, existing: true });
      expect((await h.client.workflow.count(`WorkflowId = '${first.body.promotionId}'`)).count).toBe(1);
      // a deliberate resubmission (no key, or another one) after the end promotes again
      const anew = await submit();
      expect(anew.status).toBe(201);
      expect(anew.body.runId).not.toBe(first.body.runId);
      await h.client.workflow.getHandle(first.body.promotionId).result();
    });
  });

  describe('owners and submitters', () => {
    const admin = { id: 'ada', roles: ['admin'] };
    const claimed = async (model: string) =>
      (await h.pool.query('SELECT version FROM model_versions WHERE model_name = $1', [model])).rows.map((r: { version: string }) => r.version);
    const owner = async (model: string) => (await h.pool.query<{ owner: string }>('SELECT owner FROM models WHERE name = $1', [model])).rows[0]?.owner;

    it('submitting needs a role the policy names in submitters (403 naming them)', async () => {
      const res = await request(h.app).post('/v1/promotions').set('authorization', await h.bearer(people.olivia)).send(await h.manifest());
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(/olivia may not submit promotions under policy .* \(needs one of: data-scientist, ml-engineer\)/);
    });

    it('a junk digest claims no version; the real artifact then claims it, and a manifest naming another owner is refused (409)', async () => {
      const manifest = await h.manifest({ model: { riskTier: 'medium' } });
      const auth = await h.bearer(people.sam);
      const junk = { ...manifest, target: 'staging', artifact: { ...manifest.artifact, sha256: '0'.repeat(64) } };
      const squat = await request(h.app).post('/v1/promotions').set('authorization', auth).send(junk);
      expect(squat.status).toBe(201);
      const failed = await waitForStatus(h.client.workflow.getHandle(squat.body.promotionId), 'CHECKS_FAILED');
      expect(failed.checks.find((c) => c.name === 'integrity')!.status).toBe('fail');
      expect(await claimed(manifest.model.name)).toEqual([]);
      expect(await owner(manifest.model.name)).toBeUndefined();
      // withdrawn now: its remediation window (4 s in this policy) would end it on a slow machine
      const squatWithdrawn = await request(h.app).post(promotionPath(squat.body.promotionId, 'withdraw')).set('authorization', auth).send({ reason: 'test done' });
      expect(squatWithdrawn.status).toBe(200);

      const real = await request(h.app).post('/v1/promotions').set('authorization', auth).send(manifest);
      expect(real.status).toBe(201);
      await waitFor(() => claimed(manifest.model.name), (v) => v.length === 1);
      expect(await owner(manifest.model.name)).toBe('olivia');
      const state = await request(h.app).get(promotionPath(real.body.promotionId)).set('authorization', auth);
      expect(state.body.timeline.find((t: { action: string }) => t.action === 'version_claimed')).toMatchObject({ detail: { owner: 'olivia', integrity: 'passed' } });

      const reowned = { ...manifest, model: { ...manifest.model, version: '2.0.0', owner: 'sam' } };
      const refused = await request(h.app).post('/v1/promotions').set('authorization', auth).send(reowned);
      expect(refused.status).toBe(409);
      expect(refused.body.error.message).toMatch(/registered to owner olivia, not sam/);
      expect(refused.body.error.details.problems[0].path).toBe('model.owner');
      expect(await owner(manifest.model.name)).toBe('olivia');

      const withdrawn = await request(h.app).post(promotionPath(real.body.promotionId, 'withdraw')).set('authorization', auth).send({ reason: 'test done' });
      expect(withdrawn.status).toBe(200);
      for (const id of [squat.body.promotionId as string, real.body.promotionId as string]) await waitForStatus(h.client.workflow.getHandle(id), 'WITHDRAWN');
      await recordHistory('promotion-junk-digest-claims-nothing', h.client.workflow.getHandle(squat.body.promotionId));
      await recordHistory('promotion-version-claimed-after-integrity', h.client.workflow.getHandle(real.body.promotionId));
    });

    it("only an admin changes a model's owner (PUT /v1/models/{name}/owner), recorded in the audit archive", async () => {
      const manifest = await h.manifest({ model: { riskTier: 'medium' } });
      const started = await request(h.app).post('/v1/promotions').set('authorization', await h.bearer(people.sam)).send(manifest);
      expect(started.status).toBe(201);
      await waitFor(() => owner(manifest.model.name), (o) => o === 'olivia');
      const path = `/v1/models/${manifest.model.name}/owner`;
      const body = { owner: 'rita', reason: 'olivia moved to another team' };
      const bySam = await request(h.app).put(path).set('authorization', await h.bearer(people.sam)).send(body);
      expect(bySam.status).toBe(403);
      expect(bySam.body.error.message).toMatch(/needs role admin/);
      const short = await request(h.app).put(path).set('authorization', await h.bearer(admin)).send({ owner: 'rita', reason: 'x' });
      expect(short.status).toBe(400);
      const unknown = await request(h.app).put('/v1/models/no-such-model/owner').set('authorization', await h.bearer(admin)).send(body);
      expect(unknown.status).toBe(404);
      const changed = await request(h.app).put(path).set('authorization', await h.bearer(admin)).send(body);
      expect(changed.status).toBe(200);
      expect(changed.body).toMatchObject({ owner: 'rita', previousOwner: 'olivia', changedBy: 'ada' });
      const again = await request(h.app).put(path).set('authorization', await h.bearer(admin)).send({ owner: 'ravi', reason: 'rita is on leave now' });
      expect(again.status).toBe(200);
      const audit = await h.pool.query('SELECT seq, actor, action, detail FROM audit_events WHERE promotion_id = $1 ORDER BY seq', [`model:${manifest.model.name}`]);
      expect(audit.rows).toEqual([
        { seq: 1, actor: 'ada', action: 'owner_changed', detail: { model: manifest.model.name, from: 'olivia', to: 'rita', reason: body.reason } },
        { seq: 2, actor: 'ada', action: 'owner_changed', detail: expect.objectContaining({ from: 'rita', to: 'ravi' }) },
      ]);
      const next = { ...manifest, model: { ...manifest.model, version: '2.0.0' } };
      const asOlivia = await request(h.app).post('/v1/promotions').set('authorization', await h.bearer(people.sam)).send(next);
      expect(asOlivia.status).toBe(409);
      const asRavi = await request(h.app)
        .post('/v1/promotions')
        .set('authorization', await h.bearer(people.sam))
        .send({ ...next, model: { ...next.model, owner: 'ravi' } });
      expect(asRavi.status).toBe(201);
    });
  });

  describe('a promotion through review', () => {
    let id: string;
    let modelName: string;

    beforeAll(async () => {
      const manifest = await h.manifest({ model: { riskTier: 'medium', owner: 'olivia' } });
      modelName = manifest.model.name;
      const res = await request(h.app).post('/v1/promotions').set('authorization', await h.bearer(people.sam)).send(manifest);
      id = res.body.promotionId;
      await waitForStatus(h.client.workflow.getHandle(id), 'IN_REVIEW');
    }, 60_000);

    const decide = async (actor: (typeof people)[keyof typeof people], body: Record<string, unknown>) =>
      request(h.app).post(promotionPath(id, 'decisions')).set('authorization', await h.bearer(actor)).send(body);

    it('when the decision is malformed, then 400 names the field', async () => {
      const res = await decide(people.rita, { gate: 'technical', decision: 'maybe' });
      expect(res.status).toBe(400);
      expect(res.body.error.details.problems[0].path).toBe('decision');
    });

    it('when the caller lacks the gate role, then 403 with the workflow reason', async () => {
      const res = await decide(people.bo, { gate: 'technical', decision: 'approve' });
      expect(res.status).toBe(403);
      expect(res.body.error).toEqual({ code: 'forbidden', message: 'bo lacks a role of gate "technical" (needs one of: ml-reviewer)' });
    });

    it('when the model owner approves their own model, then 403 (a valid token is not enough)', async () => {
      const res = await decide(people.olivia, { gate: 'technical', decision: 'approve' });
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(/^separation of duties: olivia owns model/);
    });

    it('when the submitter approves, even holding the role, then 403', async () => {
      const res = await decide({ id: 'sam', roles: ['ml-reviewer'] }, { gate: 'technical', decision: 'approve' });
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(/^separation of duties: sam submitted this promotion/);
    });

    it('when the gate is not open yet, then 409; when it does not exist, then 422', async () => {
      const notOpen = await decide(people.bo, { gate: 'business', decision: 'approve' });
      expect(notOpen.status).toBe(409);
      expect(notOpen.body.error.message).toMatch(/gate "business" is not open/);
      const unknown = await decide(people.rita, { gate: 'astrology', decision: 'approve' });
      expect(unknown.status).toBe(422);
    });

    it('when the promotion does not exist, then 404', async () => {
      const auth = await h.bearer(people.rita);
      const res = await request(h.app).post(promotionPath('promote:nothing:1:production', 'decisions')).set('authorization', auth).send({ gate: 'technical', decision: 'approve' });
      expect(res.status).toBe(404);
      const get = await request(h.app).get(promotionPath('promote:nothing:1:production')).set('authorization', auth);
      expect(get.status).toBe(404);
      expect(get.body.error.code).toBe('not_found');
    });

    it('pendingFor=me lists it for a reviewer of the open gate, not for others', async () => {
      const mine = await waitFor(
        async () => request(h.app).get('/v1/promotions?pendingFor=me').set('authorization', await h.bearer(people.rita)),
        (r) => r.body.promotions?.some((p: { promotionId: string }) => p.promotionId === id),
      );
      const listed = mine.body.promotions.find((p: { promotionId: string }) => p.promotionId === id);
      expect(listed).toMatchObject({ model: modelName, status: 'IN_REVIEW', pendingGates: ['technical'], submitter: 'sam' });
      expect(mine.body.query).toContain("PendingRoles IN ('ml-reviewer')");
      const notMine = await request(h.app).get('/v1/promotions?pendingFor=me').set('authorization', await h.bearer(people.bo));
      expect(notMine.body.promotions.map((p: { promotionId: string }) => p.promotionId)).not.toContain(id);
      const bad = await request(h.app).get('/v1/promotions?status=SLEEPING').set('authorization', await h.bearer(people.bo));
      expect(bad.status).toBe(400);
      expect(bad.body.error.details.problems[0].path).toBe('status');
    });

    it('filters by model and paginates with nextPageToken', async () => {
      const auth = await h.bearer(people.rita);
      const res = await waitFor(
        async () => request(h.app).get(`/v1/promotions?model=${modelName}&pageSize=1`).set('authorization', auth),
        (r) => r.body.promotions?.length === 1,
      );
      expect(res.body.promotions[0].promotionId).toBe(id);
      const all = await request(h.app).get('/v1/promotions?pageSize=1').set('authorization', auth);
      expect(all.body.promotions).toHaveLength(1);
      expect(all.body.nextPageToken).toEqual(expect.any(String));
      const next = await request(h.app).get(`/v1/promotions?pageSize=1&pageToken=${all.body.nextPageToken}`).set('authorization', auth);
      expect(next.status).toBe(200);
      expect(next.body.promotions[0].promotionId).not.toBe(all.body.promotions[0].promotionId);
    });

    it('approves gate by gate to DEPLOYED; the registry and the audit show it, refusals included', async () => {
      const technical = await decide(people.rita, { gate: 'technical', decision: 'approve', comment: 'looks right', requestId: 'rita-1' });
      expect(technical.status).toBe(200);
      expect(technical.body).toMatchObject({ promotionId: id, requestId: 'rita-1', message: 'decide', status: 'IN_REVIEW' });
      const repeat = await decide(people.rita, { gate: 'technical', decision: 'approve', comment: 'looks right', requestId: 'rita-1' });
      expect(repeat.body).toEqual(technical.body);
      await waitFor(async () => (await h.client.workflow.getHandle(id).query<{ stages: Array<{ gates: Array<{ name: string; status: string }> }> }>('state')).stages[1]!.gates[0]!.status, (s) => s === 'open');
      const business = await decide(people.bo, { gate: 'business', decision: 'approve' });
      expect(business.status).toBe(200);
      await waitForStatus(h.client.workflow.getHandle(id), 'DEPLOYED');
      await h.client.workflow.getHandle(id).result();

      const late = await decide(people.rita, { gate: 'technical', decision: 'approve' });
      expect(late.status).toBe(409);

      const auth = await h.bearer(people.rita);
      const final = await request(h.app).get(promotionPath(id)).set('authorization', auth);
      expect(final.body).toMatchObject({ status: 'DEPLOYED', deployment: { environment: 'production' } });
      const model = await request(h.app).get(`/v1/models/${modelName}`).set('authorization', auth);
      expect(model.status).toBe(200);
      expect(model.body.serving).toEqual({ production: '1.0.0' });
      expect(model.body.versions[0].approvals[0]).toMatchObject({ environment: 'production', status: 'approved', promotionId: id });
      const models = await request(h.app).get('/v1/models').set('authorization', auth);
      expect(models.body.models.map((m: { name: string }) => m.name)).toContain(modelName);
      expect((await request(h.app).get('/v1/models/no-such-model').set('authorization', auth)).status).toBe(404);

      const audit = await request(h.app).get(promotionPath(id, 'audit')).set('authorization', auth);
      expect(audit.status).toBe(200);
      expect(audit.body.source).toBe('temporal');
      const events = audit.body.events as Array<Record<string, unknown>>;
      const actions = events.map((e) => e.action);
      expect(actions).toEqual(
        expect.arrayContaining(['submitted', 'checks_started', 'checks_completed', 'gate_opened', 'decision_approve', 'approved', 'deploying', 'deployed']),
      );
      expect(actions.indexOf('submitted')).toBe(0);
      const approval = events.find((e) => e.action === 'decision_approve' && e.actor === 'rita')!;
      expect(approval).toMatchObject({ gate: 'technical', decision: 'approve', comment: 'looks right', policyVersion: 'test-1', source: 'workflow' });
      expect(approval.evidenceDigest).toMatch(/^[0-9a-f]{64}$/);
      const refusals = events.filter((e) => e.source === 'refusal');
      expect(refusals.map((e) => [e.actor, e.action, (e.detail as { statusCode: number }).statusCode])).toEqual(
        expect.arrayContaining([
          ['bo', 'refused_decide', 403],
          ['olivia', 'refused_decide', 403],
          ['sam', 'refused_decide', 403],
          ['bo', 'refused_decide', 409],
          ['rita', 'refused_decide', 422],
          ['rita', 'refused_decide', 409],
        ]),
      );

      const jsonl = await request(h.app).get(promotionPath(id, 'audit') + '?format=jsonl').set('authorization', auth);
      expect(jsonl.headers['content-type']).toMatch(/application\/x-ndjson/);
      const lines = jsonl.text.trim().split('\n').map((l) => JSON.parse(l) as { action: string });
      expect(lines.map((l) => l.action)).toEqual(actions);
    });
  });

  describe('other endpoints', () => {
    it('GET /policies lists the loaded policies with version and digest', async () => {
      const res = await request(h.app).get('/v1/policies').set('authorization', await h.bearer(people.sam));
      expect(res.status).toBe(200);
      expect(res.body.policies[0]).toMatchObject({ name: 'workflow-test', version: 'test-1', digest: h.policy.digest });
    });

    it('/openapi.json is generated from the request schemas', async () => {
      const res = await request(h.app).get('/openapi.json');
      expect(res.status).toBe(200);
      expect(res.body.openapi).toBe('3.1.0');
      expect(Object.keys(res.body.paths)).toEqual(
        expect.arrayContaining([
          '/v1/promotions',
          '/v1/promotions/{id}',
          '/v1/promotions/{id}/decisions',
          '/v1/promotions/{id}/overrides',
          '/v1/promotions/{id}/expedite',
          '/v1/promotions/{id}/revisions',
          '/v1/promotions/{id}/withdraw',
          '/v1/promotions/{id}/audit',
          '/v1/models',
          '/v1/models/{name}',
          '/v1/policies',
        ]),
      );
      const manifest = res.body.components.schemas.PromotionManifest;
      expect(manifest.required).toEqual(expect.arrayContaining(['model', 'target', 'artifact']));
      expect(manifest.properties.artifact.properties.format.enum).toContain('safetensors');
      const decision = res.body.paths['/v1/promotions/{id}/decisions'].post.requestBody.content['application/json'].schema;
      expect(decision.properties.decision.enum).toEqual(['approve', 'reject', 'request_changes']);
    });

    it('/metrics serves Prometheus text with the promotion metrics', async () => {
      const res = await request(h.app).get('/metrics');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/text\/plain/);
      for (const name of [
        'modelgate_promotions{status="DEPLOYED"}',
        'modelgate_pending_promotions',
        'modelgate_gate_decision_latency_seconds_bucket',
        'modelgate_approval_velocity_seconds_bucket',
        'modelgate_check_duration_seconds_bucket',
      ]) {
        expect(res.text).toContain(name);
      }
    });

    it('withdraw by someone else is 403; by the submitter it ends the promotion', async () => {
      const manifest = await h.manifest({ model: { riskTier: 'medium' } });
      const started = await request(h.app).post('/v1/promotions').set('authorization', await h.bearer(people.sam)).send(manifest);
      const id = started.body.promotionId as string;
      const byOther = await request(h.app).post(promotionPath(id, 'withdraw')).set('authorization', await h.bearer(people.rita)).send({ reason: 'not mine' });
      expect(byOther.status).toBe(403);
      const bySubmitter = await request(h.app).post(promotionPath(id, 'withdraw')).set('authorization', await h.bearer(people.sam)).send({ reason: 'wrong data' });
      expect(bySubmitter.status).toBe(200);
      expect(bySubmitter.body.status).toBe('WITHDRAWN');
      const expedite = await request(h.app).post(promotionPath(id, 'expedite')).set('authorization', await h.bearer(people.max)).send({ reason: 'hurry' });
      expect([409, 404]).toContain(expedite.status);
    });
  });
});

import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { parse as parseYaml } from 'yaml';
import type { PromotionState } from '../src/shared/promotion';
import { type ApiHarness, promotionPath, startApiHarness } from './api/support';
import { people } from './support/promotions';
import { waitUntil } from './support/wait';

jest.setTimeout(180_000);

const EXAMPLES = path.join(__dirname, '..', 'examples');

/** Reads an example file with its relative `file://` URIs made absolute against `dir`, as the CLI submits it. */
function exampleDocument(dir: string, file: string): Record<string, unknown> {
  const text = readFileSync(path.join(dir, file), 'utf8').replace(/file:\/\/(?!\/)/g, `file://${dir}/`);
  return parseYaml(text) as Record<string, unknown>;
}

/**
 * Every example manifest, submitted through the real API, worker, Temporal and PostgreSQL under the
 * shipped policy, gives the outcome examples/README.md documents.
 */
describe('the examples give their documented outcomes', () => {
  let h: ApiHarness;
  let dir: string;
  let auth: string;

  beforeAll(async () => {
    h = await startApiHarness({ policyFile: path.join(__dirname, '..', 'policies', 'default.yaml') });
    auth = await h.bearer(people.sam);
    // The tests' workers read sources under the temporary folder only: the examples are copied there.
    dir = mkdtempSync(path.join(tmpdir(), 'modelgate-examples-'));
    cpSync(EXAMPLES, dir, { recursive: true });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const submit = async (file: string) => {
    const res = await request(h.app).post('/v1/promotions').set('authorization', auth).send(exampleDocument(dir, file));
    expect(res.status).toBe(201);
    return res.body.promotionId as string;
  };
  const stateOf = async (id: string) => (await request(h.app).get(promotionPath(id)).set('authorization', auth)).body as PromotionState;
  const settled = (id: string, done: (s: PromotionState) => boolean = (s) => s.status !== 'VALIDATING') => waitUntil(() => stateOf(id), done, 120_000);
  const failing = (s: PromotionState) => s.checks.filter((c) => c.status === 'fail' || c.status === 'error').map((c) => c.name);

  it.each([
    ['low-auto-approved.yaml', 'DEPLOYED'],
    ['medium-review.yaml', 'IN_REVIEW'],
    ['high-review.yaml', 'IN_REVIEW'],
  ])('%s → %s with every check passing', async (file, status) => {
    const state = await settled(await submit(file), (s) => s.status === status || ['CHECKS_FAILED', 'REJECTED', 'DEPLOY_FAILED'].includes(s.status));
    expect({ status: state.status, failing: failing(state) }).toEqual({ status, failing: [] });
  });

  it.each([
    ['fails-integrity.yaml', ['integrity', 'security']],
    ['fails-security.yaml', ['security']],
    ['fails-performance.yaml', ['performance']],
    ['fails-fairness.yaml', ['fairness']],
    ['fails-model-card.yaml', ['modelCard']],
    ['fails-lineage.yaml', ['lineage']],
    ['fails-privacy.yaml', ['privacy']],
  ])('%s → CHECKS_FAILED on %j', async (file, checks) => {
    const state = await settled(await submit(file));
    expect({ status: state.status, failing: failing(state) }).toEqual({ status: 'CHECKS_FAILED', failing: checks });
  });

  it('revision-model-card.yaml revises the failed model card: the checks run again and the promotion waits for review', async () => {
    const id = (await stateOf('promote:credit-risk:1.0.5-fails-model-card:production')).promotionId;
    const res = await request(h.app)
      .post(promotionPath(id, 'revisions'))
      .set('authorization', auth)
      .send({ changes: exampleDocument(dir, 'revision-model-card.yaml'), comment: 'model card completed' });
    expect(res.status).toBe(200);
    const state = await settled(id, (s) => s.status === 'IN_REVIEW' || s.checkRuns > 1 && s.status === 'CHECKS_FAILED');
    expect({ status: state.status, failing: failing(state), runs: state.checkRuns }).toEqual({ status: 'IN_REVIEW', failing: [], runs: 2 });
  });
});

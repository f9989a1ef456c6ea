// The reviewer dashboard in a real browser (Debian's Chromium driven by playwright-core),
// against the real API, Temporal dev server, worker and PostgreSQL. One browser for the file;
// one browser context (a fresh tab session) per signed-in reviewer.
import { mkdir, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { unzipPack } from '../../src/evidence/bundle';
import type { Actor } from '../../src/shared/promotion';
import { promotionSignals } from '../../src/shared/messages';
import { type ApiHarness, startApiHarness, TEST_DEV_SECRET } from '../api/support';
import { chromiumPath } from '../support/chromium';
import { REPO_ROOT } from '../support/processes';
import { waitUntil } from '../support/wait';
import { people, sendUpdate, waitForState, waitForStatus } from '../support/promotions';

const DASHBOARD_POLICY = path.join(__dirname, '..', 'fixtures', 'policies', 'dashboard-test.yaml');
const LAPTOP = { width: 1366, height: 768 };
/** Where the screenshots the tests take are kept (a CI run keeps them beside its log). */
const SCREENSHOTS = path.join(REPO_ROOT, 'test-artifacts', 'dashboard');

/** Keeps a full-page screenshot of `page` as `SCREENSHOTS/name.png`, and checks it is a laptop-wide PNG. */
async function keepScreenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  const png = await readFile(file);
  expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  expect(png.readUInt32BE(16)).toBe(LAPTOP.width);
}

describe('reviewer dashboard in a browser', () => {
  let h: ApiHarness;
  let server: Server;
  let base: string;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  /** Requests to anywhere but the API's origin, and errors in any page: both must stay empty. */
  const offOrigin: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    h = await startApiHarness({ policyFile: DASHBOARD_POLICY, dashboard: { devSignIn: { devSignInSecret: TEST_DEV_SECRET } } });
    server = await new Promise<Server>((resolve) => {
      const s = h.app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: chromiumPath() });
  }, 120_000);

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    await h?.close();
  }, 60_000);

  /** A new tab session at the laptop size, watched for off-origin requests and page errors. */
  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: LAPTOP });
    contexts.push(context);
    const page = await context.newPage();
    page.on('request', (r) => {
      // A blob: URL of the API's origin is a download the page made (the evidence pack).
      if (!r.url().startsWith(`${base}/`) && !r.url().startsWith(`blob:${base}/`) && !r.url().startsWith('data:')) offOrigin.push(r.url());
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.setDefaultTimeout(15_000);
    return page;
  }

  /** Signs in as a dev user (the sign-in page's button) or with a pasted token, then opens `hash`. */
  async function signedIn(who: string | Actor, hash = '#/queue'): Promise<Page> {
    const page = await newPage();
    await page.goto(`${base}/ui/${hash}`);
    if (typeof who === 'string') {
      await page.click(`[data-dev-user="${who}"]`);
    } else {
      await page.getByLabel('Bearer token (JWT) issued for you').fill((await h.bearer(who)).replace(/^Bearer /, ''));
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    }
    await page.getByTestId('signed-in-as').waitFor();
    return page;
  }

  const promotionHash = (id: string) => `#/promotions/${encodeURIComponent(id)}`;

  /** Submits a promotion (as sam unless said) and waits until its first stage is open. */
  async function inReview(overrides: Parameters<ApiHarness['manifest']>[0] = {}, submitter?: Actor): Promise<WorkflowHandle> {
    const handle = await h.submit(await h.manifest({ model: { riskTier: 'medium' }, ...overrides }), submitter);
    await waitForState(handle, (s) => s.status === 'IN_REVIEW' && s.stages[0]!.gates.every((g) => g.status === 'open'));
    return handle;
  }

  /** An attribute of the focused element (browser code as a string: the tests are compiled without the DOM library). */
  const focused = async (page: Page, attribute: string) => page.locator(':focus').getAttribute(attribute);

  const rowOf = (page: Page, id: string) => page.locator(`tr[data-promotion-id="${id}"]`);

  it('signs in with a dev user or a pasted token; a bad token is refused with the reason; / leads to the dashboard', async () => {
    const page = await newPage();
    await page.goto(`${base}/`);
    expect(new URL(page.url()).pathname).toBe('/ui/');
    await page.getByRole('heading', { name: 'Local dev users' }).waitFor();
    await page.click('[data-dev-user="rita"]');
    expect(await page.getByTestId('signed-in-as').innerText()).toMatch(/rita\s*\(ml-reviewer\)/);
    await page.getByRole('heading', { name: 'My queue' }).waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('Signed out.').waitFor();
    await page.getByLabel('Bearer token (JWT) issued for you').fill('not-a-jwt');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    expect(await page.getByRole('alert').innerText()).toMatch(/Not signed in: token is not a JWT/);

    await page.getByLabel('Bearer token (JWT) issued for you').fill((await h.bearer(people.bo)).replace(/^Bearer /, ''));
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    expect(await page.getByTestId('signed-in-as').innerText()).toMatch(/bo\s*\(business-owner\)/);
  });

  it('my queue shows what waits on my gate, nearest deadline first with time left, and not what waits on others', async () => {
    const [medium, high, ownedByRita] = await Promise.all([
      inReview(),
      inReview({ model: { riskTier: 'high' } }),
      inReview({ model: { riskTier: 'medium', owner: 'rita' } }),
    ]);
    const rita = await signedIn('rita');
    await rowOf(rita, medium.workflowId).waitFor();
    await rowOf(rita, high.workflowId).waitFor();
    const order = await rita.locator('[data-testid="queue"] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-promotion-id')));
    expect(order.indexOf(high.workflowId)).toBeLessThan(order.indexOf(medium.workflowId));
    expect(order).not.toContain(ownedByRita.workflowId);
    // The policy gives the high tier's technical gate 2 hours, the medium tier's 4.
    expect(await rowOf(rita, high.workflowId).locator('.time-left').innerText()).toMatch(/^1h 5\dm left$/);
    expect(await rowOf(rita, medium.workflowId).locator('.time-left').innerText()).toMatch(/^3h 5\dm left$/);
    expect(await rowOf(rita, medium.workflowId).locator('[data-gate]').innerText()).toMatch(/Technical review/);
    await keepScreenshot(rita, 'queue');

    const sofia = await signedIn({ id: 'sofia', roles: ['security-reviewer'] });
    await rowOf(sofia, high.workflowId).waitFor();
    expect(await rowOf(sofia, medium.workflowId).count()).toBe(0);
    expect(await rowOf(sofia, high.workflowId).locator('[data-gate]').innerText()).toMatch(/Security review/);
  });

  it('approving from the queue: open the promotion, approve, it moves on to the next stage and leaves the queue', async () => {
    const handle = await inReview();
    const page = await signedIn('rita');
    await rowOf(page, handle.workflowId).getByRole('link').click();
    expect(new URL(page.url()).hash).toBe(promotionHash(handle.workflowId));
    const form = page.locator('form.decision[data-gate="technical"]');
    await form.waitFor();
    // The page links the workflow in the Temporal UI, where operators read its history.
    const temporalLink = await page.getByTestId('temporal-link').getAttribute('href');
    expect(temporalLink?.endsWith(`/namespaces/${h.client.options.namespace}/workflows/${encodeURIComponent(handle.workflowId)}`)).toBe(true);
    await keepScreenshot(page, 'promotion');
    await form.getByLabel(/Comment/).fill('Metrics and model card check out');
    await form.getByRole('button', { name: 'Approve' }).click();
    await page.getByText(/Approve on gate technical: approved gate technical \(1\/1\): gate passed/).waitFor();
    await page.locator('tr[data-gate="business"][data-gate-status="open"]').waitFor();
    const signature = page.locator('tr[data-gate="technical"] li[data-actor="rita"]');
    expect(await signature.getAttribute('data-decision')).toBe('approve');
    expect(await signature.innerText()).toContain('Metrics and model card check out');
    expect(await page.locator('form.decision').count()).toBe(0);
    expect(await page.locator('[data-event="decision_approve"]').count()).toBe(1);
    const state = await waitForState(handle, (s) => s.stages[1]!.gates[0]!.status === 'open');
    expect(state.stages[0]!.gates[0]!.signatures.map((s) => s.actorId)).toEqual(['rita']);

    await page.getByRole('link', { name: 'My queue' }).click();
    await page.getByRole('heading', { name: 'My queue' }).waitFor();
    await rowOf(page, handle.workflowId).waitFor({ state: 'detached' });
  });

  it('all promotions: filters by status, model and tier, kept in the address', async () => {
    const name = `filtered-${Date.now()}`;
    const high = await inReview({ model: { name, version: '1.0.0', riskTier: 'high' } });
    const medium = await inReview({ model: { name, version: '1.1.0', riskTier: 'medium' } });
    const page = await signedIn('max', '#/promotions');
    const filters = page.getByRole('form', { name: 'Filter promotions' });
    await page.locator('[data-testid="promotions"]').waitFor();
    await filters.getByLabel('Model').fill(name);
    // The list refreshes every 3 s; a refresh keeps what was typed but not applied yet.
    await page.waitForTimeout(3_500);
    expect(await filters.getByLabel('Model').inputValue()).toBe(name);
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    const rows = page.locator('[data-testid="promotions"] tbody tr');
    // The unfiltered list stays until the filtered one has arrived.
    await waitUntil(() => rows.count(), (n) => n === 2);
    await rowOf(page, high.workflowId).waitFor();
    await rowOf(page, medium.workflowId).waitFor();

    await filters.getByLabel('Tier').selectOption('high');
    await filters.getByLabel('Status').selectOption('IN_REVIEW');
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    await waitUntil(() => rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-promotion-id'))), (ids) => ids.length === 1 && ids[0] === high.workflowId);
    expect(await rowOf(page, high.workflowId).locator('td').nth(2).innerText()).toBe('high');
    expect(Object.fromEntries(new URLSearchParams(new URL(page.url()).hash.split('?')[1]))).toEqual({ status: 'IN_REVIEW', model: name, tier: 'high' });

    await filters.getByLabel('Status').selectOption('DEPLOYED');
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No promotion matches these filters.').waitFor();
  });

  it('rejecting without a comment is refused with the reason and nothing is sent; with one, the promotion is rejected', async () => {
    const handle = await inReview();
    const page = await signedIn('rita', promotionHash(handle.workflowId));
    const form = page.locator('form.decision[data-gate="technical"]');
    await form.getByRole('button', { name: 'Reject' }).click();
    expect(await form.locator('.field-error').innerText()).toBe('A comment is required to reject: say what is wrong, for the submitter and the audit.');
    expect(await form.getByLabel(/Comment/).getAttribute('aria-invalid')).toBe('true');
    expect(await focused(page, 'id')).toBe('decide-technical-comment');
    const refused = await h.pool.query('SELECT 1 FROM refused_attempts WHERE promotion_id = $1', [handle.workflowId]);
    expect(refused.rowCount).toBe(0);
    expect((await handle.query<{ status: string }>('state')).status).toBe('IN_REVIEW');

    await form.getByLabel(/Comment/).fill('Calibration drifts on the holdout set');
    await form.getByRole('button', { name: 'Reject' }).click();
    await page.locator('main[data-status="REJECTED"]').waitFor();
    await waitForStatus(handle, 'REJECTED');
  });

  it('a refusal of the workflow shows its reason: separation of duties for the submitter', async () => {
    const samReviewer = { id: 'sam', roles: ['data-scientist', 'ml-reviewer'] };
    const handle = await inReview({}, samReviewer);
    const page = await signedIn(samReviewer, promotionHash(handle.workflowId));
    const form = page.locator('form.decision[data-gate="technical"]');
    expect(await form.locator('.notice-warn').innerText()).toMatch(/Separation of duties/);
    await form.getByRole('button', { name: 'Approve' }).click();
    const alert = page.getByTestId('outcome').getByRole('alert');
    expect(await alert.innerText()).toMatch(
      /Approve on gate technical refused: separation of duties: sam submitted this promotion and cannot decide on it\s*\(403 forbidden\)/,
    );
    expect((await handle.query<{ status: string }>('state')).status).toBe('IN_REVIEW');
    // The refused attempt is in the audit timeline the page shows.
    await page.locator('[data-event="refused_decide"]').waitFor();
  });

  it("a decision an operator sent as a Temporal Signal shows in the timeline as such, with the caller's Temporal identity", async () => {
    const handle = await inReview();
    const operator = { id: 'rita', roles: ['ml-reviewer', 'modelgate-operator'] };
    await handle.signal(promotionSignals.decide, { actor: operator, requestId: 'ops-1', gate: 'technical', decision: 'approve', comment: 'signed while the API was down' });
    await waitForState(handle, (s) => s.stages[0]!.gates[0]!.status === 'approved');
    const page = await signedIn({ id: 'ravi', roles: ['ml-reviewer'] }, promotionHash(handle.workflowId));
    const badge = page.locator('[data-event="decision_approve"]').getByTestId('via-signal');
    expect(await badge.innerText()).toContain(`via Temporal Signal (${h.client.options.identity})`);
  });

  it('override and expedite are offered only to the roles the policy allows, and they act', async () => {
    const handle = await inReview();
    const id = handle.workflowId;
    const rita = await signedIn('rita', promotionHash(id));
    await rita.locator('form.decision').waitFor();
    expect(await rita.getByRole('heading', { name: 'Manager actions' }).count()).toBe(0);

    const max = await signedIn('max', promotionHash(id));
    await max.getByRole('heading', { name: 'Manager actions' }).waitFor();
    expect(await max.locator('form.expedite').count()).toBe(1);
    expect(await max.locator('form.override').count()).toBe(0);
    await max.getByLabel(/^Reason/).fill('Fraud wave: the new model must be live this week');
    await max.getByRole('button', { name: 'Expedite' }).click();
    await max.getByTestId('expedited').waitFor();
    expect(await max.getByTestId('expedited').innerText()).toMatch(/by max at .*Fraud wave/);
    // The expedited deadline of the policy is one hour.
    expect(await max.locator('tr[data-gate="technical"] .time-left').nth(1).innerText()).toMatch(/^(59m|1h 00m) left$/);
    expect(await max.locator('form.expedite').count()).toBe(0);

    const rick = await signedIn('rick', promotionHash(id));
    const force = rick.locator('form.override[data-override="force_gate"]');
    await force.waitFor();
    await force.getByLabel('Justification (at least 10 characters)').fill('short');
    await force.getByRole('button', { name: 'Force a gate' }).click();
    expect(await rick.getByTestId('outcome').getByRole('alert').innerText()).toMatch(/justification: must explain the override in at least 10 characters/);
    await force.getByLabel('Justification (at least 10 characters)').fill('Incident 4711: reviewer unavailable, CTO approved by phone');
    await force.getByRole('button', { name: 'Force a gate' }).click();
    await rick.locator('tr[data-gate="technical"][data-gate-status="forced"]').waitFor();
    await rick.locator('tr[data-gate="business"][data-gate-status="open"]').waitFor();

    const failing = await h.submit(await h.manifest({ metrics: { accuracy: 0.5 } }));
    await waitForStatus(failing, 'CHECKS_FAILED');
    const rickOnFailed = await signedIn('rick', promotionHash(failing.workflowId));
    const waive = rickOnFailed.locator('form.override[data-override="waive_check"]');
    await waive.waitFor();
    expect(await waive.locator('option').allInnerTexts()).toEqual(['performance']);
    expect(await rickOnFailed.locator('tr[data-check="performance"]').getAttribute('data-check-status')).toBe('fail');
  });

  it('a decision by another reviewer shows up without a reload: the queue and the promotion page follow', async () => {
    const handle = await inReview();
    const rita = await signedIn('rita');
    await rowOf(rita, handle.workflowId).waitFor();
    const bo = await signedIn('bo', promotionHash(handle.workflowId));
    await bo.locator('tr[data-gate="technical"][data-gate-status="open"]').waitFor();
    expect(await bo.locator('form.decision').count()).toBe(0);
    for (const page of [rita, bo]) await page.evaluate('window.notReloaded = true');

    await sendUpdate(handle, 'decide', { actor: people.ravi, gate: 'technical', decision: 'approve' });

    await rowOf(rita, handle.workflowId).waitFor({ state: 'detached', timeout: 10_000 });
    await bo.locator('form.decision[data-gate="business"]').waitFor({ timeout: 10_000 });
    expect(await bo.locator('tr[data-gate="technical"] li[data-actor="ravi"]').count()).toBe(1);
    for (const page of [rita, bo]) expect(await page.evaluate('window.notReloaded')).toBe(true);
  });

  it('the promotion page downloads its evidence pack: fetched with the token, saved as a zip', async () => {
    const handle = await inReview();
    const page = await signedIn('rita', promotionHash(handle.workflowId));
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('evidence-link').click()]);
    expect(download.suggestedFilename()).toMatch(/^evidence-promote_.+\.zip$/);
    const files = unzipPack(new Uint8Array(await readFile(await download.path())));
    const manifest = JSON.parse(Buffer.from(files.get('manifest.json')!).toString('utf8'));
    expect(manifest).toMatchObject({ promotionId: handle.workflowId, status: 'IN_REVIEW', exportedBy: { id: 'rita' } });
    expect(files.has('SHA256SUMS')).toBe(true);
  });

  it('works by keyboard: skip link, then Tab to Approve (with a visible focus ring) and Enter', async () => {
    const handle = await inReview();
    const page = await signedIn('rita', promotionHash(handle.workflowId));
    await page.locator('form.decision').waitFor();
    // A page load starts at the top of the document.
    await page.reload();
    await page.locator('form.decision').waitFor();
    await page.keyboard.press('Tab');
    expect(await page.locator(':focus').innerText()).toBe('Skip to the content');
    await page.keyboard.press('Enter');
    expect(await focused(page, 'id')).toBe('main');

    let reached = false;
    for (let i = 0; i < 30 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = (await focused(page, 'data-action')) === 'approve';
    }
    expect(reached).toBe(true);
    const ring = (await page.evaluate('(({ outlineStyle, outlineWidth }) => ({ style: outlineStyle, width: outlineWidth }))(getComputedStyle(document.activeElement))')) as {
      style: string;
      width: string;
    };
    expect(ring.style).not.toBe('none');
    expect(parseFloat(ring.width)).toBeGreaterThanOrEqual(2);
    await page.keyboard.press('Enter');
    await page.getByText(/approved gate technical \(1\/1\)/).waitFor();
    await page.waitForFunction("document.activeElement?.getAttribute('data-testid') === 'outcome'");
    await waitForState(handle, (s) => s.stages[0]!.gates[0]!.status === 'approved');
  });

  it('the governance page draws its charts from the real archive and visibility', async () => {
    const deployed = await inReview();
    await sendUpdate(deployed, 'decide', { actor: people.rita, gate: 'technical', decision: 'approve' });
    await waitForState(deployed, (s) => s.stages[1]!.gates[0]!.status === 'open');
    await sendUpdate(deployed, 'decide', { actor: people.bo, gate: 'business', decision: 'approve' });
    const failing = await h.submit(await h.manifest({ metrics: { accuracy: 0.5 } }));
    await waitForStatus(failing, 'CHECKS_FAILED');
    await sendUpdate(failing, 'withdraw', { actor: people.sam, reason: 'accuracy too low' });
    await waitUntil(
      () => h.pool.query('SELECT DISTINCT promotion_id FROM audit_events WHERE promotion_id = ANY($1)', [[deployed.workflowId, failing.workflowId]]),
      (r) => r.rowCount === 2,
    );

    const page = await signedIn('max', '#/governance');
    const titles = async (chart: string) => {
      await page.locator(`figure[data-chart="${chart}"] svg`).first().waitFor();
      return page.locator(`figure[data-chart="${chart}"] svg title`).allTextContents();
    };
    await waitUntil(() => titles('by-status'), (t) => t.some((x) => /^DEPLOYED: [1-9]/.test(x)), 15_000);
    expect(await titles('by-status')).toEqual(expect.arrayContaining([expect.stringMatching(/^WITHDRAWN: [1-9]/), expect.stringMatching(/^IN_REVIEW: [1-9]/)]));
    expect(await page.locator('figure[data-chart="by-status"] svg rect').count()).toBeGreaterThanOrEqual(3);
    expect(await titles('decision-by-tier')).toEqual(expect.arrayContaining([expect.stringMatching(/^medium: median \d/)]));
    expect(await titles('decision-by-gate')).toEqual(expect.arrayContaining([expect.stringMatching(/^business: median/), expect.stringMatching(/^technical: median/)]));
    expect(await titles('failing-checks')).toEqual(expect.arrayContaining([expect.stringMatching(/^performance: failed in [1-9]\d* runs$/)]));
    // The rejection of an earlier test, with its reviewer's comment.
    expect(await titles('rejection-reasons')).toEqual(expect.arrayContaining([expect.stringMatching(/^Calibration drifts on the holdout set \(reviewer, gate technical\): 1$/)]));
    expect(await page.locator('figure[data-chart="by-status"] svg').getAttribute('aria-label')).toBe('Promotions by status');
  });

  it('fits a 1366×768 laptop screen on every page, fetched nothing from elsewhere, and no page failed', async () => {
    const handle = await inReview();
    const page = await signedIn('rita');
    for (const hash of ['#/queue', '#/promotions', promotionHash(handle.workflowId), '#/governance']) {
      await page.goto(`${base}/ui/${hash}`);
      await page.locator('main h1').waitFor();
      await page.waitForTimeout(300);
      const width = await page.evaluate('document.documentElement.scrollWidth');
      expect({ hash, width }).toEqual({ hash, width: LAPTOP.width });
    }
    expect(offOrigin).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});

// The dashboard signing in with a real OpenID provider (the test provider) in Chromium: the
// provider's login page, the queue of the person's roles, approving, a separation-of-duties
// refusal, a token expired while the provider was out of reach renewed without losing an unsent
// comment, and signing out at the provider.
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import type { Actor } from '../../src/shared/promotion';
import { chromiumPath } from '../support/chromium';
import { type OidcApi, signInAtProvider, startOidcApi, testIssuer } from '../support/oidc';
import { waitForState } from '../support/promotions';

const DASHBOARD_POLICY = path.join(__dirname, '..', 'fixtures', 'policies', 'dashboard-test.yaml');

describe('dashboard sign-in with the OpenID provider', () => {
  let api: OidcApi;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // Access tokens of this client live 12 s; the API tolerates no clock skew.
    api = await startOidcApi({ policyFile: DASHBOARD_POLICY, dashboardClientId: 'modelgate-dashboard-short', auth: { clockSkewSeconds: 0 } });
    browser = await chromium.launch({ executablePath: chromiumPath() });
  }, 120_000);

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
    expect(pageErrors.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await api?.close();
  }, 60_000);

  /** Signs in as `who` through the provider's login page, then opens `hash`. */
  async function signedIn(who: string, hash = '#/queue'): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.setDefaultTimeout(15_000);
    await page.goto(`${api.base}/ui/${hash}`);
    await page.getByRole('button', { name: 'Sign in with single sign-on' }).click();
    await page.waitForURL(`${testIssuer()}/**`);
    await signInAtProvider(page, who);
    await page.getByTestId('signed-in-as').waitFor();
    expect(new URL(page.url()).search).toBe('');
    return page;
  }

  const sam: Actor = { id: 'sam', roles: ['data-scientist', 'ml-reviewer'] };
  async function inReview(): Promise<WorkflowHandle> {
    const handle = await api.h.submit(await api.h.manifest({ model: { riskTier: 'medium' } }), sam);
    await waitForState(handle, (s) => s.status === 'IN_REVIEW' && s.stages[0]!.gates.every((g) => g.status === 'open'));
    return handle;
  }
  const promotionHash = (id: string) => `#/promotions/${encodeURIComponent(id)}`;

  it('signs in at the provider, shows name and roles, the queue of those roles; approves', async () => {
    const handle = await inReview();
    const page = await signedIn('rita');
    expect(await page.getByTestId('signed-in-as').innerText()).toMatch(/Rita Reviewer · rita\s*\(ml-reviewer\)/);
    await page.locator(`tr[data-promotion-id="${handle.workflowId}"]`).waitFor();
    await page.goto(`${api.base}/ui/${promotionHash(handle.workflowId)}`);
    // A reload signs in again silently (the provider remembers the person).
    await page.getByTestId('signed-in-as').waitFor();
    const form = page.locator('form.decision[data-gate="technical"]');
    await form.getByLabel(/Comment/).fill('Checked with single sign-on');
    await form.getByRole('button', { name: 'Approve' }).click();
    await page.getByText(/Approve on gate technical: approved gate technical/).waitFor();
    await waitForState(handle, (s) => s.stages[0]!.gates[0]!.status === 'approved');
  }, 90_000);

  it('the submitter is refused by separation of duties', async () => {
    const handle = await inReview();
    const page = await signedIn('sam', promotionHash(handle.workflowId));
    await page.locator('form.decision[data-gate="technical"]').getByRole('button', { name: 'Approve' }).click();
    expect(await page.getByTestId('outcome').getByRole('alert').innerText()).toMatch(/separation of duties: sam submitted this promotion/);
  }, 90_000);

  it('a token that expired while the provider was out of reach is renewed on the next request; the comment is kept', async () => {
    const handle = await inReview();
    const page = await signedIn('rita', promotionHash(handle.workflowId));
    const form = page.locator('form.decision[data-gate="technical"]');
    await form.getByLabel(/Comment/).fill('Written before lunch, sent after');
    // The provider is out of reach: the renewal before expiry fails, and the token expires.
    await page.route(`${testIssuer()}/token`, (route) => route.abort());
    await page.waitForTimeout(14_000);
    await page.unroute(`${testIssuer()}/token`);
    await form.getByRole('button', { name: 'Approve' }).click();
    await page.getByText(/Approve on gate technical: approved gate technical/).waitFor();
    const state = await waitForState(handle, (s) => s.stages[0]!.gates[0]!.status === 'approved');
    expect(JSON.stringify(state)).toContain('Written before lunch, sent after');
  }, 90_000);

  it('signs out at the provider; a person without the groups claim is told they have no role', async () => {
    const page = await signedIn('nora');
    expect(await page.getByTestId('signed-in-as').innerText()).toMatch(/nora \(no roles\)\s*the token has no "groups" claim: no roles/);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.getByText('Signed out.').waitFor();
    // Signed out at the provider too: signing in asks for the password again.
    await page.getByRole('button', { name: 'Sign in with single sign-on' }).click();
    await page.getByLabel('Password').waitFor();
  }, 90_000);
});

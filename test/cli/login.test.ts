// `modelgate login` against a real OpenID provider (the test provider): the device authorization
// grant finished in Chromium, tokens kept with mode 0600 and renewed, then `submit` and
// `approve` as the signed-in people; `whoami`, `logout`, a CI pipeline's MODELGATE_TOKEN.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { chromiumPath } from '../support/chromium';
import { waitForStatus } from '../support/promotions';
import { clientCredentialsToken, type OidcApi, signInAtProvider, startOidcApi, testIssuer } from '../support/oidc';
import { REPO_ROOT } from '../support/processes';

const BIN = path.join(REPO_ROOT, 'bin', 'modelgate.js');

/** What a run of the built CLI printed. */
interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('modelgate login with the OpenID provider', () => {
  let api: OidcApi;
  let browser: Browser;
  let home: string;

  beforeAll(async () => {
    api = await startOidcApi();
    browser = await chromium.launch({ executablePath: chromiumPath() });
    home = await mkdtemp(path.join(tmpdir(), 'mg-login-'));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await api?.close();
  }, 60_000);

  /** The config folder of one person. */
  const configOf = (who: string) => path.join(home, who);

  /** Runs the built CLI as `who` (their own config folder); `onStderr` sees its error output as it comes. */
  function cli(who: string, args: string[], env: Record<string, string> = {}, onStderr?: (text: string, child: ChildProcess) => void): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child: ChildProcess = spawn(process.execPath, [BIN, ...args], {
        env: { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: configOf(who), MODELGATE_URL: api.base, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        onStderr?.(stderr, child);
      });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  /** `modelgate login` as `who`: opens the device URL the CLI prints, checks the code, signs in at the provider. */
  async function login(who: string, extra: string[] = []): Promise<Run> {
    let opened: Promise<void> | undefined;
    const run = cli(who, ['login', ...extra], {}, (stderr, child) => {
      const match = /open (\S+)\nand check that it shows the code (\S+)\./.exec(stderr);
      if (!match || opened) return;
      opened = (async () => {
        const context = await browser.newContext();
        try {
          const page = await context.newPage();
          page.setDefaultTimeout(15_000);
          await page.goto(match[1]!);
          const code = page.locator('[data-user-code]');
          if (!(await code.isVisible())) await page.getByRole('button', { name: 'Continue' }).click();
          expect(await code.innerText()).toBe(match[2]);
          await page.getByRole('button', { name: 'Confirm' }).click();
          await signInAtProvider(page, who);
          await page.getByRole('heading', { name: 'Device connected' }).waitFor();
        } catch (err) {
          child.kill();
          throw err;
        } finally {
          await context.close();
        }
      })();
    });
    const result = await run;
    await opened;
    return result;
  }

  it('signs in with the device flow, keeps the tokens 0600; submit and approve as the signed-in people', async () => {
    const sam = await login('sam');
    expect(sam.stderr).toMatch(new RegExp(`open ${testIssuer()}/device`));
    expect(sam.stdout).toBe(`signed in to ${api.base} as sam (Sam Scientist), roles: data-scientist, ml-reviewer\n`);
    expect(sam.code).toBe(0);
    const file = path.join(configOf('sam'), 'modelgate', 'credentials.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    // Tokens are never printed.
    const kept = JSON.parse(await readFile(file, 'utf8')).servers[api.base];
    expect(sam.stdout + sam.stderr).not.toContain(kept.accessToken);
    expect(sam.stdout + sam.stderr).not.toContain(kept.refreshToken);

    const whoami = await cli('sam', ['whoami']);
    expect(whoami.stdout).toMatch(/^sam \(Sam Scientist\), roles: data-scientist, ml-reviewer\ntoken: modelgate login/);

    const manifestFile = path.join(home, 'manifest.json');
    await writeFile(manifestFile, JSON.stringify(await api.h.manifest({ model: { riskTier: 'medium' } })));
    const submitted = await cli('sam', ['submit', manifestFile, '--json']);
    expect(submitted.code).toBe(0);
    const id = JSON.parse(submitted.stdout).promotionId as string;
    const handle = api.h.client.workflow.getHandle(id);
    await waitForStatus(handle, 'IN_REVIEW');

    const own = await cli('sam', ['approve', id, '--gate', 'technical']);
    expect(own.code).toBe(3);
    expect(own.stderr).toMatch(/separation of duties: sam submitted this promotion/);

    expect((await login('rita')).code).toBe(0);
    const approved = await cli('rita', ['approve', id, '--gate', 'technical', '--comment', 'metrics hold']);
    expect(approved.stdout).toMatch(/approved gate technical/);
    expect(approved.code).toBe(0);

    const out = await cli('sam', ['logout']);
    expect(out.stdout).toMatch(`signed out of ${api.base} (refresh token revoked at the provider)`);
    expect(existsSync(file)).toBe(false);
    const anonymous = await cli('sam', ['whoami']);
    expect(anonymous.code).toBe(3);
    expect(anonymous.stderr).toMatch(/run modelgate login/);
  }, 180_000);

  it('renews an expired access token with the refresh token', async () => {
    expect((await login('bo', ['--client-id', 'modelgate-cli-short'])).code).toBe(0);
    const file = path.join(configOf('bo'), 'modelgate', 'credentials.json');
    const before = JSON.parse(await readFile(file, 'utf8')).servers[api.base];
    await new Promise((r) => setTimeout(r, 6_000));
    const whoami = await cli('bo', ['whoami']);
    expect(whoami.stdout).toMatch(/^bo \(Bo Owner\), roles: business-owner/);
    const after = JSON.parse(await readFile(file, 'utf8')).servers[api.base];
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after.expiresAt).toBeGreaterThan(before.expiresAt);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  }, 90_000);

  it('a person without the roles claim is told they have no role, and why', async () => {
    const nora = await login('nora');
    expect(nora.code).toBe(0);
    expect(nora.stdout).toMatch(/as nora \(Nora Nogroups\), roles: none — the token has no "groups" claim: no roles/);
    expect(nora.stderr).toMatch(/warning: you have no Modelgate role/);
  }, 90_000);

  it('a CI pipeline uses a client-credentials token in MODELGATE_TOKEN; bad issuers are named', async () => {
    const ci = await cli('ci', ['whoami'], { MODELGATE_TOKEN: await clientCredentialsToken() });
    expect(ci.stdout).toBe('modelgate-ci, roles: data-scientist\ntoken: MODELGATE_TOKEN\n');

    const wrongIssuer = await cli('x', ['login', '--issuer', testIssuer().replace('127.0.0.1', 'localhost'), '--client-id', 'modelgate-cli']);
    expect(wrongIssuer.code).toBe(3);
    expect(wrongIssuer.stderr).toMatch(/the discovery document at http:\/\/localhost:\d+ names another issuer/);
    const unreachable = await cli('x', ['login', '--issuer', 'http://127.0.0.1:1', '--client-id', 'modelgate-cli']);
    expect(unreachable.stderr).toMatch(/cannot reach the identity provider http:\/\/127\.0\.0\.1:1/);
    const noDiscovery = await cli('x', ['login', '--issuer', `${testIssuer()}/nope`, '--client-id', 'modelgate-cli']);
    expect(noDiscovery.stderr).toMatch(/has no OpenID Connect discovery document/);
    for (const run of [wrongIssuer, unreachable, noDiscovery]) expect(run.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});

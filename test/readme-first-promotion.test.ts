// The README's "Your first promotion" block, run verbatim against a real API, worker, Temporal and
// PostgreSQL, so the quick start stays true. Needs the built CLI (`npm run build`): the block runs
// `npx modelgate`.
import { spawn } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createAuthenticator } from '../src/api/auth';
import { listenHttp } from '../src/api/http-server';
import { stateQuery } from '../src/shared/messages';
import { type ApiHarness, buildTestApp, startApiHarness, TEST_SECRET } from './api/support';
import { createTestNamespace } from './support/stack';

const ROOT = path.resolve(__dirname, '..');
/** The dev sign-in key of this test's API (what start.sh keeps in .data/dev-sign-in-secret). */
const DEV_SIGN_IN_SECRET = 'dev-sign-in-key-of-the-readme-test-0123456789';

/** The lines of the README's fenced block marked `bash first-promotion`. */
export async function firstPromotionCommands(): Promise<string[]> {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const block = /```bash first-promotion\n([\s\S]*?)```/.exec(readme);
  if (!block) throw new Error('README.md has no ```bash first-promotion block');
  return block[1]!.split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('#'));
}

function runBash(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('README: your first promotion', () => {
  let h: ApiHarness;
  let server: Server;
  let workspace: string;

  beforeAll(async () => {
    h = await startApiHarness({ policyFile: path.join(ROOT, 'policies', 'default.yaml'), namespace: await createTestNamespace() });
    // The API as start.sh runs it locally: dev tokens (signed with the dev sign-in key) accepted.
    const app = buildTestApp({
      client: h.client,
      pool: h.pool,
      policy: h.policy,
      taskQueue: h.config.temporal.taskQueue,
      authenticator: createAuthenticator({ jwtSecret: TEST_SECRET, devSignInSecret: DEV_SIGN_IN_SECRET }),
    });
    server = await listenHttp(app, 0, '127.0.0.1');
    // A scratch copy of what the commands touch, under the folder the test worker may read
    // (the worker and the API of the tests read sources under the system's temporary folder).
    workspace = await mkdtemp(path.join(tmpdir(), 'modelgate-readme-'));
    await cp(path.join(ROOT, 'examples'), path.join(workspace, 'examples'), { recursive: true });
    await mkdir(path.join(workspace, '.data'));
    await writeFile(path.join(workspace, '.data', 'dev-sign-in-secret'), DEV_SIGN_IN_SECRET);
    // `npx modelgate` resolves the project's own command in the project folder; in the scratch
    // folder this stand-in runs that same command (the built bin/modelgate.js).
    await mkdir(path.join(workspace, 'bin'));
    const npx = path.join(workspace, 'bin', 'npx');
    await writeFile(npx, `#!/bin/sh\n[ "$1" = modelgate ] || { echo "npx stand-in: only modelgate" >&2; exit 127; }\nshift\nexec node ${JSON.stringify(path.join(ROOT, 'bin', 'modelgate.js'))} "$@"\n`);
    await chmod(npx, 0o755);
  }, 180_000);

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    server?.closeAllConnections();
    await h?.close();
    if (workspace) await rm(workspace, { recursive: true, force: true });
  }, 60_000);

  it('has at most five commands', async () => {
    const commands = await firstPromotionCommands();
    expect(commands.length).toBeGreaterThan(0);
    expect(commands.length).toBeLessThanOrEqual(5);
  });

  it('takes the example model from nothing to approved by two reviewers and deployed', async () => {
    const commands = await firstPromotionCommands();
    const address = server.address() as { port: number };
    const result = await runBash(commands.join('\n'), workspace, {
      PATH: `${path.join(workspace, 'bin')}:${process.env.PATH}`,
      HOME: process.env.HOME,
      PS1: '$ ',
      MODELGATE_URL: `http://127.0.0.1:${address.port}`,
    });
    if (result.code !== 0) throw new Error(`the README's commands failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
    expect(result.stdout).toMatch(/status\s+DEPLOYED/);

    const state = await h.client.workflow.getHandle('promote:credit-risk:1.0.0:production').query(stateQuery);
    expect(state.status).toBe('DEPLOYED');
    expect(state.submitter.id).toBe('sam');
    const signatures = state.stages.flatMap((s) => s.gates.flatMap((g) => g.signatures.map((x) => `${g.name}:${x.actorId}:${x.decision}`)));
    expect(signatures.sort()).toEqual(['business:bo:approve', 'technical:rita:approve']);
    expect(state.checks.every((c) => c.status === 'pass')).toBe(true);
    // The last command printed the audit timeline.
    expect(result.stdout).toContain('audit of promote:credit-risk:1.0.0:production');
  }, 300_000);
});

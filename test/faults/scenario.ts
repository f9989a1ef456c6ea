// A fault run: N promotions driven through the API while a chaos loop SIGKILLs, at random
// moments, the worker, the API, the Temporal dev server (state in a SQLite file) and PostgreSQL,
// and restarts each after a short pause. Then, with everything up, every promise is checked
// (verify.ts). Used by test/faults/faults.test.ts (small) and test/faults/run.ts (any size).
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { signDevToken } from '../../src/api/auth';
import { createPool } from '../../src/db/pool';
import { DeployReceiver } from '../support/deploy-receiver';
import { writeTestPolicy } from '../support/deploy-policy';
import { ModelgateProcess, freePort, waitForApiReady } from '../support/processes';
import { type DriverContext, drivePromotion } from './drivers';
import { faultPeople, promotionPlans } from './plans';
import { PostgresCluster, TemporalDevServer, killTreeNow, pidFromFile } from './services';
import { verifyPromotions, waitForClosed } from './verify';
import { workerEnvironment } from '../../src/config';

/** Size and pace of a fault run. */
export interface FaultRunOptions {
  promotions: number;
  /** Promotions driven at once. */
  concurrency: number;
  /** Pause between the end of one fault and the next kill: uniform in [min, max] ms. */
  gapMs: [number, number];
  /** How long a killed component stays down: uniform in [min, max] ms. */
  downMs: [number, number];
  /** Share of answered messages sent a second time on purpose. */
  repeatShare: number;
  /** Seed of every random choice (kills, pauses, repeats); printed, so a run can be repeated. */
  seed: number;
  /** The whole run (drivers, then settling) gives up after this. */
  timeoutMs: number;
  /** Where the logs of every process go (kept); default a temporary folder that is removed. */
  logDir?: string;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** The components the chaos loop kills. */
export const FAULT_TARGETS = ['worker', 'api', 'temporal', 'postgres'] as const;
type FaultTarget = (typeof FAULT_TARGETS)[number];

/** What a fault run did and found. */
export interface FaultRunReport {
  promotions: number;
  seed: number;
  /** How the promotions ended, as read back from Temporal at the end (not as planned). */
  outcomes: Record<string, number>;
  /** Kills that found the component running and saw it gone, by component. */
  kills: Record<FaultTarget, number>;
  /** Kills planned while the component was down already (not counted as kills). */
  killsOfStoppedComponents: number;
  /** Exits of the worker and API that no kill caused (e.g. a start while PostgreSQL was down), each restarted. */
  unplannedExits: { worker: number; api: number };
  driving: { requests: number; retries: number; repeats: number; confirmedAfterConflict: number };
  /** From the first submission until every driver was done (chaos ran meanwhile). */
  chaosSeconds: number;
  /** From the end of the chaos until every promotion had closed. */
  settleSeconds: number;
  totalSeconds: number;
  violations: string[];
}

/** A small deterministic random generator (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const JWT_SECRET = 'fault-run-secret-0123456789-0123456789-abcdef';
const DEPLOY_SECRET = 'fault-run-deploy-secret-0123456789';

/** Runs one fault run end to end and returns its report (violations empty when every promise held). */
export async function runFaultScenario(options: FaultRunOptions): Promise<FaultRunReport> {
  const log = options.log ?? (() => undefined);
  const random = seededRandom(options.seed);
  const between = ([min, max]: [number, number]) => min + random() * (max - min);
  const started = Date.now();
  const runId = randomUUID().slice(0, 6);
  const work = await mkdtemp(path.join(tmpdir(), 'modelgate-faults-'));
  const logDir = options.logDir ?? work;
  await mkdir(logDir, { recursive: true });
  const artifactDir = path.join(work, 'artifacts');
  await mkdir(artifactDir);

  const receiver = await new DeployReceiver(DEPLOY_SECRET).start();
  const policyFile = await writeTestPolicy((p) => {
    p.name = 'default';
    p.version = 'faults-1';
    p.environments.production = {
      deployment: {
        provider: 'webhook',
        url: receiver.url,
        secretEnv: 'MODELGATE_DEPLOY_WEBHOOK_SECRET',
        requestTimeout: '5s',
        retry: { maximumAttempts: 50, initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '5s' },
      },
    };
    // No deadlines: a promotion must end as its messages say, however long the faults delay them.
    const tiers = p.tiers as Record<string, { stages: Array<{ gates: Array<Record<string, unknown>> }> }>;
    for (const tier of Object.values(tiers)) {
      for (const stage of tier.stages) for (const gate of stage.gates) for (const key of ['sla', 'escalateTo', 'timeout', 'onTimeout']) delete gate[key];
    }
    p.remediationWindow = '1h';
    p.expedite = { sla: '1h', timeout: '2h' };
  });

  const temporal = new TemporalDevServer(path.join(work, 'temporal'), await freePort());
  const postgres = new PostgresCluster(path.join(work, 'postgres'), await freePort());
  await mkdir(temporal.dir);
  const apiPort = await freePort();
  const server = `http://127.0.0.1:${apiPort}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    TEMPORAL_TASK_QUEUE: 'modelgate-promotions',
    DATABASE_URL: postgres.url,
    POLICY_DIR: path.dirname(policyFile),
    AUTH_JWT_SECRET: JWT_SECRET,
    MODELGATE_DEPLOY_WEBHOOK_SECRET: DEPLOY_SECRET,
    ARTIFACT_ROOTS: tmpdir(),
    ARTIFACT_HOSTS: '127.0.0.1',
    ARTIFACT_STORE_DIR: path.join(work, 'artifact-store'),
    PORT: String(apiPort),
    HOST: '127.0.0.1',
    PUBLIC_URL: server,
    LOG_LEVEL: 'warn',
    SHUTDOWN_GRACE_SECONDS: '1',
    MALLOC_ARENA_MAX: '2',
  };
  const worker = new ModelgateProcess('worker', { entry: 'worker', env: workerEnvironment(env), logFile: path.join(logDir, 'worker.log'), restartDelayMs: 1_000 });
  const api = new ModelgateProcess('api', { entry: 'api', env, logFile: path.join(logDir, 'api.log'), restartDelayMs: 1_000 });
  let client: Client | undefined;
  const pool = createPool(postgres.url);
  const kills: Record<FaultTarget, number> = { worker: 0, api: 0, temporal: 0, postgres: 0 };
  let killsOfStoppedComponents = 0;
  let outcomes: Record<string, number> = {};
  const violations: string[] = [];
  const stats = { requests: 0, retries: 0, repeats: 0, confirmedAfterConflict: 0 };
  let chaosSeconds = 0;
  let settleSeconds = 0;
  const plans = promotionPlans(options.promotions, runId);
  // If this process exits before the clean-up below (interrupted, a test runner's time-out), nothing stays behind.
  const leaveNothing = () => {
    worker.child?.kill('SIGKILL');
    api.child?.kill('SIGKILL');
    killTreeNow(pidFromFile(temporal.pidFile));
    postgres.stopNow();
  };
  process.on('exit', leaveNothing);

  try {
    await Promise.all([temporal.start(), postgres.start()]);
    worker.start();
    api.start();
    await waitForApiReady(server, 120_000);
    client = new Client({ connection: await Connection.connect({ address: temporal.address }), namespace: temporal.namespace });
    log(`services up: Temporal ${temporal.address} (db ${temporal.dir}), PostgreSQL ${postgres.port}, API ${server}; seed ${options.seed}`);

    const tokens: Record<string, string> = {};
    for (const person of Object.values(faultPeople)) tokens[person.id] = await signDevToken({ secret: JWT_SECRET, user: person.id, roles: person.roles });
    const deadline = started + options.timeoutMs;
    const ctx: DriverContext = { server, tokens, artifactDir, stats, violations, repeatShare: options.repeatShare, random, deadline };

    // ---- chaos: one component at a time, every kind in turn of a shuffled round ----------------
    let driving = true;
    // The chaos lasts while people drive, and at least until each component was killed once.
    const chaosOn = () => driving || FAULT_TARGETS.some((t) => kills[t] === 0);
    const restart: Record<FaultTarget, () => Promise<void>> = {
      worker: async () => void worker.start(),
      api: async () => void api.start(),
      temporal: () => retrying('Temporal', () => temporal.start()),
      postgres: () => retrying('PostgreSQL', () => postgres.start()),
    };
    const kill: Record<FaultTarget, () => Promise<boolean>> = {
      worker: () => worker.kill('SIGKILL'),
      api: () => api.kill('SIGKILL'),
      temporal: () => temporal.kill(),
      postgres: () => postgres.kill(),
    };
    const chaos = (async () => {
      let round: FaultTarget[] = [];
      while (chaosOn()) {
        await sleep(between(options.gapMs));
        if (!chaosOn()) break;
        if (round.length === 0) round = [...FAULT_TARGETS].sort(() => random() - 0.5);
        const target = round.pop()!;
        const down = between(options.downMs);
        log(`chaos: SIGKILL ${target}, down ${Math.round(down)} ms`);
        if (await kill[target]()) kills[target] += 1;
        else killsOfStoppedComponents += 1;
        await sleep(down);
        await restart[target]();
      }
    })();

    // ---- the people ------------------------------------------------------------------------------
    const driveStart = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (next < plans.length) {
          const plan = plans[next++]!;
          await drivePromotion(ctx, plan);
          if (plan.index % 10 === 9) log(`drivers: ${plan.index + 1} of ${plans.length} done`);
        }
      }),
    );
    driving = false;
    await chaos;
    chaosSeconds = (Date.now() - driveStart) / 1000;

    // ---- settle: everything up, every promotion closed ----------------------------------------------
    const settleStart = Date.now();
    worker.start();
    api.start();
    await waitForApiReady(server, 120_000);
    const open = await waitForClosed(client, plans, Math.max(deadline, Date.now() + 60_000));
    settleSeconds = (Date.now() - settleStart) / 1000;
    for (const id of open) violations.push(`${id} had not closed ${Math.round(settleSeconds)} s after the faults stopped`);
    log(`settled in ${settleSeconds.toFixed(1)} s; verifying`);
    const verified = await verifyPromotions({ client, pool, receiver, server, token: tokens.sam! }, plans);
    violations.push(...verified.problems);
    outcomes = verified.outcomes;
  } finally {
    process.off('exit', leaveNothing);
    await Promise.allSettled([worker.stop(2_000), api.stop(2_000)]);
    await client?.connection.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await temporal.stop().catch(() => undefined);
    await postgres.stop().catch(() => undefined);
    await receiver.close();
    await rm(path.dirname(policyFile), { recursive: true, force: true });
    if (!options.logDir) await rm(work, { recursive: true, force: true });
    else await rm(artifactDir, { recursive: true, force: true });
  }

  return {
    promotions: plans.length,
    seed: options.seed,
    outcomes,
    kills,
    killsOfStoppedComponents,
    unplannedExits: { worker: worker.unexpectedExits.length, api: api.unexpectedExits.length },
    driving: stats,
    chaosSeconds: +chaosSeconds.toFixed(1),
    settleSeconds: +settleSeconds.toFixed(1),
    totalSeconds: +((Date.now() - started) / 1000).toFixed(1),
    violations,
  };
}

/** Restarts a service, trying again a few times (a port or a lock may take a moment to free). */
async function retrying(what: string, start: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= 5) throw new Error(`${what} did not restart after ${attempt} attempts: ${(err as Error).message}`);
      await sleep(1_000 * attempt);
    }
  }
}

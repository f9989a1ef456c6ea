// A fault run: N promotions driven through the API while a chaos loop SIGKILLs, at random
// moments, the worker, the API, the Temporal server (the dev server with its state in a SQLite
// file, or the Temporal server on PostgreSQL) and PostgreSQL — one at a time or two at once — and
// restarts them after a short pause; a share of the deployments is followed at once by a kill
// (between provisioning and activation), and the deployer fails, times out and answers slowly on a
// share of the deliveries, logging every one. Then, with everything up, every promise is checked
// (verify.ts). Used by test/faults/faults.test.ts (small) and test/faults/run.ts (any size).
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { signDevToken } from '../../src/api/auth';
import { createPool } from '../../src/db/pool';
import { type DeployerFault, DeployReceiver } from '../support/deploy-receiver';
import { writeTestPolicy } from '../support/deploy-policy';
import { ModelgateProcess, freePort, waitForApiReady } from '../support/processes';
import { type DriverContext, drivePromotion } from './drivers';
import { faultPeople, promotionPlans } from './plans';
import { FAULT_TARGETS, type FaultTarget, FaultInjector } from './chaos';
import { type FaultTemporalServer, PostgresCluster, TemporalDevServer, TemporalPostgresServer, killTreeNow, pidFromFile } from './services';
import { type ObservedOutcomes, readDeliveryLog, verifyPromotions, waitForClosed } from './verify';
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
  /** Share of the chaos loop's faults that kill two components at once (0..1). */
  overlapShare: number;
  /** Share of deployments answered by the deployer that are followed at once by a kill of the worker, Temporal or PostgreSQL (0..1). */
  killAfterProvisioningShare: number;
  /** Shares of deliveries on which the deployer misbehaves (each 0..1, their sum at most 1). */
  deployerFaults: DeployerFaultShares;
  /** Which Temporal server runs (and is killed): default `postgres` when MODELGATE_TEST_TEMPORAL=postgres, else `dev`. */
  temporalServer?: 'dev' | 'postgres';
  /** Seed of every random choice (kills, pauses, repeats); printed, so a run can be repeated. */
  seed: number;
  /** The whole run (drivers, then settling) gives up after this. */
  timeoutMs: number;
  /** Where the logs of every process go (kept); default a temporary folder that is removed. */
  logDir?: string;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** How often the deployer misbehaves, per delivery. */
export interface DeployerFaultShares {
  /** Answers 503 without deploying. */
  failShare: number;
  /** Deploys, then holds the answer past Modelgate's request time-out (the answer is lost). */
  timeoutShare: number;
  /** Deploys and answers after `slowMs` (within the time-out). */
  slowShare: number;
  slowMs: [number, number];
}

export { FAULT_TARGETS };

/** Modelgate's time-out for one deployment request in the fault run's policy (`requestTimeout`). */
const DEPLOY_REQUEST_TIMEOUT_MS = 5_000;

/** What a fault run did and found. */
export interface FaultRunReport {
  promotions: number;
  seed: number;
  /** `dev` (the dev server, state in SQLite) or `postgres` (the Temporal server on PostgreSQL). */
  temporalServer: 'dev' | 'postgres';
  /** How the promotions ended, as read back at the end (not as planned): Temporal's results, the registry's rows, the deployer's log. */
  outcomes: ObservedOutcomes;
  /** Kills that found the component running and saw it gone, by component. */
  kills: Record<FaultTarget, number>;
  /** Kills planned while the component was down already (not counted as kills). */
  killsOfStoppedComponents: number;
  /** Faults that saw two components gone at once. */
  overlappingKills: number;
  /**
   * Kills right after the deployer answered a deployment: `injected` that killed something,
   * `beforeActivation` of those whose promotion's registry activation is dated after the kill.
   */
  killsAfterProvisioning: { injected: number; beforeActivation: number };
  /** Every delivery in the deployer's log: repeats are deliveries of a key delivered before. */
  deliveries: { total: number; repeats: number; deployments: number; failed: number; timedOut: number; slow: number };
  /** Broken promises (the length of `violations`; target 0). */
  brokenPromises: number;
  /** Exits of the worker and API that no kill caused (e.g. a start while PostgreSQL was down), each restarted. */
  unplannedExits: { worker: number; api: number };
  driving: { requests: number; retries: number; repeats: number; confirmedAfterConflict: number };
  /** From the first submission until every driver was done (chaos ran meanwhile). */
  chaosSeconds: number;
  /** From the end of the chaos until every promotion had closed. */
  settleSeconds: number;
  totalSeconds: number;
  violations: string[];
  /** Every fault that killed something or found its targets down, in order (seconds from the start of the run). */
  faultLog: Array<{ atSeconds: number; cause: string; killed: FaultTarget[]; foundDown: FaultTarget[] }>;
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
  checkOptions(options);
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

  const deliveryLog = path.join(logDir, 'deliveries.jsonl');
  const receiver = await new DeployReceiver(DEPLOY_SECRET, { deliveryLog }).start();
  const policyFile = await writeTestPolicy((p) => {
    p.name = 'default';
    p.version = 'faults-1';
    p.environments.production = {
      deployment: {
        provider: 'webhook',
        url: receiver.url,
        secretEnv: 'MODELGATE_DEPLOY_WEBHOOK_SECRET',
        requestTimeout: `${DEPLOY_REQUEST_TIMEOUT_MS / 1000}s`,
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

  const temporalKind = options.temporalServer ?? (process.env.MODELGATE_TEST_TEMPORAL === 'postgres' ? 'postgres' : 'dev');
  const postgres = new PostgresCluster(path.join(work, 'postgres'), await freePort());
  const temporal: FaultTemporalServer =
    temporalKind === 'postgres'
      ? new TemporalPostgresServer(path.join(work, 'temporal'), await freePort(), postgres.port)
      : new TemporalDevServer(path.join(work, 'temporal'), await freePort());
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
  const faults = new FaultInjector({
    worker: { kill: () => worker.kill('SIGKILL'), restart: async () => void worker.start() },
    api: { kill: () => api.kill('SIGKILL'), restart: async () => void api.start() },
    temporal: { kill: () => temporal.kill(), restart: () => retrying('Temporal', () => temporal.start()) },
    postgres: { kill: () => postgres.kill(), restart: () => retrying('PostgreSQL', () => postgres.start()) },
  });
  const { kills } = faults;
  let outcomes: ObservedOutcomes = { temporal: {}, registry: {}, deployer: {} };
  let deliveries: FaultRunReport['deliveries'] = { total: 0, repeats: 0, deployments: 0, failed: 0, timedOut: 0, slow: 0 };
  const killsAfterProvisioning = { injected: 0, beforeActivation: 0 };
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
    // The Temporal server on PostgreSQL needs the cluster first.
    if (temporal.kind === 'postgres') await postgres.start().then(() => temporal.start());
    else await Promise.all([temporal.start(), postgres.start()]);
    worker.start();
    api.start();
    await waitForApiReady(server, 120_000);
    client = new Client({ connection: await Connection.connect({ address: temporal.address }), namespace: temporal.namespace });
    log(`services up: Temporal (${temporal.kind}) ${temporal.address}, PostgreSQL ${postgres.port}, API ${server}; seed ${options.seed}`);

    const tokens: Record<string, string> = {};
    for (const person of Object.values(faultPeople)) tokens[person.id] = await signDevToken({ secret: JWT_SECRET, user: person.id, roles: person.roles });
    const deadline = started + options.timeoutMs;
    const ctx: DriverContext = { server, tokens, artifactDir, stats, violations, repeatShare: options.repeatShare, random, deadline };

    // ---- the deployer: fails, times out and answers slowly on its shares of the deliveries --------
    // Its own random streams, so that the deployer's and the chaos loop's choices do not shift the drivers'.
    const deployerRandom = seededRandom(options.seed ^ 0x5eed1);
    const provisioningRandom = seededRandom(options.seed ^ 0x5eed2);
    const { failShare, timeoutShare, slowShare, slowMs } = options.deployerFaults;
    let driving = true;
    const afterProvisioning: Array<{ promotionId: string; at: number }> = [];
    const killedAfter = new Set<string>();
    receiver.setBehaviour({
      fault: (): DeployerFault | undefined => {
        const r = deployerRandom();
        if (r < failShare) return { kind: 'fail', status: 503 };
        if (r < failShare + timeoutShare) return { kind: 'timeout', holdMs: DEPLOY_REQUEST_TIMEOUT_MS + 2_000 };
        if (r < failShare + timeoutShare + slowShare) return { kind: 'slow', delayMs: slowMs[0] + deployerRandom() * (slowMs[1] - slowMs[0]) };
        return undefined;
      },
      // A kill the moment a deployment is answered: the worker has yet to record it and move the registry.
      onAnswered: ({ body }) => {
        const promotionId = String(body.promotionId);
        if (!driving || body.action !== 'deploy' || killedAfter.has(promotionId) || provisioningRandom() >= options.killAfterProvisioningShare) return;
        killedAfter.add(promotionId);
        const candidates = (['worker', 'temporal', 'postgres'] as const).filter((t) => !faults.isFaulted(t));
        if (candidates.length === 0) return;
        const target = candidates[Math.floor(provisioningRandom() * candidates.length)]!;
        log(`after provisioning ${promotionId}: SIGKILL ${target}`);
        faults.inject([target], between(options.downMs), 'after-provisioning').then(
          (fault) => {
            if (fault.killed.length > 0) afterProvisioning.push({ promotionId, at: fault.at });
          },
          (err: Error) => violations.push(`the kill after provisioning ${promotionId} failed: ${err.message}`),
        );
      },
    });

    // ---- chaos: one component at a time or two at once, every kind in turn of a shuffled round -------
    // The chaos lasts while people drive, and at least until each component was killed once (and,
    // with overlaps asked for, until two were killed at once).
    const chaosOn = () => driving || FAULT_TARGETS.some((t) => kills[t] === 0) || (options.overlapShare > 0 && faults.overlappingKills === 0);
    const chaos = (async () => {
      let round: FaultTarget[] = [];
      const nextTarget = () => {
        if (round.length === 0) round = [...FAULT_TARGETS].sort(() => random() - 0.5);
        return round.pop()!;
      };
      while (chaosOn()) {
        await sleep(between(options.gapMs));
        if (!chaosOn()) break;
        const targets = [nextTarget()];
        if (random() < options.overlapShare) {
          let second = nextTarget();
          if (second === targets[0]) second = nextTarget();
          if (second !== targets[0]) targets.push(second);
        }
        const down = between(options.downMs);
        log(`chaos: SIGKILL ${targets.join(' + ')}, down ${Math.round(down)} ms`);
        await faults.inject(targets, down, 'chaos');
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
    await faults.settled();
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
    // Each delivery's line is written before it is answered: with every promotion closed, the log is complete.
    const delivered = await readDeliveryLog(deliveryLog);
    const verified = await verifyPromotions({ client, pool, deliveries: delivered, server, token: tokens.sam! }, plans);
    violations.push(...verified.problems);
    outcomes = verified.outcomes;
    deliveries = {
      total: delivered.length,
      repeats: delivered.filter((d) => d.repeat).length,
      deployments: delivered.filter((d) => d.applied).length,
      failed: delivered.filter((d) => d.fault === 'fail').length,
      timedOut: delivered.filter((d) => d.fault === 'timeout').length,
      slow: delivered.filter((d) => d.fault === 'slow').length,
    };
    // Whether each kill after provisioning came before the registry moved (the registry's own clock).
    killsAfterProvisioning.injected = afterProvisioning.length;
    for (const { promotionId, at } of afterProvisioning) {
      const row = await pool.query<{ at: Date }>('SELECT deployed_at AS at FROM environment_deployments WHERE promotion_id = $1', [promotionId]);
      if (row.rows[0] && row.rows[0].at.getTime() > at) killsAfterProvisioning.beforeActivation += 1;
    }
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
    temporalServer: temporal.kind,
    outcomes,
    kills,
    killsOfStoppedComponents: faults.killsOfStoppedComponents,
    overlappingKills: faults.overlappingKills,
    killsAfterProvisioning,
    deliveries,
    brokenPromises: violations.length,
    faultLog: faults.faults.map((f) => ({ atSeconds: +((f.at - started) / 1000).toFixed(1), cause: f.cause, killed: f.killed, foundDown: f.foundDown })),
    unplannedExits: { worker: worker.unexpectedExits.length, api: api.unexpectedExits.length },
    driving: stats,
    chaosSeconds: +chaosSeconds.toFixed(1),
    settleSeconds: +settleSeconds.toFixed(1),
    totalSeconds: +((Date.now() - started) / 1000).toFixed(1),
    violations,
  };
}

/** Refuses options that cannot describe a run (a share outside 0..1, a reversed or negative range), naming the option. */
function checkOptions(options: FaultRunOptions): void {
  const { failShare, timeoutShare, slowShare, slowMs } = options.deployerFaults;
  const shares = { repeatShare: options.repeatShare, overlapShare: options.overlapShare, killAfterProvisioningShare: options.killAfterProvisioningShare, failShare, timeoutShare, slowShare };
  for (const [name, value] of Object.entries(shares)) {
    if (!(value >= 0 && value <= 1)) throw new Error(`fault run option ${name} must be a share between 0 and 1`);
  }
  if (failShare + timeoutShare + slowShare > 1) throw new Error('fault run options failShare + timeoutShare + slowShare must be at most 1');
  const ranges = { gapMs: options.gapMs, downMs: options.downMs, slowMs };
  for (const [name, [min, max]] of Object.entries(ranges)) {
    if (!(min! >= 0 && max! >= min!)) throw new Error(`fault run option ${name} must be MIN,MAX with 0 <= MIN <= MAX`);
  }
  if (!(Number.isInteger(options.promotions) && options.promotions > 0 && Number.isInteger(options.concurrency) && options.concurrency > 0)) {
    throw new Error('fault run options promotions and concurrency must be positive integers');
  }
}

/** Restarts a service, trying again a few times (a port or a lock may take a moment to free). */
async function retrying(what: string, start: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= 8) throw new Error(`${what} did not restart after ${attempt} attempts: ${(err as Error).message}`);
      await sleep(1_000 * attempt);
    }
  }
}

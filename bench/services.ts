// Fresh services for one phase of a benchmark: a PostgreSQL cluster and a Temporal server (the dev
// server, or with MODELGATE_TEST_TEMPORAL=postgres the server on that cluster) started by
// scripts/lib.sh `start_temporal_and_postgres` in a folder of their own, so that a phase inherits
// no histories or rows from the one before.
import { execFile, execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { killTreeNow, pidFromFile } from '../test/faults/services';
import { REPO_ROOT } from '../test/support/processes';

const run = promisify(execFile);

/** The variables `start_temporal_and_postgres` exports, which the services' clients read. */
const SERVICE_VARIABLES = ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'DATABASE_URL', 'DATABASE_OWNER_URL', 'MODELGATE_TEST_SERVICE_DATABASE_URL'] as const;

/** Services started by {@link startFreshServices}. */
export interface FreshServices {
  /** Their folder: `temporal.pid` and `postgres/` (what `servicesCpuSeconds` reads). */
  dir: string;
  /** Their addresses: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, DATABASE_URL (the owner), MODELGATE_TEST_SERVICE_DATABASE_URL (the service role)… */
  env: Record<(typeof SERVICE_VARIABLES)[number], string>;
  /** Stops both and waits until they are down. */
  stop(): Promise<void>;
}

/** Runs a function of scripts/lib.sh with folder `dir`; answers its standard output, or throws with its output. */
async function libFunction(name: string, dir: string, after = ''): Promise<string> {
  try {
    const { stdout } = await run('bash', ['-c', `source scripts/lib.sh && ${name} "$1"${after}`, 'lib.sh', dir], {
      cwd: REPO_ROOT,
      timeout: 180_000,
      maxBuffer: 1 << 20,
    });
    return stdout;
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`scripts/lib.sh ${name} ${dir} failed: ${e.message}\n${(e.stderr ?? '').slice(-2_000)}`);
  }
}

/** Starts a PostgreSQL cluster and a Temporal server in `dir` (created), on free ports. */
export async function startFreshServices(dir: string): Promise<FreshServices> {
  await mkdir(dir, { recursive: true });
  const printed = await libFunction('start_temporal_and_postgres', dir, ` && printf '%s\\n' ${SERVICE_VARIABLES.map((v) => `"$${v}"`).join(' ')}`);
  const values = printed.trimEnd().split('\n').slice(-SERVICE_VARIABLES.length);
  const env = Object.fromEntries(SERVICE_VARIABLES.map((name, i) => [name, values[i] ?? ''])) as FreshServices['env'];
  const missing = SERVICE_VARIABLES.filter((name) => !env[name]);
  if (missing.length > 0) throw new Error(`scripts/lib.sh start_temporal_and_postgres set no ${missing.join(', ')}`);
  // When this process exits before stopping them (an error, Ctrl-C), they are stopped with it.
  const stopNow = () => {
    killTreeNow(pidFromFile(path.join(dir, 'temporal.pid')));
    try {
      execFileSync(path.join(REPO_ROOT, 'scripts', 'postgres.sh'), ['stop', path.join(dir, 'postgres')], { stdio: 'ignore', timeout: 30_000 });
    } catch {
      // nothing to stop
    }
  };
  process.once('exit', stopNow);
  return {
    dir,
    env,
    stop: async () => {
      process.removeListener('exit', stopNow);
      await libFunction('stop_temporal_and_postgres', dir);
    },
  };
}

/** The folder for the services of phase `index` inside a run folder. */
export const phaseServicesDir = (runDir: string, index: number) => path.join(runDir, `services-${index}`);

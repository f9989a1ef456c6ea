// The services a fault run owns and kills: a Temporal server (the dev server keeping its state in
// a SQLite file, or the Temporal server on PostgreSQL) and a private PostgreSQL cluster. Both are
// started with the project's own scripts and restarted on the same port with the same data, so a
// kill loses only what a crash loses.
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/processes';

const run = promisify(execFile);

/** Runs one of the project's scripts; a failure carries its output. */
async function script(file: string, args: string[], timeoutMs = 120_000): Promise<void> {
  try {
    await run(path.join(REPO_ROOT, file), args, { cwd: REPO_ROOT, timeout: timeoutMs, env: { ...process.env, MODELGATE_PG_FSYNC: 'off' } });
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`${file} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** True while a process with this id exists and is not a zombie waiting to be reaped. */
export async function processAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Ids of the processes whose parent is `pid`. */
async function childrenOf(pid: number): Promise<number[]> {
  try {
    const tasks = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
    return tasks.split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** SIGKILLs a process and its children now, synchronously (for `process.on('exit')`); ignores what is gone. */
export function killTreeNow(pid: number | undefined): void {
  if (!pid) return;
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // gone
  }
  for (const p of [pid, ...children]) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** The first number in a pid file, or undefined. */
export function pidFromFile(file: string): number | undefined {
  try {
    return Number(readFileSync(file, 'utf8').split('\n')[0]) || undefined;
  } catch {
    return undefined;
  }
}

/** Waits until none of `pids` runs any more (zombies count as gone). */
async function waitGone(pids: number[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = (await Promise.all(pids.map(processAlive))).filter(Boolean).length;
    if (alive === 0) return;
    if (Date.now() > deadline) throw new Error(`processes ${pids.join(', ')} still run ${timeoutMs} ms after SIGKILL`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The Temporal server a fault run kills and restarts: its address, and start, kill and stop. */
export interface FaultTemporalServer {
  /** Its folder (configuration, pid file, log; the dev server's database file). */
  readonly dir: string;
  readonly address: string;
  readonly namespace: string;
  readonly pidFile: string;
  /** Which server it is, for the report. */
  readonly kind: 'dev' | 'postgres';
  start(): Promise<void>;
  /** SIGKILL, as a crash: no shutdown, whatever was in flight is lost. True when it was running and is seen gone. */
  kill(): Promise<boolean>;
  stop(): Promise<void>;
}

/** A Temporal server run by one of the project's start scripts, known by the pid file it writes. */
abstract class PidFileTemporalServer implements FaultTemporalServer {
  abstract readonly kind: 'dev' | 'postgres';

  constructor(
    readonly dir: string,
    readonly port: number,
    readonly namespace = 'modelgate',
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pidFile(): string {
    return path.join(this.dir, 'temporal.pid');
  }

  abstract start(): Promise<void>;

  async kill(): Promise<boolean> {
    const pid = pidFromFile(this.pidFile);
    if (!pid || !(await processAlive(pid))) return false;
    process.kill(pid, 'SIGKILL');
    await waitGone([pid]);
    return true;
  }

  /** A clean stop (SIGTERM, then SIGKILL). */
  async stop(): Promise<void> {
    const pid = pidFromFile(this.pidFile);
    if (!pid || !(await processAlive(pid))) return;
    process.kill(pid, 'SIGTERM');
    try {
      await waitGone([pid], 10_000);
    } catch {
      await this.kill();
    }
  }
}

/** A Temporal dev server (`temporal/start-dev.sh --db-file`) whose state survives kills. */
export class TemporalDevServer extends PidFileTemporalServer {
  readonly kind = 'dev';

  /** Starts the server on its port with its database file, and registers the search attributes. */
  async start(): Promise<void> {
    await script('temporal/start-dev.sh', [
      '--port', String(this.port), '--headless', '--namespace', this.namespace,
      '--pidfile', this.pidFile, '--log', path.join(this.dir, 'temporal.log'), '--db-file', path.join(this.dir, 'temporal.db'),
    ]);
  }
}

/**
 * The Temporal server on PostgreSQL (`temporal/start-postgres-server.sh`, as docker-compose runs
 * it), its databases in the run's own cluster: killing PostgreSQL takes its persistence away too.
 */
export class TemporalPostgresServer extends PidFileTemporalServer {
  readonly kind = 'postgres';

  constructor(
    dir: string,
    port: number,
    readonly pgPort: number,
    namespace = 'modelgate',
  ) {
    super(dir, port, namespace);
  }

  /** Starts the server (the schema step leaves an up-to-date schema as it is) and waits until it serves. */
  async start(): Promise<void> {
    await script('temporal/start-postgres-server.sh', [
      '--port', String(this.port), '--pg-port', String(this.pgPort), '--namespace', this.namespace,
      '--dir', this.dir, '--pidfile', this.pidFile, '--log', path.join(this.dir, 'temporal.log'),
    ], 180_000);
  }
}

/** A private PostgreSQL cluster (`scripts/postgres.sh`), fsync off: a killed process loses nothing the OS has. */
export class PostgresCluster {
  constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `postgres://modelgate@127.0.0.1:${this.port}/modelgate`;
  }

  /** Starts the cluster (creating it the first time); after a kill PostgreSQL recovers from its WAL. */
  async start(): Promise<void> {
    await script('scripts/postgres.sh', ['start', this.dir, String(this.port)]);
  }

  get pidFile(): string {
    return path.join(this.dir, 'postmaster.pid');
  }

  async pid(): Promise<number | undefined> {
    return pidFromFile(this.pidFile);
  }

  /**
   * SIGKILL of the postmaster and of every backend at once, as when its machine or container
   * dies; waits until all are gone so that a restart finds the port and shared memory free.
   * True when the postmaster was running and every process is seen gone.
   */
  async kill(): Promise<boolean> {
    const pid = await this.pid();
    if (!pid || !(await processAlive(pid))) return false;
    const children = await childrenOf(pid);
    for (const p of [pid, ...children]) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await waitGone([pid, ...children]);
    return true;
  }

  async stop(): Promise<void> {
    await script('scripts/postgres.sh', ['stop', this.dir]);
  }

  /** Stops the cluster synchronously (for `process.on('exit')`), whatever state it is in. */
  stopNow(): void {
    killTreeNow(pidFromFile(this.pidFile));
    try {
      execFileSync(path.join(REPO_ROOT, 'scripts', 'postgres.sh'), ['stop', this.dir], { stdio: 'ignore', timeout: 30_000 });
    } catch {
      // nothing to stop
    }
  }
}

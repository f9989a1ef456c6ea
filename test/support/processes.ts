// Modelgate's own processes — the built worker (`dist/worker.js`) and API (`dist/api/server.js`) —
// as child processes of a test or a benchmark, optionally supervised (restarted when they exit by
// themselves, as systemd or Kubernetes would restart them).
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { WORKER_NODE_FLAGS } from '../../src/worker-node-flags';

/** The repository's root folder. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Entry points of the built processes. */
export const PROCESS_ENTRIES = {
  worker: path.join(REPO_ROOT, 'dist', 'worker.js'),
  api: path.join(REPO_ROOT, 'dist', 'api', 'server.js'),
} as const;

/** How to run one Modelgate process. */
export interface ModelgateProcessOptions {
  /** Which process (`worker` or `api`), or the path of another script to run with node. */
  entry: keyof typeof PROCESS_ENTRIES | { script: string; nodeArgs?: string[] };
  /** Its whole environment. */
  env: NodeJS.ProcessEnv;
  /** Appends stdout and stderr here (default: discarded). */
  logFile?: string;
  /** Restart it this long after it exits by itself; absent: never restart. */
  restartDelayMs?: number;
}

/**
 * One child process. {@link kill} and {@link stop} are deliberate: a killed process stays down
 * until {@link start}; any other exit counts in {@link unexpectedExits} and, with
 * `restartDelayMs`, restarts it.
 */
export class ModelgateProcess {
  child?: ChildProcess;
  /** How often it was started. */
  starts = 0;
  /** Exits that were not asked for by {@link kill} or {@link stop}, with their codes. */
  readonly unexpectedExits: Array<{ at: string; code: number | null; signal: string | null }> = [];
  private down = true;
  private restartTimer?: NodeJS.Timeout;
  private log?: WriteStream;

  constructor(
    readonly name: string,
    private readonly options: ModelgateProcessOptions,
  ) {}

  /** Process id of the running child, if any. */
  get pid(): number | undefined {
    return this.child && this.child.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /** Starts the process (nothing happens when it runs already). */
  start(): this {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    if (this.pid) return this;
    this.down = false;
    const { entry } = this.options;
    // The worker runs with the node flags its production launchers pass.
    const args = typeof entry === 'string' ? [...(entry === 'worker' ? WORKER_NODE_FLAGS : []), PROCESS_ENTRIES[entry]] : [...(entry.nodeArgs ?? []), entry.script];
    this.log ??= this.options.logFile ? createWriteStream(this.options.logFile, { flags: 'a' }) : undefined;
    const child = spawn(process.execPath, args, { env: this.options.env, cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.starts += 1;
    this.log?.write(`--- ${new Date().toISOString()} ${this.name} start #${this.starts} (pid ${child.pid})\n`);
    child.stdout?.on('data', (chunk: Buffer) => this.log?.write(chunk));
    child.stderr?.on('data', (chunk: Buffer) => this.log?.write(chunk));
    child.once('exit', (code, signal) => {
      this.log?.write(`--- ${new Date().toISOString()} ${this.name} exited (code ${code}, signal ${signal})\n`);
      if (this.child !== child || this.down) return;
      this.unexpectedExits.push({ at: new Date().toISOString(), code, signal });
      if (this.options.restartDelayMs !== undefined) {
        this.restartTimer = setTimeout(() => this.start(), this.options.restartDelayMs);
      }
    });
    this.child = child;
    return this;
  }

  /**
   * Sends `signal` (default SIGKILL) and waits until the process has exited; it stays down until
   * {@link start}. True when it was running and has now exited; false when it was down already.
   */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<boolean> {
    this.down = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return false;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
    return true;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; closes the log. */
  async stop(graceMs = 10_000): Promise<void> {
    const force = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    try {
      await this.kill('SIGTERM');
    } finally {
      clearTimeout(force);
      await new Promise<void>((resolve) => (this.log ? this.log.end(resolve) : resolve()));
      this.log = undefined;
    }
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Waits until the API (or a worker's health endpoint) at `url` answers `/readyz` with 200
 * (Temporal and PostgreSQL reachable). Given the process `serving` it, fails as soon as that
 * process exits by itself, with its exit code, instead of waiting out the timeout.
 */
export async function waitForApiReady(url: string, timeoutMs = 60_000, serving?: ModelgateProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const exitsBefore = serving?.unexpectedExits.length ?? 0;
  let last = 'no answer';
  while (Date.now() < deadline) {
    const exit = serving?.unexpectedExits[exitsBefore];
    if (exit) throw new Error(`${serving!.name} (${url}) exited before it was ready (code ${exit.code}, signal ${exit.signal}); its log has why`);
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(3_000) });
      if (res.ok) return;
      last = `HTTP ${res.status}: ${await res.text()}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${serving?.name ?? 'the API'} at ${url} was not ready within ${timeoutMs} ms (last: ${last})`);
}

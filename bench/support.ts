// Helpers shared by the benchmarks.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { Client, Connection } from '@temporalio/client';
import type { Pool } from 'pg';
import { loadConfig } from '../src/config';
import { runMigrations } from '../src/db/migrate';
import { parsePolicy } from '../src/policy/load';
import { REPO_ROOT, waitForApiReady } from '../test/support/processes';
import { workerEnvironment } from '../src/config';

export { freePort } from '../test/support/processes';

/** The p-th percentile (nearest rank) of a list of numbers. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A small valid safetensors file, different per seed (the real checks pass on it). */
export function safetensorsArtifact(seed: string): Buffer {
  const data = createHash('sha256').update(seed).digest().subarray(0, 16);
  const header = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, data]);
}

/** A numeric option `--name N` of the benchmark's command line, or `fallback`. */
export function numericOption(name: string, fallback: number, args: readonly string[] = process.argv.slice(2)): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

/** `--name <value>` where the value must be one of `choices`; `fallback` without the option. */
export function choiceOption<T extends string>(name: string, choices: readonly T[], fallback: T, args: readonly string[] = process.argv.slice(2)): T {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = args[i + 1];
  if (!choices.includes(value as T)) throw new Error(`--${name} must be one of ${choices.join(', ')}`);
  return value as T;
}

/** Waits until the API at `url` answers `/readyz` with 200 (30 s at most). */
export const waitReady = (url: string): Promise<void> => waitForApiReady(url, 30_000);

/**
 * A policy named `default` whose every tier has one `technical` gate for `ml-reviewer`, with
 * the integrity and security checks only, so promotions wait in IN_REVIEW for a reviewer; data
 * scientists submit.
 */
export function oneGatePolicyYaml(gate: { quorum: number; timeout?: string }): string {
  const gateYaml = `{ name: technical, roles: [ml-reviewer], quorum: ${gate.quorum}${gate.timeout ? `, timeout: ${gate.timeout}` : ''} }`;
  const tier = `{ stages: [ { name: review, gates: [ ${gateYaml} ] } ] }`;
  return `
apiVersion: modelgate/v1
kind: PromotionPolicy
name: default
version: "bench-1"
environments: { production: {} }
submitters: [data-scientist]
checks:
  integrity: { enforcement: required }
  security: { enforcement: required }
  performance: { enforcement: off }
  fairness: { enforcement: off }
  modelCard: { enforcement: off }
  lineage: { enforcement: off }
  privacy: { enforcement: off }
tiers:
  low: ${tier}
  medium: ${tier}
  high: ${tier}
`;
}

/** The environment of a worker or API process of a benchmark (its task queue, policies, HS256 secret and port) over `base` (default: this process's). */
export function benchProcessEnv(settings: { taskQueue: string; policyDir: string; secret: string; port: number; base?: NodeJS.ProcessEnv }): NodeJS.ProcessEnv {
  return {
    ...(settings.base ?? process.env),
    TEMPORAL_TASK_QUEUE: settings.taskQueue,
    POLICY_DIR: settings.policyDir,
    AUTH_JWT_SECRET: settings.secret,
    ARTIFACT_ROOTS: tmpdir(),
    ARTIFACT_STORE_DIR: path.join(settings.policyDir, '..', 'artifact-store'),
    PORT: String(settings.port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2',
  };
}

/**
 * Starts `dist/<entry>` (e.g. `worker.js`, `api/server.js`) as its own process, as in production;
 * `nodeArgs` go to node before the entry (e.g. `--cpu-prof`).
 */
export function startDistProcess(entry: string, env: NodeJS.ProcessEnv, nodeArgs: readonly string[] = []): ChildProcess {
  const own = entry === 'worker.js' ? workerEnvironment(env) : env;
  return spawn(process.execPath, [...nodeArgs, path.join(__dirname, '..', 'dist', entry)], { env: own, stdio: ['ignore', 'ignore', 'inherit'] });
}

let clockTicks: number | undefined;

/** CPU seconds (user + system, own and of reaped children) and memory of a live process, from /proc (Linux). */
export async function processUsage(pid: number): Promise<{ cpuSeconds: number; childrenCpuSeconds: number; rssMb: number; peakRssMb: number }> {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces): state is field 3; utime 14, stime 15, cutime 16, cstime 17.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = (field: number) => Number(fields[field - 3]);
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return {
    cpuSeconds: (ticks(14) + ticks(15)) / clockTicks,
    childrenCpuSeconds: (ticks(16) + ticks(17)) / clockTicks,
    rssMb: kb('VmRSS') / 1024,
    peakRssMb: kb('VmHWM') / 1024,
  };
}

/**
 * CPU seconds so far of the throwaway services that `scripts/bench.sh` started in `runDir`
 * (MODELGATE_BENCH_RUN_DIR): the Temporal server, and PostgreSQL (the postmaster, its live
 * backends and the ones that exited). `undefined` for each without a run folder (a test run).
 */
export async function servicesCpuSeconds(runDir: string | undefined): Promise<{ temporal?: number; postgres?: number }> {
  if (!runDir) return {};
  const temporalPid = Number((await readFile(path.join(runDir, 'temporal.pid'), 'utf8')).trim());
  const postmaster = Number((await readFile(path.join(runDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  const own = await processUsage(postmaster);
  const children = (await readFile(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8')).split(/\s+/).filter(Boolean).map(Number);
  const live = await Promise.all(children.map((pid) => processUsage(pid).then((u) => u.cpuSeconds).catch(() => 0)));
  return {
    temporal: (await processUsage(temporalPid)).cpuSeconds,
    postgres: own.cpuSeconds + own.childrenCpuSeconds + live.reduce((a, b) => a + b, 0),
  };
}

/**
 * What a benchmark run starts from: the configuration of the throwaway services, the database
 * migrated, a task queue of its own (`bench-<name>-…`), the policy parsed and written as
 * `default.yaml` into `<dir>/policies` (the worker's and the API's POLICY_DIR), a Temporal client.
 * `env` holds the services' addresses (default: this process's environment).
 */
export async function prepareBenchRun(name: string, policyYaml: string, env: NodeJS.ProcessEnv = process.env) {
  const base = loadConfig(env);
  const taskQueue = `bench-${name}-${randomUUID().slice(0, 8)}`;
  await runMigrations(base.databaseUrl);
  const policy = parsePolicy(policyYaml, 'bench-policy.yaml');
  const dir = await mkdtemp(path.join(tmpdir(), `modelgate-bench-${name}-`));
  await mkdir(path.join(dir, 'policies'));
  await writeFile(path.join(dir, 'policies', 'default.yaml'), policyYaml);
  const client = new Client({ connection: await Connection.connect({ address: base.temporal.address }), namespace: base.temporal.namespace });
  return { base, taskQueue, policy, dir, client };
}

/**
 * Ends a run that {@link prepareBenchRun} prepared: stops the processes it started (SIGTERM, then
 * waits for each to exit), closes the Temporal client and the pool, removes its folder.
 */
export async function endBenchRun(run: { children: ChildProcess[]; client: Client; pool: Pool; dir: string }): Promise<void> {
  for (const child of run.children) child.kill('SIGTERM');
  await Promise.all(run.children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)))));
  await run.client.connection.close();
  await run.pool.end();
  await rm(run.dir, { recursive: true, force: true });
}

/**
 * Compiles bench/bundle-worker.ts alone to `dist-bench/bundle-worker.js` with the project's
 * TypeScript compiler options (no webpack, no tsx), in the repository (not committed) so that it
 * finds node_modules/ and the build's modules in dist/ like dist/worker.js. Returns its path.
 */
export async function compileBundleWorker(): Promise<string> {
  const source = path.join(__dirname, 'bundle-worker.ts');
  const config = ts.readConfigFile(path.join(REPO_ROOT, 'tsconfig.json'), (file) => ts.sys.readFile(file));
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, REPO_ROOT);
  const { outputText, diagnostics } = ts.transpileModule(await readFile(source, 'utf8'), {
    compilerOptions: { ...options, sourceMap: false, declaration: false },
    fileName: source,
    reportDiagnostics: true,
  });
  if (diagnostics && diagnostics.length > 0) throw new Error(`compiling ${source}: ${ts.flattenDiagnosticMessageText(diagnostics[0]!.messageText, '\n')}`);
  const outDir = path.join(REPO_ROOT, 'dist-bench');
  await mkdir(outDir, { recursive: true });
  const file = path.join(outDir, 'bundle-worker.js');
  await writeFile(file, outputText);
  return file;
}

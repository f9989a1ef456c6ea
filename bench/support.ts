// Helpers shared by the benchmarks.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import path from 'node:path';

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

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Waits until the API at `url` answers `/readyz` with 200 (30 s at most). */
export async function waitReady(url: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    if (i > 300) throw new Error(`the API at ${url} did not become ready`);
    await sleep(100);
  }
}

/**
 * A policy named `default` whose every tier has one `technical` gate for `ml-reviewer`, with
 * the integrity and security checks only, so promotions wait in IN_REVIEW for a reviewer.
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

/** The environment of a worker or API process of a benchmark (its task queue, policies, HS256 secret and port). */
export function benchProcessEnv(settings: { taskQueue: string; policyDir: string; secret: string; port: number }): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TEMPORAL_TASK_QUEUE: settings.taskQueue,
    POLICY_DIR: settings.policyDir,
    AUTH_JWT_SECRET: settings.secret,
    PORT: String(settings.port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2',
  };
}

/** Starts `dist/<entry>` (e.g. `worker.js`, `api/server.js`) as its own process, as in production. */
export function startDistProcess(entry: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [path.join(__dirname, '..', 'dist', entry)], { env, stdio: ['ignore', 'ignore', 'inherit'] });
}

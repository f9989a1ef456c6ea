// Dashboard benchmark (issue: reviewer dashboard). Run with `./scripts/bench.sh dashboard [options]`.
// What one refresh of a dashboard page costs (each open page refreshes every 3 s):
//  1. `GET /v1/review-queue` for a reviewer with N promotions waiting on their role: the API lists
//     them by visibility and builds each entry from the review summary in the listing's memo (cold:
//     a freshly started API; warm: later reads). Promotions without the summary would have their
//     state read (described, and queried when their history changed).
//  2. `GET /v1/governance` with M closed promotions in the audit archive (about 10 events each):
//     cold (the archive figures computed) and warm (reused for 15 s; the counts by status for 5 s).
// Options: --waiting N (default 100) --archived M (default 5000) --reads N (default 50).
// Writes bench/results/dashboard-<commit>.json.
import type { ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Pool } from 'pg';
import { signDevToken } from '../../src/api/auth';
import { chainRecords, type AuditRecord } from '../../src/audit/chain';
import { PromotionManifestSchema } from '../../src/manifest/schema';
import { startPromotion } from '../../src/promotions/start';
import { latencyFigures, startBenchRecord } from '../results';
import { benchProcessEnv, endBenchRun, freePort, prepareBenchRun, numericOption, oneGatePolicyYaml, safetensorsArtifact, sleep, startDistProcess, waitReady } from '../support';

/** The sizes of one run of the dashboard benchmark. */
export interface DashboardBenchOptions {
  /** Promotions waiting on the reviewer's role. */
  waiting: number;
  /** Closed promotions in the audit archive. */
  archived: number;
  /** Timed reads of each page. */
  reads: number;
  /** The services' settings (default: this process's environment). */
  env?: NodeJS.ProcessEnv;
}

/** The figures of the dashboard benchmark. */
export interface DashboardBenchFigures {
  reviewQueue: { waiting: number; workerCache: number; coldMs: number; warm: ReturnType<typeof latencyFigures> };
  governance: { archivedPromotions: number; auditRows: number; cold: ReturnType<typeof latencyFigures>; warm: ReturnType<typeof latencyFigures> };
}
const SECRET = 'benchmark-secret-0123456789-0123456789-abcdef';
/** One review gate with a deadline, so promotions wait in IN_REVIEW with something to sort by. */
const POLICY = oneGatePolicyYaml({ quorum: 1, timeout: '48h' });

const round = (ms: number) => +ms.toFixed(1);

/** A closed promotion's archived timeline: submitted, checks, two gates decided, an ending. */
function syntheticTimeline(i: number, start: number): AuditRecord[] {
  const at = (minutes: number) => new Date(start + minutes * 60_000).toISOString();
  const tier = ['low', 'medium', 'high'][i % 3]!;
  const rejected = i % 5 === 0;
  const records: AuditRecord[] = [
    { occurredAt: at(0), actor: 'sam', action: 'submitted', detail: { effectiveTier: tier, declaredTier: tier } },
    { occurredAt: at(0), actor: 'modelgate', action: 'checks_started', detail: { run: 1 } },
    { occurredAt: at(1), actor: 'modelgate', action: 'checks_completed', detail: { run: 1, results: { integrity: 'pass', security: i % 7 === 0 ? 'fail' : 'pass', performance: i % 4 === 0 ? 'fail' : 'pass' } } },
    { occurredAt: at(2), actor: 'modelgate', action: 'gate_opened', detail: { gate: 'technical' } },
    { occurredAt: at(2 + (i % 90)), actor: 'rita', action: 'decision_approve', detail: { gate: 'technical' } },
    { occurredAt: at(3 + (i % 90)), actor: 'modelgate', action: 'gate_opened', detail: { gate: 'business' } },
  ];
  if (rejected) {
    const comment = ['Calibration drifts on the holdout set', 'No business case', 'Model card incomplete'][i % 3]!;
    records.push({ occurredAt: at(60 + (i % 300)), actor: 'bo', action: 'decision_reject', detail: { gate: 'business', comment } });
    records.push({ occurredAt: at(60 + (i % 300)), actor: 'bo', action: 'rejected', detail: { reason: `gate business rejected: ${comment}` } });
  } else {
    records.push({ occurredAt: at(60 + (i % 300)), actor: 'bo', action: 'decision_approve', detail: { gate: 'business' } });
    records.push({ occurredAt: at(60 + (i % 300)), actor: 'modelgate', action: 'approved', detail: {} });
    records.push({ occurredAt: at(61 + (i % 300)), actor: 'modelgate', action: 'deploying', detail: {} });
    records.push({ occurredAt: at(61 + (i % 300)), actor: 'modelgate', action: 'deployed', detail: { reason: 'serving production' } });
  }
  return records.map((r) => ({ ...r, detail: { ...r.detail, policyVersion: 'bench-1' } }));
}

/** Runs the dashboard benchmark (the worker and the API as their own dist/ processes). */
export async function runDashboardBenchmark(options: DashboardBenchOptions): Promise<DashboardBenchFigures> {
  const { waiting: WAITING, archived: ARCHIVED, reads: READS } = options;
  const { base, taskQueue, policy, dir, client } = await prepareBenchRun('dashboard', POLICY, options.env);
  const pool = new Pool({ connectionString: base.databaseUrl });

  // The worker and the API run as their own processes (dist/), as in production.
  const port = await freePort();
  const env = benchProcessEnv({ taskQueue, policyDir: path.join(dir, 'policies'), secret: SECRET, port, ...(options.env ? { base: options.env } : {}) });
  const startProcess = (entry: string) => startDistProcess(entry, env);
  const children: ChildProcess[] = [startProcess(path.join('api', 'server.js')), startProcess('worker.js')];
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url);
  const sam = { id: 'sam', roles: ['data-scientist'] };
  const rita = `Bearer ${await signDevToken({ secret: SECRET, user: 'rita', roles: ['ml-reviewer'] })}`;
  const get = async (route: string) => {
    const res = await fetch(`${url}${route}`, { headers: { authorization: rita } });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`GET ${route}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const measure = async (route: string, check: (body: Record<string, unknown>) => void) => {
    const times: number[] = [];
    for (let i = 0; i < READS; i++) {
      const t0 = performance.now();
      const body = await get(route);
      times.push(performance.now() - t0);
      check(body);
    }
    return latencyFigures(times);
  };

  // ---- 1. the review queue with WAITING promotions waiting on the reviewer's role ---------------
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < WAITING) {
        const i = next++;
        const name = `queue-${i}-${randomUUID().slice(0, 6)}`;
        const bytes = safetensorsArtifact(name);
        const file = path.join(dir, `${name}.safetensors`);
        await writeFile(file, bytes);
        const manifest = PromotionManifestSchema.parse({
          model: { name, version: '1.0.0', owner: 'olivia', riskTier: 'medium' },
          target: 'production',
          artifact: { uri: pathToFileURL(file).href, sha256: createHash('sha256').update(bytes).digest('hex'), format: 'safetensors' },
          metrics: { accuracy: 0.95 },
        });
        await startPromotion(client, { manifest, submitter: sam, policy, taskQueue });
      }
    }),
  );
  for (;;) {
    const queue = await get('/v1/review-queue');
    if ((queue.entries as unknown[]).length >= WAITING) break;
    await sleep(500);
  }
  // Cold: the first read of a freshly started API process, which remembers no state yet.
  const coldPort = await freePort();
  const coldApi = startDistProcess(path.join('api', 'server.js'), { ...env, PORT: String(coldPort) });
  children.push(coldApi);
  await waitReady(`http://127.0.0.1:${coldPort}`);
  const t0 = performance.now();
  const first = await fetch(`http://127.0.0.1:${coldPort}/v1/review-queue`, { headers: { authorization: rita } }).then((r) => r.json() as Promise<{ entries: unknown[] }>);
  const coldMs = round(performance.now() - t0);
  if (first.entries.length !== WAITING) throw new Error(`expected ${WAITING} entries, got ${first.entries.length}`);
  const queue = await measure('/v1/review-queue', (body) => {
    if ((body.entries as unknown[]).length !== WAITING) throw new Error(`expected ${WAITING} entries, got ${(body.entries as unknown[]).length}`);
  });

  // ---- 2. governance figures over ARCHIVED closed promotions -----------------------------------
  const start = Date.now() - 30 * 86_400_000;
  let rows = 0;
  for (let batch = 0; batch < ARCHIVED; batch += 500) {
    const values: unknown[] = [];
    const tuples: string[] = [];
    for (let i = batch; i < Math.min(ARCHIVED, batch + 500); i++) {
      for (const r of chainRecords(`promote:archived-${i}:1.0.0:production`, syntheticTimeline(i, start + i * 60_000))) {
        const n = values.length;
        tuples.push(`($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5}, $${n + 6}, $${n + 7}, $${n + 8})`);
        values.push(r.promotionId, r.seq, r.occurredAt, r.actor, r.action, JSON.stringify(r.detail), r.prevHash, r.hash);
      }
    }
    await pool.query(`INSERT INTO audit_events (promotion_id, seq, occurred_at, actor, action, detail, prev_hash, hash) VALUES ${tuples.join(', ')}`, values);
    rows += tuples.length;
  }
  await pool.query('ANALYZE audit_events');
  const expectAll = (body: Record<string, unknown>) => {
    const archive = body.archive as { promotions: number };
    if (archive.promotions !== ARCHIVED) throw new Error(`expected ${ARCHIVED} archived promotions, got ${archive.promotions}`);
  };
  // Cold: each period is computed once, then reused for 15 s.
  const cold: number[] = [];
  for (let days = 60; days < 70; days++) {
    const t = performance.now();
    expectAll(await get(`/v1/governance?days=${days}`));
    cold.push(performance.now() - t);
  }
  const governance = await measure('/v1/governance?days=60', expectAll);
  await endBenchRun({ children, client, pool, dir });
  return {
    reviewQueue: { waiting: WAITING, workerCache: base.worker.maxCachedWorkflows, coldMs, warm: queue },
    governance: { archivedPromotions: ARCHIVED, auditRows: rows, cold: latencyFigures(cold), warm: governance },
  };
}

async function main() {
  const options = { waiting: numericOption('waiting', 100), archived: numericOption('archived', 5000), reads: numericOption('reads', 50) };
  const record = startBenchRecord('dashboard', options);
  const figures = await runDashboardBenchmark(options);
  const file = await record.finish(figures);
  const { reviewQueue: q, governance: g } = figures;
  console.log(`GET /v1/review-queue with ${q.waiting} waiting: cold ${q.coldMs} ms, warm p50 ${q.warm.p50Ms} ms, p95 ${q.warm.p95Ms} ms`);
  console.log(`GET /v1/governance over ${g.archivedPromotions} archived: cold p50 ${g.cold.p50Ms} ms, warm p50 ${g.warm.p50Ms} ms, p95 ${g.warm.p95Ms} ms`);
  console.log(`results: ${file}`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}

// API benchmark (issue: HTTP API). Run with `./scripts/bench.sh api [options]`.
//  1. `POST /v1/promotions` and `POST /v1/promotions/{id}/decisions` over HTTP to the API process against
//     the same work done by a client of Temporal directly, interleaved one by one in one run: p50 and p95
//     of each, and the ratio. A direct submission does what any client must to start the same promotion:
//     validate the manifest (the workflow trusts its input), resolve the policy, look the version up in
//     the registry (so that a version is never started with another digest) and start the workflow.
//     The bare start (policy resolved, no validation, no registry look-up) is measured alongside as the floor.
//  2. `GET /v1/promotions?pendingFor=me` with N open promotions waiting for review: p50 / p95.
// Options: --calls N (default 100 of each kind) --open N (default 2000) --reads N (default 200)
//          --worker-during-submit 0 (start the worker after the submissions; default 1)
import type { ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { signDevToken } from '../../src/api/auth';
import { type PromotionManifest, PromotionManifestSchema } from '../../src/manifest/schema';
import { sendPromotionMessage } from '../../src/promotions/messages';
import { startPromotion } from '../../src/promotions/start';
import { createVersionDigests } from '../../src/registry';
import { createPool } from '../../src/db/pool';
import { promotionUpdates } from '../../src/shared/messages';
import { benchProcessEnv, endBenchRun, freePort, prepareBenchRun, numericOption, oneGatePolicyYaml, percentile, safetensorsArtifact, sleep, startDistProcess, waitReady } from '../support';

const CALLS = numericOption('calls', 100);
const OPEN = numericOption('open', 2000);
const READS = numericOption('reads', 200);
/** 0: start the worker only after the submissions, so its work on each new promotion does not compete for the CPU. */
const WORKER_DURING_SUBMIT = numericOption('worker-during-submit', 1) !== 0;
const SECRET = 'benchmark-secret-0123456789-0123456789-abcdef';

/** One review gate, so promotions wait in IN_REVIEW for a reviewer's decision. */
const POLICY = oneGatePolicyYaml({ quorum: 2 });

const round = (ms: number) => +ms.toFixed(1);

/** The API and worker processes this run started. */
const spawned: ChildProcess[] = [];

async function main() {
  const { base, taskQueue, policy, dir, client } = await prepareBenchRun('api', POLICY);
  // A direct client needs the registry too (see the header); its own pool, like the API's.
  const pool = createPool(base.databaseUrl);
  const registry = createVersionDigests(pool);

  // The worker and the API run as their own processes (dist/), as in production; this process
  // only measures, so the API's calls and the direct client calls share nothing but the server.
  const port = await freePort();
  const env = benchProcessEnv({ taskQueue, policyDir: path.join(dir, 'policies'), secret: SECRET, port });
  const startProcess = (entry: string) => {
    const child = startDistProcess(entry, env);
    spawned.push(child);
    return child;
  };
  const children: ChildProcess[] = [startProcess(path.join('api', 'server.js'))];
  if (WORKER_DURING_SUBMIT) children.push(startProcess('worker.js'));
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url);
  const sam = { id: 'sam', roles: ['data-scientist'] };
  const rita = { id: 'rita', roles: ['ml-reviewer'] };
  const bearer = async (actor: { id: string; roles: string[] }) => `Bearer ${await signDevToken({ secret: SECRET, user: actor.id, roles: actor.roles })}`;
  const samToken = await bearer(sam);
  const ritaToken = await bearer(rita);

  /** A manifest as a client holds it before validation (plain JSON, as sent over HTTP). */
  const manifestFor = async (name: string) => {
    const bytes = safetensorsArtifact(name);
    const file = path.join(dir, `${name}.safetensors`);
    await writeFile(file, bytes);
    return {
      model: { name, version: '1.0.0', owner: 'olivia', riskTier: 'medium' },
      target: 'production',
      artifact: { uri: pathToFileURL(file).href, sha256: createHash('sha256').update(bytes).digest('hex'), format: 'safetensors' },
      metrics: { accuracy: 0.95 },
    };
  };
  /** What a client of Temporal does to submit: validate, resolve the policy, check the registry, start. */
  const submitDirectly = (raw: unknown) =>
    startPromotion(client, { manifest: PromotionManifestSchema.parse(raw), submitter: sam, policy, taskQueue, registry });
  /** The floor: the policy resolved and the workflow started, nothing else (the manifest validated beforehand). */
  const startBare = (manifest: PromotionManifest) => startPromotion(client, { manifest, submitter: sam, policy, taskQueue });
  // The HTTP client: node:http with a keep-alive agent, as a service client would use. (Node's
  // fetch costs about 0.5 ms more per call on this machine, on the client's side of the hop.)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const call = (method: 'GET' | 'POST', route: string, token: string, body?: unknown) =>
    new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(
        `${url}${route}`,
        {
          method,
          agent,
          headers: { authorization: token, ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  const api = async (method: 'GET' | 'POST', route: string, token: string, body?: unknown) => {
    const { status, json } = await call(method, route, token, body);
    if (status >= 300) throw new Error(`${method} ${route}: ${status} ${JSON.stringify(json)}`);
    return json;
  };
  const waitInReview = async (count: number) => {
    for (;;) {
      const n = Number((await client.workflow.count(`PromotionStatus = 'IN_REVIEW' AND ExecutionStatus = 'Running' AND TaskQueue = '${taskQueue}'`)).count);
      if (n >= count) return;
      await sleep(500);
    }
  };

  // Warm-up: connections, JIT, the worker's cache.
  const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
  const WARM_UP = 5;
  for (let i = 0; i < WARM_UP; i++) {
    await api('POST', '/v1/promotions', samToken, await manifestFor(unique(`warm-api-${i}`)));
    await submitDirectly(await manifestFor(unique(`warm-direct-${i}`)));
    await startBare(PromotionManifestSchema.parse(await manifestFor(unique(`warm-bare-${i}`))));
  }

  // ---- 1a. submissions --------------------------------------------------------------------------
  const submitApi: number[] = [];
  const submitDirect: number[] = [];
  const submitBare: number[] = [];
  const viaApi: string[] = [];
  const viaClient: string[] = [];
  const viaBare: string[] = [];
  for (let i = 0; i < CALLS; i++) {
    const a = await manifestFor(unique(`api-${i}`));
    const d = await manifestFor(unique(`direct-${i}`));
    const b = PromotionManifestSchema.parse(await manifestFor(unique(`bare-${i}`)));
    const viaHttp = async () => {
      const t0 = performance.now();
      const started = await api('POST', '/v1/promotions', samToken, a);
      submitApi.push(performance.now() - t0);
      viaApi.push(started.promotionId as string);
    };
    const viaTemporal = async () => {
      const t0 = performance.now();
      const direct = await submitDirectly(d);
      submitDirect.push(performance.now() - t0);
      viaClient.push(direct.promotionId);
    };
    const bare = async () => {
      const t0 = performance.now();
      const started = await startBare(b);
      submitBare.push(performance.now() - t0);
      viaBare.push(started.promotionId);
    };
    // rotate which goes first, so that none always follows another's workflow start
    const order = [viaHttp, viaTemporal, bare];
    for (let k = 0; k < order.length; k++) await order[(i + k) % order.length]!();
  }
  const submitted = 3 * (CALLS + WARM_UP);
  if (!WORKER_DURING_SUBMIT) children.push(startProcess('worker.js'));
  await waitInReview(submitted);

  // ---- 1c. where the API's time goes: HTTP, token and routing only; and + manifest validation + registry look-up
  const httpOnly: number[] = [];
  const validatedAndLooked: number[] = [];
  const registered = await manifestFor(unique('probe'));
  const conflicting = { ...registered, model: { ...registered.model, name: viaApi[0]!.split(':')[1]! }, artifact: { ...registered.artifact, sha256: 'f'.repeat(64) } };
  for (let i = 0; i < CALLS; i++) {
    let t0 = performance.now();
    const routed = await call('GET', '/v1/no-such-route', samToken);
    if (routed.status !== 404) throw new Error(`expected 404, got ${routed.status}`);
    httpOnly.push(performance.now() - t0);
    t0 = performance.now();
    const refused = await call('POST', '/v1/promotions', samToken, conflicting);
    if (refused.status !== 409) throw new Error(`expected 409 from the registry look-up, got ${refused.status}`);
    validatedAndLooked.push(performance.now() - t0);
  }
  console.log(
    'fixed costs of the API path:',
    JSON.stringify({ httpTokenAndRoutingP50Ms: round(percentile(httpOnly, 50)), plusManifestAndRegistryP50Ms: round(percentile(validatedAndLooked, 50)) }),
  );

  // ---- 1b. decisions (first approval of a quorum of 2: the promotion stays open) ----------------
  // The direct side sends as every client of a promotion must (sendPromotionMessage: wait for a
  // workflow task in flight, then the Update); the bare Update alone is measured as the floor.
  const decideApi: number[] = [];
  const decideDirect: number[] = [];
  const decideBare: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const viaHttp = async () => {
      const t0 = performance.now();
      await api('POST', `/v1/promotions/${encodeURIComponent(viaApi[i]!)}/decisions`, ritaToken, { gate: 'technical', decision: 'approve' });
      decideApi.push(performance.now() - t0);
    };
    const viaTemporal = async () => {
      const t0 = performance.now();
      await sendPromotionMessage(client.workflow.getHandle(viaClient[i]!), 'decide', { actor: rita, requestId: randomUUID(), gate: 'technical', decision: 'approve' });
      decideDirect.push(performance.now() - t0);
    };
    const bareUpdate = async () => {
      const t0 = performance.now();
      await client.workflow.getHandle(viaBare[i]!).executeUpdate(promotionUpdates.decide, {
        args: [{ actor: rita, requestId: randomUUID(), gate: 'technical', decision: 'approve' }],
      });
      decideBare.push(performance.now() - t0);
    };
    if (i % 2 === 0) await viaHttp().then(viaTemporal).then(bareUpdate);
    else await bareUpdate().then(viaTemporal).then(viaHttp);
  }
  const ratio = (a: number[], b: number[], p: number) => +(percentile(a, p) / percentile(b, p)).toFixed(2);
  console.log(
    'overhead of the API over the Temporal client:',
    JSON.stringify({
      calls: CALLS,
      workerDuringSubmit: WORKER_DURING_SUBMIT,
      submit: {
        apiP50Ms: round(percentile(submitApi, 50)),
        directP50Ms: round(percentile(submitDirect, 50)),
        ratioP50: ratio(submitApi, submitDirect, 50),
        apiP95Ms: round(percentile(submitApi, 95)),
        directP95Ms: round(percentile(submitDirect, 95)),
        bareStartP50Ms: round(percentile(submitBare, 50)),
        bareStartP95Ms: round(percentile(submitBare, 95)),
        ratioToBareP50: ratio(submitApi, submitBare, 50),
      },
      decide: { apiP50Ms: round(percentile(decideApi, 50)), directP50Ms: round(percentile(decideDirect, 50)), ratioP50: ratio(decideApi, decideDirect, 50), bareUpdateP50Ms: round(percentile(decideBare, 50)), ratioToBareP50: ratio(decideApi, decideBare, 50), apiP95Ms: round(percentile(decideApi, 95)), directP95Ms: round(percentile(decideDirect, 95)) },
    }),
  );

  // ---- 2. pendingFor=me with OPEN promotions waiting ----------------------------------------------
  let next = submitted;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < OPEN) {
        const i = next++;
        await submitDirectly(await manifestFor(unique(`open-${i}`)));
      }
    }),
  );
  await waitInReview(OPEN);
  const fillSeconds = (performance.now() - t0) / 1000;
  const reads: number[] = [];
  let listed = 0;
  for (let i = 0; i < READS; i++) {
    const start = performance.now();
    const page = await api('GET', '/v1/promotions?pendingFor=me&pageSize=50', ritaToken);
    reads.push(performance.now() - start);
    listed = (page.promotions as unknown[]).length;
  }
  console.log(
    'GET /v1/promotions?pendingFor=me:',
    JSON.stringify({ openPromotions: OPEN, fillSeconds: +fillSeconds.toFixed(1), reads: READS, pageSize: 50, listed, p50Ms: round(percentile(reads, 50)), p95Ms: round(percentile(reads, 95)) }),
  );

  agent.destroy();
  await endBenchRun({ children, client, pool, dir });
}

main().catch((err: unknown) => {
  console.error(err);
  // A failed run stops the API and worker it started too.
  for (const child of spawned) child.kill('SIGTERM');
  process.exit(1);
});

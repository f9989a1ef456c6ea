// Workflow benchmark (issue 18, items 2 and 6): Modelgate's promotion workflow against a floor
// doing the same work, and N promotions parked in review on one production worker. Run with
// `./scripts/bench.sh workflow`; writes bench/results/workflow-<commit>.json (bench/results.ts).
// Options: --promotions N (per side, default 200) --block N (default 25) --concurrency C (default 4)
//          --warmup N (default 4) --parked N (default 10000) --park-concurrency C (default 16)
//          --parked-decisions N (default 50) --queue-reads N (default 20)
//          --parked-workers split|one (default split: the promotions worker and a checks worker, as
//          deploy/kubernetes runs them; one: a single WORKER_ROLE=all worker)
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startBenchRecord } from '../results';
import { choiceOption, numericOption } from '../support';
import { DEFAULT_WORKFLOW_BENCH_OPTIONS as D, runWorkflowBenchmark, type WorkflowBenchOptions } from './benchmark';

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const options: WorkflowBenchOptions = {
    promotionsPerSide: numericOption('promotions', D.promotionsPerSide),
    blockSize: numericOption('block', D.blockSize),
    concurrency: numericOption('concurrency', D.concurrency),
    warmup: numericOption('warmup', D.warmup),
    parked: numericOption('parked', D.parked),
    parkConcurrency: numericOption('park-concurrency', D.parkConcurrency),
    parkedDecisions: numericOption('parked-decisions', D.parkedDecisions),
    queueReads: numericOption('queue-reads', D.queueReads),
    parkedWorkers: choiceOption('parked-workers', ['split', 'one'] as const, 'split'),
  };
  const record = startBenchRecord('workflow', { ...options });
  const results = await runWorkflowBenchmark({
    ...options,
    ...(process.env.MODELGATE_BENCH_RUN_DIR ? { servicesRunDir: process.env.MODELGATE_BENCH_RUN_DIR } : {}),
    log: (line) => console.log(line),
  });
  const { comparison: c, parked: p } = results;
  if (c) {
    const side = (name: string, s: typeof c.modelgate) =>
      `${name}: p50 ${s.latency.p50Ms} ms, p95 ${s.latency.p95Ms} ms, worker CPU ${s.cpuSecondsPerPromotion.worker} s/promotion`;
    console.log(`comparison (${c.promotionsPerSide} per side, blocks ${c.blockOrder}, cache ${c.maxCachedWorkflows}):`);
    console.log(`  ${side('Modelgate', c.modelgate)}\n  ${side('floor', c.floor)}\n  ratio p50 ${c.ratio.p50}, p95 ${c.ratio.p95}`);
  }
  if (p) {
    console.log(`parked (${p.promotions} in review, cache ${p.maxCachedWorkflows}): ${p.workerRole} worker RSS idle ${p.workerRssMb.idle} MB, parked ${p.workerRssMb.parked} MB, peak ${p.workerRssMb.peak} MB`);
    if (p.checksWorkerRssMb) console.log(`  checks worker RSS parked ${p.checksWorkerRssMb.parked} MB, peak ${p.checksWorkerRssMb.peak} MB`);
    console.log(`  decision on a cached promotion p50 ${p.decisionOnCached.p50Ms} ms, p95 ${p.decisionOnCached.p95Ms} ms (${p.stickyCacheMissesOnCached} sticky-cache misses)`);
    console.log(`  decision on an evicted promotion p50 ${p.decisionOnEvicted.p50Ms} ms, p95 ${p.decisionOnEvicted.p95Ms} ms (${p.stickyCacheMisses} sticky-cache misses)`);
    console.log(`  review queue p50 ${p.reviewQueue.p50Ms} ms, p95 ${p.reviewQueue.p95Ms} ms (${p.reviewQueue.entries} entries${p.reviewQueue.truncated ? ', truncated' : ''})`);
  }
  console.log(`results: ${await record.finish(results)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

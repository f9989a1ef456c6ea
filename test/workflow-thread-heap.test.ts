// The workflow thread's heap bound (WORKER_WORKFLOW_HEAP_MB): read from the environment with a
// default that grows with the sticky cache, and applied to the isolates created after it is set
// (the SDK's workflow thread), not to the main thread's heap.
import { getHeapStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { ConfigError, defaultWorkflowHeapMb, loadConfig } from '../src/config';
import { limitWorkflowThreadHeap } from '../src/worker';

const valid = { DATABASE_URL: 'postgres://u@localhost:5432/db' };
const MB = 1024 * 1024;

/** The heap limit of a worker thread started now, in MB (old generation plus young generation). */
function threadHeapLimitMb(): Promise<number> {
  return new Promise((resolve, reject) => {
    const thread = new Worker(`require('node:worker_threads').parentPort.postMessage(require('node:v8').getHeapStatistics().heap_size_limit)`, { eval: true });
    thread.once('message', (limit: number) => void thread.terminate().then(() => resolve(limit / MB)));
    thread.once('error', reject);
  });
}

describe('the workflow thread heap bound', () => {
  it('defaults to 128 MB and 2 MB per cached promotion; WORKER_WORKFLOW_HEAP_MB overrides it; a bound under 64 MB is refused by name', () => {
    expect(loadConfig(valid).worker.workflowHeapMb).toBe(128 + 2 * 20);
    expect(loadConfig({ ...valid, WORKER_MAX_CACHED_WORKFLOWS: '100' }).worker.workflowHeapMb).toBe(defaultWorkflowHeapMb(100));
    expect(defaultWorkflowHeapMb(100)).toBe(328);
    expect(loadConfig({ ...valid, WORKER_WORKFLOW_HEAP_MB: '512' }).worker.workflowHeapMb).toBe(512);
    let error: ConfigError | undefined;
    try {
      loadConfig({ ...valid, WORKER_WORKFLOW_HEAP_MB: '16' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error?.problems).toEqual([expect.objectContaining({ variable: 'WORKER_WORKFLOW_HEAP_MB', reason: expect.stringMatching(/at least 64/) })]);
  });

  it('bounds the heap of a thread started after it is set, and leaves the main thread as it was', async () => {
    const mainBefore = getHeapStatistics().heap_size_limit / MB;
    const bound = defaultWorkflowHeapMb(20);
    limitWorkflowThreadHeap(bound);
    const limit = await threadHeapLimitMb();
    // The old generation at the bound, plus a young generation of at most 64 MB.
    expect(limit).toBeGreaterThanOrEqual(bound);
    expect(limit).toBeLessThanOrEqual(bound + 64);
    expect(getHeapStatistics().heap_size_limit / MB).toBe(mainBefore);
  });
});

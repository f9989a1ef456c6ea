// Memory probe of a worker process, preloaded into it: `NODE_OPTIONS="--expose-gc --require
// ./bench/workflow/thread-memory.js" MODELGATE_BENCH_THREAD_MEMORY=<file>` (with the parked phase of
// `./scripts/bench.sh workflow`, or any worker). Every second, in each thread whose V8 heap exceeds
// 20 MB (the workflow thread, which the SDK runs in a worker thread, and the main thread), it appends
// one JSON line to <file>: the heap in use right after a full garbage collection in the workflow
// thread (what the workflows really retain), the heap V8 holds, the memory V8 holds outside the heap
// by malloc (the optimizing compiler's working memory among it), and the process's RSS. A workflow
// thread whose `usedAfterGcMb` grows with the promotions run retains them; RSS that grows while
// `usedAfterGcMb` stays flat is memory outside the JavaScript heap.
'use strict';
const { isMainThread, threadId } = require('node:worker_threads');
const { appendFileSync } = require('node:fs');
const v8 = require('node:v8');

const file = process.env.MODELGATE_BENCH_THREAD_MEMORY;
const mb = (bytes) => Math.round((bytes / 1048576) * 10) / 10;
if (file) {
  setInterval(() => {
    // A full collection only where the workflows run: the main thread's own pauses stay as they are.
    const collected = !isMainThread && typeof globalThis.gc === 'function';
    if (collected) globalThis.gc();
    const heap = v8.getHeapStatistics();
    if (heap.used_heap_size < 20 * 1048576) return;
    appendFileSync(file, `${JSON.stringify({
      at: new Date().toISOString(),
      pid: process.pid,
      thread: threadId,
      [collected ? 'usedAfterGcMb' : 'usedMb']: mb(heap.used_heap_size),
      heapMb: mb(heap.total_heap_size),
      mallocedMb: mb(heap.malloced_memory),
      peakMallocedMb: mb(heap.peak_malloced_memory),
      contexts: heap.number_of_native_contexts,
      rssMb: mb(process.memoryUsage.rss()),
    })}\n`);
  }, 1000).unref();
}

/**
 * The node flags every launcher of the worker passes before `dist/worker.js` (Kubernetes,
 * docker-compose, `scripts/start.sh`, `npm run start:worker`, the tests and the benchmarks; a test
 * keeps them identical). Unbounded, V8 sizes the main thread's heap for the machine's memory (4 GB
 * on 24 GiB) and lets it grow fourfold between collections, and gives each thread young generations
 * of 16 MB semispaces: with 300 promotions parked the promotions worker had RSS 297–380 MB
 * (two runs), 218 MB with these flags. 256 MB is far above what the main thread retains (its
 * activities stream the artifacts); the workflow thread gets its own bound
 * (`WORKER_WORKFLOW_HEAP_MB`). The semispaces of 2 MB cost more frequent young collections (the 300
 * were parked in 73 s instead of 67–69 s).
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--max-old-space-size=256', '--max-semi-space-size=2'];

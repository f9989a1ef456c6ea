import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflows } from './worker';

/** Where the build writes the prebuilt workflow bundle the worker loads. */
export const WORKFLOW_BUNDLE_PATH = path.resolve(__dirname, 'workflow-bundle.js');

/**
 * Build step (`npm run build`): bundles the workflow code once, so a worker process
 * never runs webpack (faster start, a smaller resident set).
 */
async function main(): Promise<void> {
  const bundle = await bundleWorkflows();
  await writeFile(WORKFLOW_BUNDLE_PATH, bundle.code);
  process.stdout.write(`workflow bundle: ${path.relative(process.cwd(), WORKFLOW_BUNDLE_PATH)} (${(bundle.code.length / 1024).toFixed(0)} KiB)\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`bundling the workflows failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

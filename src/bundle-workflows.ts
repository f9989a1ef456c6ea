import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { WORKFLOW_BUNDLE_FILES, bundleWorkflows } from './worker';

/** Where the build writes the prebuilt workflow bundle the worker loads. */
export const WORKFLOW_BUNDLE_PATH = path.resolve(__dirname, WORKFLOW_BUNDLE_FILES.plain);

/** Where the build writes the bundle with the tracing interceptors, loaded when traces are on (OTEL_TRACES_EXPORTER). */
export const TRACED_WORKFLOW_BUNDLE_PATH = path.resolve(__dirname, WORKFLOW_BUNDLE_FILES.traced);

/**
 * Build step (`npm run build`): bundles the workflow code once (plain, and traced), so a worker
 * process never runs webpack (faster start, a smaller resident set).
 */
async function main(): Promise<void> {
  for (const [file, traced] of [[WORKFLOW_BUNDLE_PATH, false], [TRACED_WORKFLOW_BUNDLE_PATH, true]] as const) {
    const bundle = await bundleWorkflows({ traced });
    await writeFile(file, bundle.code);
    process.stdout.write(`workflow bundle: ${path.relative(process.cwd(), file)} (${(bundle.code.length / 1024).toFixed(0)} KiB)\n`);
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`bundling the workflows failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

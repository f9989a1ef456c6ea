import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { bundleWorkflows } from '../src/worker';

const silent = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe('workflow bundle', () => {
  it('the real workflow code bundles', async () => {
    const bundle = await bundleWorkflows();
    expect(bundle.code).toContain('StackSelfTestWorkflow');
  });

  it.each([['node:fs'], ['fs'], ['child_process']])(
    'fails when workflow code imports the Node built-in %s',
    async (builtin) => {
      const dir = await mkdtemp(path.join(__dirname, '..', '.data', 'bundle-'));
      try {
        const file = path.join(dir, 'workflows.ts');
        await writeFile(
          file,
          `import * as m from '${builtin}';\nexport async function Uses(): Promise<string> { return typeof m; }\n`,
        );
        const errors: string[] = [];
        const failure = await bundleWorkflowCode({
          workflowsPath: file,
          logger: { ...silent, error: (m: string) => errors.push(m) },
        }).then(
          () => undefined,
          (err: Error) => err,
        );
        expect(failure).toBeInstanceOf(Error);
        // The module is named, in the error or in what the bundler logged.
        expect([failure!.message, ...errors].join('\n')).toMatch(new RegExp(`['"]${builtin}['"]|'${builtin.replace('node:', '')}'`));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});

import path from 'node:path';
import { DeterminismViolationError } from '@temporalio/workflow';
import { bundleWorkflowCode, Worker, type WorkflowBundle } from '@temporalio/worker';
import { bundleWorkflows } from '../src/worker';
import { loadRecordedHistories, type RecordedHistory } from './support/histories';

/**
 * Replays every recorded history in test/histories against the current workflow
 * code. A failure means a workflow change would break running promotions: guard it
 * with `patched()` (and record a new history), never edit the recorded files.
 */
describe('replay of recorded histories', () => {
  let bundle: WorkflowBundle;
  let histories: RecordedHistory[];

  beforeAll(async () => {
    bundle = await bundleWorkflows();
    histories = await loadRecordedHistories();
  });

  it('there are recorded histories to replay', () => {
    expect(histories.length).toBeGreaterThan(0);
  });

  it('every recorded history replays without a determinism violation', async () => {
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: bundle },
      histories.map((h) => ({ workflowId: h.workflowId, history: h.history })),
    )) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  });

  it('the harness catches a non-deterministic change (a timer added before the activity)', async () => {
    const changed = await bundleWorkflowCode({
      workflowsPath: path.join(__dirname, 'fixtures', 'workflows', 'stack-self-test-changed.ts'),
      logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    const selfTest = histories.find((h) => h.name.startsWith('stack-self-test'));
    expect(selfTest).toBeDefined();
    await expect(
      Worker.runReplayHistory({ workflowBundle: changed }, selfTest!.history, selfTest!.workflowId),
    ).rejects.toThrow(DeterminismViolationError);
  });
});

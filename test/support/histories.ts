import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyFromJSON, historyToJSON, type History } from '@temporalio/common/lib/proto-utils';

/** Folder of the recorded workflow histories committed to the repo. */
export const HISTORIES_DIR = path.resolve(__dirname, '..', 'histories');

/** True when the run should (re)record histories: `MODELGATE_RECORD_HISTORIES=1`. */
export const recordingHistories = process.env.MODELGATE_RECORD_HISTORIES === '1';

/**
 * Saves the history of a finished workflow as `test/histories/<name>.json`
 * when recording is on; otherwise does nothing. Recorded files are replayed
 * by test/replay.test.ts against the current workflow code.
 */
export async function recordHistory(name: string, handle: WorkflowHandle): Promise<void> {
  if (!recordingHistories) return;
  const history = await handle.fetchHistory();
  await mkdir(HISTORIES_DIR, { recursive: true });
  await writeFile(path.join(HISTORIES_DIR, `${name}.json`), historyToJSON(history) + '\n');
}

/** A recorded history and the workflow id it is replayed under. */
export interface RecordedHistory {
  name: string;
  workflowId: string;
  history: History;
}

/** Loads every recorded history (Temporal's JSON history format, as `temporal workflow show -o json`). */
export async function loadRecordedHistories(): Promise<RecordedHistory[]> {
  const files = (await readdir(HISTORIES_DIR)).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (file) => ({
      name: file.replace(/\.json$/, ''),
      workflowId: file.replace(/\.json$/, ''),
      history: historyFromJSON(JSON.parse(await readFile(path.join(HISTORIES_DIR, file), 'utf8'))),
    })),
  );
}

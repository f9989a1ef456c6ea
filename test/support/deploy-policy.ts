import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';

/** A policy document as YAML gives it, for tests to change. */
export interface EditablePolicy {
  name: string;
  environments: Record<string, unknown>;
  overrides: Record<string, unknown>;
  [key: string]: unknown;
}

/**
 * Writes a copy of the workflow-test policy with changes (deployment providers, validity,
 * rollback roles, …) into a folder of its own, and returns the file's path.
 */
export async function writeTestPolicy(changes: (policy: EditablePolicy) => void): Promise<string> {
  const base = parse(await readFile(path.join(__dirname, '..', 'fixtures', 'policies', 'workflow-test.yaml'), 'utf8')) as EditablePolicy;
  changes(base);
  const dir = await mkdtemp(path.join(tmpdir(), 'modelgate-policy-'));
  const file = path.join(dir, `${base.name}.yaml`);
  await writeFile(file, stringify(base));
  return file;
}

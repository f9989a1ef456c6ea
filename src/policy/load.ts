import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { describeIssues, type InputProblem } from '../manifest/schema';
import { type Policy, PolicySchema } from './schema';

/** A policy as loaded from a file, with what identifies the exact content. */
export interface LoadedPolicy {
  policy: Policy;
  /** sha256 (hex) of the file's bytes. */
  digest: string;
  file: string;
}

/**
 * Thrown when a policy file cannot be read, is not YAML, or does not match the schema.
 * `problems` name the path inside the file and the reason.
 */
export class PolicyLoadError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ReadonlyArray<InputProblem>,
  ) {
    super(`invalid policy ${file}:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
    this.name = 'PolicyLoadError';
  }
}

/** Parses and validates policy text; `file` names it in errors. */
export function parsePolicy(text: string, file: string): LoadedPolicy {
  const document = parseDocument(text, { uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new PolicyLoadError(
      file,
      document.errors.map((e) => ({
        path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '(file)',
        message: e.message.split('\n')[0]!,
      })),
    );
  }
  const parsed = PolicySchema.safeParse(document.toJS());
  if (!parsed.success) throw new PolicyLoadError(file, describeIssues(parsed.error));
  return { policy: parsed.data, digest: createHash('sha256').update(text).digest('hex'), file };
}

/** Reads, parses and validates one policy file. */
export async function loadPolicyFile(file: string): Promise<LoadedPolicy> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new PolicyLoadError(file, [{ path: '(file)', message: `cannot be read: ${(err as Error).message}` }]);
  }
  return parsePolicy(text, file);
}

/**
 * Loads every `*.yaml` / `*.yml` policy of a folder, keyed by policy name.
 * Two files with the same policy name are an error.
 */
export async function loadPolicyDir(dir: string): Promise<Map<string, LoadedPolicy>> {
  let entries: string[];
  try {
    entries = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  } catch (err) {
    throw new PolicyLoadError(dir, [{ path: '(folder)', message: `cannot be read: ${(err as Error).message}` }]);
  }
  const byName = new Map<string, LoadedPolicy>();
  for (const entry of entries) {
    const loaded = await loadPolicyFile(path.join(dir, entry));
    const existing = byName.get(loaded.policy.name);
    if (existing) {
      throw new PolicyLoadError(loaded.file, [
        { path: 'name', message: `policy "${loaded.policy.name}" is also defined in ${existing.file}` },
      ]);
    }
    byName.set(loaded.policy.name, loaded);
  }
  return byName;
}

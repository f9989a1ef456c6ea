import { createHash } from 'node:crypto';
import type { FileDigest } from '../digest';
import { type JsonObject, arrayField, isObject, objectField, parseBoundedObject, stringField } from './json';
import { OMS_LIMITS, OmsRefusal } from './refusal';

/** The in-toto statement type an OMS envelope carries. */
export const IN_TOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
/** The predicate type of `model-signing` v1.0 statements. */
export const OMS_PREDICATE_TYPE = 'https://model_signing/signature/v1.0';

/** The signed statement, read and checked for consistency. */
export interface OmsStatement {
  /** The model's name as signed (informative only; `model-signing` takes it from the folder name). */
  modelName: string;
  /** The subject's sha256: sha256 over the listed file digests, in the listed order. */
  rootDigest: string;
  /** Listed files: relative path → sha256 (hex). */
  resources: Map<string, string>;
  /** Paths the signer left out (relative to the model root). */
  ignorePaths: string[];
  allowSymlinks: boolean;
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Why a path named by a statement is unsafe or malformed, or `undefined`: empty, absolute, with a
 * `.`/`..`/empty segment, a backslash, a control character, or longer than the limit.
 */
export function pathProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.length > OMS_LIMITS.pathCharacters) return `is longer than ${OMS_LIMITS.pathCharacters} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'contains a control character';
  if (name.includes('\\')) return 'contains a backslash';
  if (name.startsWith('/')) return 'is absolute';
  if (name.split('/').some((s) => s === '' || s === '.' || s === '..')) return 'has an empty, "." or ".." segment';
  return undefined;
}

/** A path for a message: JSON-quoted and cut to 200 characters. */
export function quotedPath(name: string): string {
  return JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name);
}

/**
 * Reads the statement of a verified envelope: an in-toto v1 statement with the model-signing
 * v1.0 predicate, one subject, serialization by files with sha256, and a bounded list of safe,
 * distinct paths whose digests hash to the subject's digest. `single` is true for a one-file
 * artifact, which `model-signing` lists as the one resource `"."`. Throws {@link OmsRefusal}.
 */
export function readOmsStatement(payload: Buffer, single: boolean): OmsStatement {
  const statement = parseBoundedObject(payload.toString('utf8'), 'the signed statement', 'statement_malformed');
  if (statement._type !== IN_TOTO_STATEMENT_TYPE) throw new OmsRefusal('statement_unsupported', `the statement's _type is not ${IN_TOTO_STATEMENT_TYPE}`);
  if (statement.predicateType !== OMS_PREDICATE_TYPE) {
    throw new OmsRefusal('statement_unsupported', `the statement's predicateType is not ${OMS_PREDICATE_TYPE} (earlier model-signing formats are not accepted)`);
  }
  const subjects = arrayField(statement, 'subject', 'statement', 'statement_malformed', 1);
  if (subjects.length !== 1 || !isObject(subjects[0])) throw new OmsRefusal('statement_malformed', 'the statement must have exactly one subject');
  const subject: JsonObject = subjects[0];
  const modelName = typeof subject.name === 'string' ? subject.name.slice(0, 200) : '';
  const rootDigest = stringField(objectField(subject, 'digest', 'statement.subject[0]', 'statement_malformed'), 'sha256', 'statement.subject[0].digest', 'statement_malformed', 64);
  if (!HEX64.test(rootDigest)) throw new OmsRefusal('statement_malformed', 'the subject\'s sha256 digest is not 64 lowercase hexadecimal characters');

  const predicate = objectField(statement, 'predicate', 'statement', 'statement_malformed');
  const serialization = objectField(predicate, 'serialization', 'predicate', 'statement_malformed');
  const method = serialization.method;
  if (method !== 'files') {
    throw new OmsRefusal('statement_unsupported', method === 'shards' ? 'the model was signed by shards (serialization method "shards"); only serialization by files is verified' : 'the serialization method is not "files"');
  }
  if (serialization.hash_type !== 'sha256') {
    throw new OmsRefusal('unsupported_hash_algorithm', `the serialization's hash_type is ${typeof serialization.hash_type === 'string' && /^[a-z0-9-]{1,20}$/.test(serialization.hash_type) ? `"${serialization.hash_type}"` : 'not a known algorithm'}; only sha256 is verified`);
  }
  if (typeof serialization.allow_symlinks !== 'boolean') throw new OmsRefusal('statement_malformed', 'the serialization\'s allow_symlinks is not a boolean');
  const ignorePaths: string[] = [];
  if (serialization.ignore_paths !== undefined) {
    for (const entry of arrayField(serialization, 'ignore_paths', 'serialization', 'statement_malformed', OMS_LIMITS.ignorePaths)) {
      if (typeof entry !== 'string') throw new OmsRefusal('statement_malformed', 'an ignore_paths entry is not a string');
      const trimmed = entry.replace(/\/+$/, '');
      const problem = pathProblem(trimmed);
      if (problem) throw new OmsRefusal('bad_path', `an ignore_paths entry ${problem}`);
      ignorePaths.push(trimmed);
    }
  }

  const listed = arrayField(predicate, 'resources', 'predicate', 'statement_malformed', OMS_LIMITS.resources, 'too_many_files');
  if (listed.length === 0) throw new OmsRefusal('statement_malformed', 'the statement lists no file');
  const resources = new Map<string, string>();
  const root = createHash('sha256');
  for (const [i, entry] of listed.entries()) {
    if (!isObject(entry)) throw new OmsRefusal('statement_malformed', `resource ${i + 1} is not an object`);
    const name = stringField(entry, 'name', `resources[${i}]`, 'statement_malformed', OMS_LIMITS.pathCharacters + 1);
    const algorithm = entry.algorithm;
    if (algorithm !== 'sha256') throw new OmsRefusal('unsupported_hash_algorithm', `resource ${i + 1} is hashed with an algorithm other than sha256`);
    const digest = stringField(entry, 'digest', `resources[${i}]`, 'statement_malformed', 64);
    if (!HEX64.test(digest)) throw new OmsRefusal('statement_malformed', `resource ${i + 1}'s digest is not 64 lowercase hexadecimal characters`);
    if (single ? name !== '.' : pathProblem(name) !== undefined) {
      throw new OmsRefusal('bad_path', single ? `resource ${i + 1} is not "." (a one-file model is listed as ".")` : `resource ${i + 1}'s path ${pathProblem(name)!}`);
    }
    if (resources.has(name)) throw new OmsRefusal('duplicate_entry', `${quotedPath(name)} is listed more than once`);
    resources.set(name, digest);
    root.update(Buffer.from(digest, 'hex'));
  }
  if (root.digest('hex') !== rootDigest) {
    throw new OmsRefusal('root_digest_inconsistent', 'the listed file digests do not hash to the subject\'s root digest');
  }
  return { modelName, rootDigest, resources, ignorePaths, allowSymlinks: serialization.allow_symlinks };
}

/** True when `relativePath` is an ignored path or lies under one (as `model-signing` ignores them). */
export function isIgnored(relativePath: string, ignorePaths: string[]): boolean {
  return ignorePaths.some((p) => relativePath === p || relativePath.startsWith(`${p}/`));
}

/** How the artifact's files compare with the statement. */
export interface FileComparison {
  changed: string[];
  unlisted: string[];
  missing: string[];
  /** Files present that the signature leaves out (ignored paths, the bundle itself). */
  uncovered: string[];
}

/**
 * Compares the artifact's files with the statement's list: every file present outside the
 * ignored paths must be listed, every listed file present, and every listed digest the file's.
 * `excluded` holds files that are never compared (the bundle file itself).
 */
export function compareFiles(statement: OmsStatement, files: FileDigest[], single: boolean, excluded: string[] = []): FileComparison {
  const result: FileComparison = { changed: [], unlisted: [], missing: [], uncovered: [] };
  if (single) {
    const digest = statement.resources.get('.');
    if (digest !== files[0]!.sha256) result.changed.push(files[0]!.relativePath);
    return result;
  }
  const present = new Map<string, string>();
  for (const file of files) {
    if (excluded.includes(file.relativePath)) {
      result.uncovered.push(file.relativePath);
      continue;
    }
    present.set(file.relativePath, file.sha256);
  }
  for (const [name, digest] of present) {
    const listed = statement.resources.get(name);
    if (listed === undefined) {
      if (isIgnored(name, statement.ignorePaths)) result.uncovered.push(name);
      else result.unlisted.push(name);
    } else if (listed !== digest) result.changed.push(name);
  }
  for (const name of statement.resources.keys()) if (!present.has(name)) result.missing.push(name);
  return result;
}

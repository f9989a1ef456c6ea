import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { httpFileName, listLocalDirectory, openDocumentSource, openHttpSource, openLocalFile, openLocalSource } from '../sources/read';
import { type SourceRules, SourceRefusal, SourceUnavailable, sourceRules } from '../sources/rules';
import { MlflowError, isPassingMlflowError } from '../sources/mlflow';
import { mlflowModelOf } from '../manifest/schema';
import { type ArtifactDigest, digestArtifact } from './digest';
import { CheckInputError, TransientCheckError, errorMessage } from './errors';
import { type ProgressReporter, noProgress } from './progress';

/** One regular file of an artifact, with its path relative to the artifact root ("/"-separated). */
export interface ArtifactFile {
  relativePath: string;
  absolutePath: string;
  size: number;
}

/** An artifact available on the local disk: one file, or a directory of files. */
export interface LocalArtifact {
  kind: 'file' | 'directory';
  /** The file itself, or the directory. */
  root: string;
  /** Regular files, sorted by relative path (code-point order, as model-transparency sorts). */
  files: ArtifactFile[];
  /** Symbolic links and special files found in a directory artifact (relative paths); never followed or copied. */
  symlinks: string[];
  /** Removes the staged copy (a no-op for artifacts read in place). */
  cleanup: () => Promise<void>;
  /** How findings name a single-file artifact (default: its path); a staged copy is named by its file name. */
  displayName?: string;
}

/** How a check reads its sources. */
export interface SourceOptions {
  /** Where sources may come from and how much of them (ARTIFACT_ROOTS, ARTIFACT_HOSTS, limits). */
  sources: SourceRules;
  progress?: ProgressReporter;
  /** Aborts a download (the activity's cancellation). */
  signal?: AbortSignal;
}

/** Compares strings by Unicode code point (UTF-8 byte order), as Python sorts `str`. */
export function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Runs a source read and turns the sources layer's errors into the checks' own: a refused or
 * unreadable source is a {@link CheckInputError} naming the rule, a passing failure a
 * {@link TransientCheckError} (retried).
 */
export async function asCheckErrors<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof SourceRefusal) throw new CheckInputError(`source refused (${err.rule}): ${err.message}`, err.field);
    if (err instanceof SourceUnavailable) throw new TransientCheckError(err.message);
    throw err;
  }
}

/**
 * Lists a local directory or file the user named on their own machine (the CLI's `scan`),
 * in place and without the sources' rules.
 */
export async function localArtifact(filePath: string): Promise<LocalArtifact> {
  let info;
  try {
    info = await lstat(filePath);
  } catch (err) {
    throw new CheckInputError(`artifact path ${filePath} cannot be read: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`, filePath);
  }
  if (info.isSymbolicLink()) info = await stat(filePath).catch(() => undefined);
  if (info?.isDirectory()) {
    // The directory itself is the only root: nothing outside it is listed, no symlink followed.
    const listing = await listLocalDirectory(filePath, sourceRules([filePath], ''), 'artifact').catch((err: unknown) => {
      throw new CheckInputError(`artifact directory ${filePath} cannot be listed: ${errorMessage(err)}`, filePath);
    });
    const files = await Promise.all(
      listing.files.map(async (relativePath) => {
        const absolutePath = path.join(filePath, relativePath);
        return { relativePath, absolutePath, size: (await stat(absolutePath)).size };
      }),
    );
    return { kind: 'directory', root: filePath, files: sortFiles(files), symlinks: [...listing.symlinks, ...listing.others].sort(compareCodePoints), cleanup: async () => undefined };
  }
  if (!info?.isFile()) throw new CheckInputError(`artifact path ${filePath} is not a regular file or directory`, filePath);
  return {
    kind: 'file',
    root: filePath,
    files: [{ relativePath: path.basename(filePath), absolutePath: filePath, size: info.size }],
    symlinks: [],
    cleanup: async () => undefined,
  };
}

function sortFiles(files: ArtifactFile[]): ArtifactFile[] {
  return files.sort((a, b) => compareCodePoints(a.relativePath, b.relativePath));
}

/** Writes a stream into a new file, counting bytes against the artifact's limit. */
async function writeStaged(body: Readable, target: string, budget: { remaining: number; copied: number }, progress: ProgressReporter, field: string): Promise<number> {
  let bytes = 0;
  body.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    budget.copied += chunk.length;
    budget.remaining -= chunk.length;
    if (budget.remaining < 0) body.destroy(new SourceRefusal('too-large', `${field}: the artifact is larger than the limit`, field));
    progress({ stage: 'copy', bytes: budget.copied });
  });
  await pipeline(body, createWriteStream(target, { flags: 'wx', mode: 0o600 }));
  return bytes;
}

/**
 * Fetches an artifact once into a staging folder of its own under `stagingParent`: an
 * `http(s)://` source is downloaded, a `file://` source (one file or a directory's regular files)
 * copied. Every later read (the digest, the scanner, the store) sees these bytes and no others,
 * so a source that answers two readers differently cannot pass. Refused sources throw
 * {@link CheckInputError} naming the rule; passing failures {@link TransientCheckError}.
 */
export async function stageArtifact(uri: string, stagingParent: string, options: SourceOptions): Promise<LocalArtifact> {
  const { sources } = options;
  const progress = options.progress ?? noProgress;
  const field = 'artifact.uri';
  await mkdir(stagingParent, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(path.join(stagingParent, 'staging-'));
  const cleanup = () => removeTree(dir);
  const budget = { remaining: sources.maxArtifactBytes, copied: 0 };
  try {
    return await asCheckErrors(async (): Promise<LocalArtifact> => {
      if (/^https?:\/\//i.test(uri)) {
        const target = path.join(dir, 'content', httpFileName(uri));
        await mkdir(path.dirname(target));
        const size = await writeStaged(await openHttpSource(uri, sources, field, { maxBytes: sources.maxArtifactBytes, ...(options.signal ? { signal: options.signal } : {}) }), target, budget, progress, field);
        return { kind: 'file', root: target, files: [{ relativePath: path.basename(target), absolutePath: target, size }], symlinks: [], cleanup, displayName: path.basename(target) };
      }
      const mlflowModel = mlflowModelOf(uri);
      if (mlflowModel) return await stageMlflowVersion(mlflowModel, path.join(dir, 'content'), options, budget, cleanup);
      if (!uri.startsWith('file://')) throw new SourceRefusal('scheme', `${field}: only file://, http:// and https:// sources are allowed`, field);
      const source = await openLocalSource(uri, sources, field);
      if (source.kind === 'file') {
        const target = path.join(dir, 'content', path.basename(source.file.realPath).slice(0, 200) || 'artifact');
        await mkdir(path.dirname(target));
        if (source.file.size > sources.maxArtifactBytes) {
          await source.file.handle.close();
          throw new SourceRefusal('too-large', `${field}: the artifact is larger than the limit of ${sources.maxArtifactBytes} bytes`, field);
        }
        const size = await writeStaged(source.file.handle.createReadStream({ end: Math.max(0, source.file.size - 1) }), target, budget, progress, field);
        return { kind: 'file', root: target, files: [{ relativePath: path.basename(target), absolutePath: target, size }], symlinks: [], cleanup, displayName: path.basename(target) };
      }
      const root = path.join(dir, 'content');
      const listing = await listLocalDirectory(source.realPath, sources, field);
      const files: ArtifactFile[] = [];
      for (const relativePath of listing.files) {
        const opened = await openLocalFile(path.join(source.realPath, relativePath), sources, `${field} (file ${files.length + 1} of the directory)`);
        const target = path.join(root, relativePath);
        await mkdir(path.dirname(target), { recursive: true });
        const size = await writeStaged(opened.handle.createReadStream({ end: Math.max(0, opened.size - 1) }), target, budget, progress, field);
        files.push({ relativePath, absolutePath: target, size });
      }
      await mkdir(root, { recursive: true });
      return { kind: 'directory', root, files: sortFiles(files), symlinks: [...listing.symlinks, ...listing.others].sort(compareCodePoints), cleanup };
    });
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * Downloads every file of an MLflow model version through the configured tracking server's
 * artifact proxy into `root` (a directory artifact), one file at a time and streamed to disk, under
 * the same bounds as any artifact: total size, file count, depth, safe path segments, time.
 */
async function stageMlflowVersion(
  { model, version }: { model: string; version: string },
  root: string,
  options: SourceOptions,
  budget: { remaining: number; copied: number },
  cleanup: () => Promise<void>,
): Promise<LocalArtifact> {
  const field = 'artifact.uri';
  const client = options.sources.mlflow;
  if (!client) throw new SourceRefusal('scheme', `${field}: models:/ artifacts need an MLflow tracking server (MLFLOW_TRACKING_URI is not set on the worker)`, field);
  const progress = options.progress ?? noProgress;
  await asMlflowSourceErrors(async () => {
    const found = await client.getModelVersion(model, version);
    if (found.status && found.status !== 'READY') throw new SourceUnavailable(`${field}: MLflow version ${version} of ${model} is ${found.status}, not READY`);
  });
  const { root: remoteRoot, files: listed } = await asMlflowSourceErrors(() => client.listVersionFiles(model, version));
  const declared = listed.reduce((sum, f) => sum + (f.size ?? 0), 0);
  if (declared > options.sources.maxArtifactBytes) throw new SourceRefusal('too-large', `${field}: the MLflow version is larger than the limit of ${options.sources.maxArtifactBytes} bytes`, field);
  const files: ArtifactFile[] = [];
  await mkdir(root, { recursive: true });
  for (const file of listed) {
    const target = path.join(root, ...file.relativePath.split('/'));
    // Segments were checked by the client; the joined path must still be inside the root.
    if (path.relative(root, target).startsWith('..')) throw new SourceRefusal('dot-segments', `${field}: an MLflow artifact path leaves the version's folder`, field);
    await mkdir(path.dirname(target), { recursive: true });
    const body = await asMlflowSourceErrors(() => client.openVersionFile(remoteRoot, file.relativePath, { maxBytes: Math.max(0, budget.remaining), ...(options.signal ? { signal: options.signal } : {}) }));
    const size = await writeStaged(body, target, budget, progress, field);
    files.push({ relativePath: file.relativePath, absolutePath: target, size });
  }
  return { kind: 'directory', root, files: sortFiles(files), symlinks: [], cleanup };
}

/** Turns the MLflow client's failures into the sources' errors (passing ones are retried). */
async function asMlflowSourceErrors<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof MlflowError) {
      if (isPassingMlflowError(err)) throw new SourceUnavailable(`artifact.uri: ${err.message}`);
      throw new SourceRefusal('http-status', `artifact.uri: ${err.message}`, 'artifact.uri');
    }
    throw err;
  }
}

/**
 * Names a verified copy in the store: `sha256/<digest>/<kind>-<listing>`, where `<digest>` is the
 * artifact's digest (a file's sha256 or a directory's root digest) and `<listing>` the sha256 of
 * its kind, file names and file digests. The root digest of a directory does not cover file names
 * (and a one-file directory's root digest is the sha256 of a 32-byte file), so the listing keeps
 * two artifacts with the same digest but other names or another kind apart.
 */
export function verifiedCopyName(digest: ArtifactDigest): string {
  const listing = createHash('sha256')
    .update(JSON.stringify([digest.kind, digest.files.map((f) => [f.relativePath, f.sha256])]))
    .digest('hex');
  return `sha256/${digest.sha256}/${digest.kind}-${listing}`;
}

const COPY_NAME = /^sha256\/([0-9a-f]{64})\/(file|directory)-([0-9a-f]{64})$/;

/**
 * Moves a staged artifact into the content-addressed store under {@link verifiedCopyName}
 * (read only), where deployments find exactly the bytes that were hashed and scanned. A copy
 * already there is kept only when it is still intact; an altered one is replaced.
 * Returns the copy's name (its path relative to the store).
 */
export async function keepVerifiedCopy(artifact: LocalArtifact, digest: ArtifactDigest, storeDir: string): Promise<string> {
  const name = verifiedCopyName(digest);
  const target = path.join(storeDir, name);
  await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
  const content = artifact.kind === 'file' ? path.dirname(artifact.root) : artifact.root;
  try {
    const existing = await checkVerifiedCopy(storeDir, name);
    if (existing === 'intact') return name;
    if (existing === 'altered') await removeTree(target);
    await makeReadOnly(content);
    await rename(content, target).catch(async (err: NodeJS.ErrnoException) => {
      // Another check run kept the same bytes first: theirs counts only if intact.
      if ((err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') || (await checkVerifiedCopy(storeDir, name)) !== 'intact') throw err;
    });
    return name;
  } finally {
    await artifact.cleanup();
  }
}

async function makeReadOnly(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await makeReadOnly(p);
    else await chmod(p, 0o444);
  }
  await chmod(dir, 0o555);
}

/** Removes a folder tree, read-only folders included (as a non-root user too). */
export async function removeTree(dir: string): Promise<void> {
  const writable = async (d: string): Promise<void> => {
    await chmod(d, 0o700).catch(() => undefined);
    for (const entry of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (entry.isDirectory()) await writable(path.join(d, entry.name));
    }
  };
  await writable(dir);
  await rm(dir, { recursive: true, force: true });
}

/** Folder artifacts are staged in when no store is configured (the CLI). */
export function defaultStagingParent(): string {
  return path.join(tmpdir(), 'modelgate-staging');
}

/**
 * Opens a document (evaluation file, model card) named by a `file://` or `http(s)://` URI as a
 * byte stream, under the sources' rules. Refusals throw {@link CheckInputError} naming the rule.
 */
export async function openDocumentStream(uri: string, field: string, options: SourceOptions): Promise<Readable> {
  return asCheckErrors(() => openDocumentSource(uri, options.sources, field, options.signal));
}

/**
 * Re-hashes a verified copy and tells whether it still is what its name says: the kind, the file
 * names and the file digests of the listing, and the artifact digest (a single file's sha256, or
 * a directory's root digest) — what a deployment checks before it hands the copy on. `missing`
 * when the store has no such copy; a malformed name is `altered`.
 */
export async function checkVerifiedCopy(storeDir: string, name: string): Promise<'intact' | 'missing' | 'altered'> {
  const parts = COPY_NAME.exec(name);
  if (!parts) return 'altered';
  const [, sha256, kind] = parts;
  const dir = path.join(storeDir, name);
  const exists = await stat(dir).then((s) => s.isDirectory(), () => false);
  if (!exists) return 'missing';
  const listed = await localArtifact(dir);
  if (listed.symlinks.length > 0 || (kind === 'file' && listed.files.length !== 1)) return 'altered';
  const digest = await digestArtifact(kind === 'file' ? { ...listed, kind: 'file', root: listed.files[0]!.absolutePath } : listed);
  return digest.sha256 === sha256 && verifiedCopyName(digest) === name ? 'intact' : 'altered';
}

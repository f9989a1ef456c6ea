import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
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
  /** Symbolic links found in a directory artifact (relative paths); never followed. */
  symlinks: string[];
  /** Removes what was downloaded (a no-op for file:// artifacts). */
  cleanup: () => Promise<void>;
}

/** Where relative `file://` URIs resolve and how remote reads are bounded. */
export interface SourceOptions {
  /** Directory that `file://relative/path` URIs resolve against (default: the working directory). */
  baseDir?: string;
  progress?: ProgressReporter;
  /** Time allowed to connect and between two received chunks of an HTTP body (default 30 s). */
  httpIdleTimeoutMs?: number;
  /** Largest HTTP body accepted (default 64 GiB). */
  maxDownloadBytes?: number;
}

/**
 * Turns a `file://` URI into a local path. `file:///abs/path` is absolute; the non-standard but
 * handy `file://relative/path` resolves against `baseDir`.
 */
export function fileUriToPath(uri: string, baseDir: string = process.cwd()): string {
  if (!uri.startsWith('file://')) throw new CheckInputError(`'${uri}' is not a file:// URI`, uri);
  const rest = uri.slice('file://'.length);
  if (rest.startsWith('/') || rest.startsWith('localhost/')) {
    try {
      return fileURLToPath(uri);
    } catch (err) {
      throw new CheckInputError(`'${uri}' is not a valid file URI: ${errorMessage(err)}`, uri);
    }
  }
  return path.resolve(baseDir, decodeURIComponent(rest));
}

/** Compares strings by Unicode code point (UTF-8 byte order), as Python sorts `str`. */
export function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

async function listDirectory(root: string): Promise<{ files: ArtifactFile[]; symlinks: string[] }> {
  const files: ArtifactFile[] = [];
  const symlinks: string[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const entry of entries) {
      const absolutePath = path.join(dir, entry.name);
      const relativePath = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isSymbolicLink()) symlinks.push(relativePath);
      else if (entry.isDirectory()) await walk(absolutePath, relativePath);
      else if (entry.isFile()) files.push({ relativePath, absolutePath, size: (await stat(absolutePath)).size });
    }
  };
  await walk(root, '');
  files.sort((a, b) => compareCodePoints(a.relativePath, b.relativePath));
  symlinks.sort(compareCodePoints);
  return { files, symlinks };
}

/** Reads a local file or directory artifact; throws {@link CheckInputError} when it is not there. */
export async function localArtifact(filePath: string): Promise<LocalArtifact> {
  let info;
  try {
    info = await lstat(filePath);
  } catch (err) {
    throw new CheckInputError(`artifact path ${filePath} cannot be read: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`, filePath);
  }
  if (info.isSymbolicLink()) info = await stat(filePath).catch(() => undefined);
  if (info?.isDirectory()) {
    const { files, symlinks } = await listDirectory(filePath).catch((err: unknown) => {
      throw new CheckInputError(`artifact directory ${filePath} cannot be listed: ${errorMessage(err)}`, filePath);
    });
    return { kind: 'directory', root: filePath, files, symlinks, cleanup: async () => undefined };
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

/**
 * Opens an HTTP(S) URI as a byte stream. 5xx, 408, 429, timeouts and network failures throw
 * {@link TransientCheckError} (worth retrying); other non-2xx statuses throw {@link CheckInputError}.
 * The stream errors with a {@link TransientCheckError} when no data arrives for the idle timeout.
 */
export async function openHttpStream(uri: string, options: SourceOptions = {}): Promise<Readable> {
  const idleMs = options.httpIdleTimeoutMs ?? 30_000;
  const controller = new AbortController();
  let timer = setTimeout(() => controller.abort(), idleMs);
  let response: Response;
  try {
    response = await fetch(uri, { signal: controller.signal, redirect: 'follow' });
  } catch (err) {
    clearTimeout(timer);
    throw new TransientCheckError(`cannot fetch ${uri}: ${controller.signal.aborted ? `no answer within ${idleMs} ms` : errorMessage(err)}`, uri);
  }
  if (!response.ok || !response.body) {
    clearTimeout(timer);
    await response.body?.cancel().catch(() => undefined);
    const message = `fetching ${uri} answered HTTP ${response.status}`;
    if (response.status >= 500 || response.status === 408 || response.status === 429) throw new TransientCheckError(message, uri);
    throw new CheckInputError(message, uri);
  }
  const maxBytes = options.maxDownloadBytes ?? 64 * 1024 ** 3;
  const body = response.body;
  async function* guarded(): AsyncGenerator<Buffer> {
    let received = 0;
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        clearTimeout(timer);
        timer = setTimeout(() => controller.abort(), idleMs);
        received += chunk.byteLength;
        if (received > maxBytes) throw new CheckInputError(`${uri} is larger than the limit of ${maxBytes} bytes`, uri);
        yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      }
    } catch (err) {
      if (err instanceof CheckInputError) throw err;
      throw new TransientCheckError(`reading ${uri} failed: ${controller.signal.aborted ? `no data for ${idleMs} ms` : errorMessage(err)}`, uri);
    } finally {
      clearTimeout(timer);
    }
  }
  return Readable.from(guarded(), { objectMode: false });
}

/**
 * Makes an artifact available on the local disk: `file://` URIs are used in place, `http(s)://`
 * URIs are streamed into a temporary file (removed by `cleanup`). Unresolvable URIs throw
 * {@link CheckInputError}; transient network failures throw {@link TransientCheckError}.
 */
export async function materializeArtifact(uri: string, options: SourceOptions = {}): Promise<LocalArtifact> {
  if (uri.startsWith('file://')) return localArtifact(fileUriToPath(uri, options.baseDir));
  if (!/^https?:\/\//.test(uri)) throw new CheckInputError(`unsupported artifact URI scheme: '${uri}'`, uri);
  const progress = options.progress ?? noProgress;
  const dir = await mkdtemp(path.join(tmpdir(), 'modelgate-artifact-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const name = path.basename(new URL(uri).pathname) || 'artifact';
    const target = path.join(dir, name.replace(/[^A-Za-z0-9._-]/g, '_'));
    const body = await openHttpStream(uri, options);
    let bytes = 0;
    body.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      progress({ stage: 'download', bytes });
    });
    await pipeline(body, createWriteStream(target));
    const artifact = await localArtifact(target);
    return { ...artifact, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * Opens a document (evaluation file, model card) named by a `file://` or `http(s)://` URI as a
 * byte stream. Missing files throw {@link CheckInputError}.
 */
export async function openDocumentStream(uri: string, options: SourceOptions = {}): Promise<Readable> {
  if (/^https?:\/\//.test(uri)) return openHttpStream(uri, options);
  const filePath = fileUriToPath(uri, options.baseDir);
  const info = await stat(filePath).catch((err: NodeJS.ErrnoException) => {
    throw new CheckInputError(`${uri} cannot be read: ${err.code ?? err.message}`, uri);
  });
  if (!info.isFile()) throw new CheckInputError(`${uri} is not a regular file`, uri);
  return createReadStream(filePath, { highWaterMark: 1024 * 1024 });
}

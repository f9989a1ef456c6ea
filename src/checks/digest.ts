import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { ArtifactFile, LocalArtifact } from './artifact-source';
import { type ProgressReporter, noProgress } from './progress';

/** Size of the reads of the streaming passes: large enough to keep hashing at disk speed. */
export const STREAM_CHUNK_BYTES = 4 * 1024 * 1024;

/** Digest of one file of an artifact. */
export interface FileDigest {
  relativePath: string;
  size: number;
  sha256: string;
}

/** Digest of an artifact: the file's sha256, or the root digest of a directory manifest. */
export interface ArtifactDigest {
  kind: 'file' | 'directory';
  sha256: string;
  files: FileDigest[];
  bytes: number;
}

/** Files from this size on are hashed on a worker thread, in parallel with what reads the chunks. */
export const PARALLEL_HASH_MIN_BYTES = 64 * 1024 * 1024;

/**
 * Reads a file once, front to back, in {@link STREAM_CHUNK_BYTES} chunks, and returns its
 * sha256 (hex). Every chunk is also handed to `onChunk` (for a scanner running in the same pass)
 * before the next read; memory stays at a few chunks whatever the file size. Large files are
 * hashed on a worker thread: each chunk is first given to `onChunk`, then moved (not copied) to
 * the worker, so the digest and the scan cover the very same bytes and run on two cores.
 */
export async function sha256File(
  filePath: string,
  options: { onChunk?: (chunk: Buffer) => void; progress?: ProgressReporter } = {},
): Promise<{ sha256: string; bytes: number }> {
  const handle = await open(filePath, 'r');
  try {
    const { size } = await handle.stat();
    return size >= PARALLEL_HASH_MIN_BYTES ? await hashOnWorker(handle, options) : await hashInline(handle, options);
  } finally {
    await handle.close();
  }
}

async function hashInline(handle: FileHandle, options: { onChunk?: (chunk: Buffer) => void; progress?: ProgressReporter }): Promise<{ sha256: string; bytes: number }> {
  const progress = options.progress ?? noProgress;
  const hash = createHash('sha256');
  const buffers = [Buffer.allocUnsafe(STREAM_CHUNK_BYTES), Buffer.allocUnsafe(STREAM_CHUNK_BYTES)];
  let bytes = 0;
  // Double buffering: the next read is in flight while the current chunk is hashed and scanned.
  let which = 0;
  let pending = handle.read(buffers[which]!, 0, STREAM_CHUNK_BYTES, null);
  for (;;) {
    const { bytesRead } = await pending;
    if (bytesRead === 0) break;
    const chunk = buffers[which]!.subarray(0, bytesRead);
    which ^= 1;
    pending = handle.read(buffers[which]!, 0, STREAM_CHUNK_BYTES, null);
    hash.update(chunk);
    options.onChunk?.(chunk);
    bytes += bytesRead;
    progress({ stage: 'digest', bytes });
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** The hashing thread: updates a sha256 with each chunk it is sent, sends the chunk's memory back. */
const HASH_WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const hash = require('node:crypto').createHash('sha256');
parentPort.on('message', (m) => {
  if (m.end) {
    parentPort.postMessage({ sha256: hash.digest('hex') });
    parentPort.close();
    return;
  }
  hash.update(new Uint8Array(m.memory, 0, m.length));
  parentPort.postMessage({ memory: m.memory }, [m.memory]);
});
`;

/** Chunks of memory in flight between the reader, the scanner and the hashing thread. */
const WORKER_POOL_CHUNKS = 4;

async function hashOnWorker(handle: FileHandle, options: { onChunk?: (chunk: Buffer) => void; progress?: ProgressReporter }): Promise<{ sha256: string; bytes: number }> {
  const progress = options.progress ?? noProgress;
  const worker = new Worker(HASH_WORKER_SOURCE, { eval: true });
  const free: ArrayBuffer[] = Array.from({ length: WORKER_POOL_CHUNKS }, () => new ArrayBuffer(STREAM_CHUNK_BYTES));
  let waiting: (() => void) | undefined;
  let failure: Error | undefined;
  let resolveDigest: (sha256: string) => void = () => undefined;
  const digest = new Promise<string>((resolve) => (resolveDigest = resolve));
  worker.on('message', (m: { memory?: ArrayBuffer; sha256?: string }) => {
    if (m.memory) free.push(m.memory);
    if (m.sha256) resolveDigest(m.sha256);
    waiting?.();
  });
  worker.on('error', (err) => {
    failure = err;
    waiting?.();
  });
  const nextFree = async (): Promise<ArrayBuffer> => {
    while (free.length === 0) {
      if (failure) throw failure;
      await new Promise<void>((resolve) => (waiting = resolve));
      waiting = undefined;
    }
    return free.pop()!;
  };
  let bytes = 0;
  try {
    let memory = await nextFree();
    let pending = handle.read(new Uint8Array(memory), 0, STREAM_CHUNK_BYTES, null);
    for (;;) {
      const { bytesRead } = await pending;
      if (failure) throw failure;
      if (bytesRead === 0) {
        free.push(memory);
        break;
      }
      const current = memory;
      memory = await nextFree();
      pending = handle.read(new Uint8Array(memory), 0, STREAM_CHUNK_BYTES, null);
      options.onChunk?.(Buffer.from(current, 0, bytesRead));
      worker.postMessage({ memory: current, length: bytesRead }, [current]);
      bytes += bytesRead;
      progress({ stage: 'digest', bytes });
    }
    worker.postMessage({ end: true });
    const sha256 = await Promise.race([
      digest,
      new Promise<never>((_, reject) => worker.once('error', reject)),
    ]);
    return { sha256, bytes };
  } finally {
    await worker.terminate();
  }
}

/**
 * Root digest of a directory manifest, as sigstore model-transparency serializes files: the
 * per-file sha256 digests, sorted by relative path, concatenated as raw 32-byte values, hashed.
 */
export function directoryRootDigest(files: FileDigest[]): string {
  const root = createHash('sha256');
  for (const file of files) root.update(Buffer.from(file.sha256, 'hex'));
  return root.digest('hex');
}

/**
 * Streams every file of an artifact and returns its digest (file sha256 or directory root
 * digest). `onFileChunk` sees every chunk of every file in the same pass.
 */
export async function digestArtifact(
  artifact: LocalArtifact,
  options: { onFileChunk?: (file: ArtifactFile, chunk: Buffer) => void; progress?: ProgressReporter } = {},
): Promise<ArtifactDigest> {
  const files: FileDigest[] = [];
  let bytes = 0;
  for (const file of artifact.files) {
    const onChunk = options.onFileChunk ? (chunk: Buffer) => options.onFileChunk!(file, chunk) : undefined;
    const result = await sha256File(file.absolutePath, { onChunk, progress: options.progress });
    files.push({ relativePath: file.relativePath, size: result.bytes, sha256: result.sha256 });
    bytes += result.bytes;
  }
  const sha256 = artifact.kind === 'file' ? files[0]!.sha256 : directoryRootDigest(files);
  return { kind: artifact.kind, sha256, files, bytes };
}

import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
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

/**
 * Reads a file once, front to back, in {@link STREAM_CHUNK_BYTES} chunks, and returns its
 * sha256 (hex). Every chunk is also handed to `onChunk` (for a scanner running in the same pass)
 * before the next read; memory stays at one chunk whatever the file size.
 */
export async function sha256File(
  filePath: string,
  options: { onChunk?: (chunk: Buffer) => void; progress?: ProgressReporter } = {},
): Promise<{ sha256: string; bytes: number }> {
  const progress = options.progress ?? noProgress;
  const hash = createHash('sha256');
  const handle = await open(filePath, 'r');
  const buffers = [Buffer.allocUnsafe(STREAM_CHUNK_BYTES), Buffer.allocUnsafe(STREAM_CHUNK_BYTES)];
  let bytes = 0;
  try {
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
  } finally {
    await handle.close();
  }
  return { sha256: hash.digest('hex'), bytes };
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

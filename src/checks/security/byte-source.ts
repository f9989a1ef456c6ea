import { type FileHandle, open } from 'node:fs/promises';

/** Random access to the bytes of a file (or of a buffer, in tests). */
export interface ByteSource {
  readonly size: number;
  /** Reads up to `length` bytes at `position` (fewer only at the end of the source). */
  read(position: number, length: number): Promise<Buffer>;
}

/** A {@link ByteSource} over an open file; call `close` when done. */
export class FileByteSource implements ByteSource {
  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
  ) {}

  /** Opens `filePath` for random-access reads. */
  static async open(filePath: string): Promise<FileByteSource> {
    const handle = await open(filePath, 'r');
    try {
      const { size } = await handle.stat();
      return new FileByteSource(handle, size);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async read(position: number, length: number): Promise<Buffer> {
    const wanted = Math.max(0, Math.min(length, this.size - position));
    const buffer = Buffer.allocUnsafe(wanted);
    let done = 0;
    while (done < wanted) {
      const { bytesRead } = await this.handle.read(buffer, done, wanted - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return buffer.subarray(0, done);
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** A {@link ByteSource} over a buffer. */
export function bufferByteSource(buffer: Buffer): ByteSource {
  return {
    size: buffer.length,
    read: async (position, length) => buffer.subarray(position, Math.min(buffer.length, position + length)),
  };
}

/** Streams `length` bytes from `start` in chunks of at most `chunkBytes`. */
export async function* readRange(source: ByteSource, start: number, length: number, chunkBytes = 1024 * 1024): AsyncGenerator<Buffer> {
  let position = start;
  const end = Math.min(source.size, start + length);
  while (position < end) {
    const chunk = await source.read(position, Math.min(chunkBytes, end - position));
    if (chunk.length === 0) return;
    position += chunk.length;
    yield chunk;
  }
}

import { type LocalFinding, type StreamInspector } from './findings';

/** Largest header the safetensors format allows (the reference implementation's bound). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/** Bits per element of the dtypes safetensors knows. */
const DTYPE_BITS: Record<string, number> = {
  BOOL: 8, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8, I16: 16, U16: 16, F16: 16, BF16: 16,
  I32: 32, U32: 32, F32: 32, F64: 64, I64: 64, U64: 64, C64: 64, F4: 4, F6_E2M3: 6, F6_E3M2: 6,
};

/** True when a file starts like a safetensors file: a plausible header length, then `{`. */
export function looksLikeSafetensors(head: Buffer, fileSize: number): boolean {
  if (head.length < 9) return false;
  const n = head.readBigUInt64LE(0);
  return n > 1n && n <= BigInt(Math.min(SAFETENSORS_MAX_HEADER_BYTES, fileSize - 8)) && head[8] === 0x7b;
}

/**
 * Validates a safetensors stream: header length bound, valid JSON, known dtypes, shape × dtype
 * size equal to each byte range, ranges contiguous from 0, no trailing or hidden bytes. Like the
 * safetensors loader, it needs only the header and the stream's length: it is {@link done} once
 * the header is read, and a reader that stops there gives the length to {@link end}.
 */
export class SafetensorsInspector implements StreamInspector {
  private head: Buffer[] = [];
  private headBytes = 0;
  private headerLength = -1;
  private dataStart = -1;
  private dataBytes = 0;
  private expectedDataBytes = -1;
  private broken = false;
  private readonly findings: LocalFinding[] = [];
  /** Tensors declared in the header, once parsed. */
  tensors = 0;

  get done(): boolean {
    return this.broken || this.dataStart >= 0;
  }

  push(chunk: Buffer): void {
    if (this.broken) return;
    if (this.dataStart >= 0) {
      this.dataBytes += chunk.length;
      return;
    }
    // A copy: the reader reuses (or hands to the hashing thread) the chunk's memory after this call.
    this.head.push(Buffer.from(chunk));
    this.headBytes += chunk.length;
    if (this.headerLength < 0) {
      if (this.headBytes < 8) return;
      const buf = Buffer.concat(this.head);
      this.head = [buf];
      const n = buf.readBigUInt64LE(0);
      if (n > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) return this.stop(`header length ${n} exceeds the limit of ${SAFETENSORS_MAX_HEADER_BYTES} bytes`);
      this.headerLength = Number(n);
    }
    if (this.headBytes < 8 + this.headerLength) return;
    const buf = Buffer.concat(this.head);
    this.head = [];
    this.dataStart = 8 + this.headerLength;
    this.parseHeader(buf.subarray(8, this.dataStart));
    this.dataBytes = buf.length - this.dataStart;
  }

  private stop(message: string): void {
    this.broken = true;
    this.findings.push({ kind: 'malformed_safetensors', severity: 'high', detail: message });
  }

  private parseHeader(raw: Buffer): void {
    let header: unknown;
    try {
      header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
    } catch (err) {
      return this.stop(`header is not valid UTF-8 JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) return this.stop('header is not a JSON object');
    const ranges: Array<{ name: string; begin: number; end: number }> = [];
    for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        const ok = typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
        if (!ok) return this.stop('__metadata__ must map strings to strings');
        continue;
      }
      const t = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof t !== 'object' || t === null) return this.stop(`tensor '${name}' is not an object`);
      const bits = typeof t.dtype === 'string' ? DTYPE_BITS[t.dtype] : undefined;
      if (bits === undefined) return this.stop(`tensor '${name}' has unknown dtype ${JSON.stringify(t.dtype)}`);
      if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return this.stop(`tensor '${name}' has an invalid shape`);
      const offsets = t.data_offsets;
      if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isSafeInteger(d) && d >= 0) || offsets[1] < offsets[0]) {
        return this.stop(`tensor '${name}' has invalid data_offsets`);
      }
      const elements = (t.shape as number[]).reduce((a, b) => a * b, 1);
      const totalBits = elements * bits;
      if (totalBits % 8 !== 0) return this.stop(`tensor '${name}' does not fill whole bytes`);
      const [begin, end] = offsets as [number, number];
      if (end - begin !== totalBits / 8) {
        return this.stop(`tensor '${name}': shape × ${t.dtype} is ${totalBits / 8} bytes but its byte range holds ${end - begin}`);
      }
      ranges.push({ name, begin, end });
    }
    ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
    let cursor = 0;
    for (const r of ranges) {
      if (r.begin !== cursor) {
        return this.stop(r.begin > cursor ? `${r.begin - cursor} hidden bytes before tensor '${r.name}'` : `tensor '${r.name}' overlaps the previous tensor`);
      }
      cursor = r.end;
    }
    this.tensors = ranges.length;
    this.expectedDataBytes = cursor;
  }

  end(streamBytes?: number): LocalFinding[] {
    if (streamBytes !== undefined && this.dataStart >= 0) this.dataBytes = streamBytes - this.dataStart;
    if (!this.broken) {
      if (this.dataStart < 0) this.stop(this.headerLength < 0 ? 'file is shorter than the 8-byte header length' : 'file ends inside its JSON header');
      else if (this.expectedDataBytes >= 0 && this.dataBytes !== this.expectedDataBytes) {
        this.findings.push({
          kind: this.dataBytes > this.expectedDataBytes ? 'trailing_bytes' : 'truncated_safetensors',
          severity: this.dataBytes > this.expectedDataBytes ? 'medium' : 'high',
          detail: `tensor data is ${this.dataBytes} bytes; the header accounts for ${this.expectedDataBytes}`,
        });
      } else if (this.expectedDataBytes >= 0) {
        this.findings.push({ kind: 'safetensors_valid', severity: 'info', detail: `header valid: ${this.tensors} tensors, ${this.dataBytes} data bytes` });
      }
    }
    return this.findings;
  }
}

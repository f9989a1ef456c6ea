import { type LocalFinding, type StreamInspector } from './findings';
import { type ScanLimits, quoteForFinding, resolveScanLimits } from './limits';
import { PickleInspector } from './pickle-inspector';
import { type PyLiteral, parsePythonLiteral } from './python-literal';

/** Magic bytes of a NumPy `.npy` file. */
export const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
const MAX_HEADER_BYTES = 1024 * 1024;

/** Size in bytes of one element of a dtype description, or `'object'` when it holds Python objects. */
export function npyItemSize(descr: PyLiteral): number | 'object' {
  if (typeof descr === 'string') {
    const m = /^[<>|=]?([a-zA-Z])(\d{0,9})(\[\w{1,8}\])?$/.exec(descr);
    if (!m) throw new Error(`unknown dtype ${quoteForFinding(descr, 40)}`);
    const [, code, digits] = m;
    if (code === 'O') return 'object';
    const n = digits ? Number(digits) : code === 'b' || code === '?' ? 1 : NaN;
    if (code === 'U') return 4 * n;
    if (!Number.isFinite(n)) throw new Error(`dtype ${quoteForFinding(descr, 40)} has no size`);
    return n;
  }
  if (Array.isArray(descr)) {
    let total = 0;
    for (const field of descr) {
      if (!Array.isArray(field) || field.length < 2) throw new Error('malformed structured dtype');
      const size = npyItemSize(field[1]!);
      if (size === 'object') return 'object';
      const shape = Array.isArray(field[2]) ? field[2] : typeof field[2] === 'number' ? [field[2]] : [];
      total += size * shape.reduce<number>((a, b) => a * Number(b), 1);
    }
    return total;
  }
  throw new Error('malformed dtype description');
}

/**
 * Inspects a NumPy `.npy` stream: the header must parse; an object dtype means the data is a
 * pickle, which is walked like any other; otherwise the data must be exactly shape × item size.
 */
export class NpyInspector implements StreamInspector {
  private head: Buffer[] = [];
  private headBytes = 0;
  private headerEnd = -1;
  private dataBytes = 0;
  private expectedBytes = -1;
  private pickle?: PickleInspector;
  private readonly findings: LocalFinding[] = [];
  private broken = false;

  constructor(
    private readonly allowGlobals: readonly string[] = [],
    private readonly limits: ScanLimits = resolveScanLimits(),
  ) {}

  push(chunk: Buffer): void {
    if (this.broken) return;
    if (this.headerEnd < 0) {
      this.head.push(chunk);
      this.headBytes += chunk.length;
      const buf = Buffer.concat(this.head);
      this.head = [buf];
      if (buf.length < 12) return;
      if (!buf.subarray(0, 6).equals(NPY_MAGIC)) return this.stop('not a NumPy file: bad magic bytes');
      const major = buf[6]!;
      const lenBytes = major === 1 ? 2 : 4;
      if (major < 1 || major > 3) return this.stop(`unsupported .npy format version ${major}`);
      const headerLen = lenBytes === 2 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
      if (headerLen > MAX_HEADER_BYTES) return this.stop(`.npy header of ${headerLen} bytes is larger than the limit`);
      const start = 8 + lenBytes;
      if (buf.length < start + headerLen) return;
      this.headerEnd = start + headerLen;
      this.parseHeader(buf.subarray(start, this.headerEnd).toString(major === 3 ? 'utf8' : 'latin1'));
      const rest = buf.subarray(this.headerEnd);
      this.head = [];
      if (!this.broken && rest.length > 0) this.data(rest);
      return;
    }
    this.data(chunk);
  }

  private stop(message: string): void {
    this.broken = true;
    this.findings.push({ kind: 'malformed_npy', severity: 'high', detail: message });
  }

  private parseHeader(text: string): void {
    let header: PyLiteral;
    try {
      header = parsePythonLiteral(text.trim());
    } catch (err) {
      return this.stop(`the .npy header is not a Python literal: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header) || !('descr' in header) || !Array.isArray(header.shape)) {
      return this.stop("the .npy header lacks 'descr' or 'shape'");
    }
    let size: number | 'object';
    try {
      size = npyItemSize(header.descr!);
    } catch (err) {
      return this.stop(`the .npy dtype is not understood: ${err instanceof Error ? err.message : String(err)}`);
    }
    const count = header.shape.reduce<number>((a, b) => a * Number(b), 1);
    if (size === 'object') {
      this.findings.push({ kind: 'npy_object_array', severity: 'info', detail: `object array of shape (${header.shape.join(', ')}): its data is a pickle, scanned below` });
      this.pickle = new PickleInspector(this.allowGlobals, this.headerEnd, this.limits);
    } else {
      this.expectedBytes = count * size;
    }
  }

  private data(chunk: Buffer): void {
    this.dataBytes += chunk.length;
    this.pickle?.push(chunk);
  }

  end(): LocalFinding[] {
    if (!this.broken && this.headerEnd < 0) this.stop('the .npy file ends inside its header');
    if (this.pickle) this.findings.push(...this.pickle.end());
    else if (!this.broken && this.expectedBytes >= 0 && this.dataBytes !== this.expectedBytes) {
      this.findings.push({
        kind: this.dataBytes > this.expectedBytes ? 'trailing_bytes' : 'truncated_npy',
        severity: 'medium',
        detail: `array data is ${this.dataBytes} bytes; its shape and dtype need ${this.expectedBytes}`,
      });
    }
    return this.findings;
  }
}

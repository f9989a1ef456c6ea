/**
 * A static, streaming walker over pickle opcodes (protocols 0–5). It never executes or
 * unpickles anything: it simulates just enough of the unpickler's stack and memo to know which
 * globals a pickle imports, including `STACK_GLOBAL` operands that arrive through the memo
 * (PUT/BINPUT/LONG_BINPUT/MEMOIZE then GET/BINGET/LONG_BINGET), and reports each import.
 *
 * Bytes are pushed in chunks of any size; large payloads (tensor bytes, long strings) are
 * skipped without being buffered, so memory stays flat whatever the stream size.
 */

/** A global that a pickle imports (the unpickler's `find_class`). */
export interface PickleImport {
  /** Module as written (after Python 2 → 3 module renames), e.g. `builtins`. */
  module: string;
  /** Attribute path as written, e.g. `eval` or `_utils._rebuild_tensor_v2`. */
  name: string;
  /** Opcode that imported it: GLOBAL, STACK_GLOBAL or INST. */
  opcode: 'GLOBAL' | 'STACK_GLOBAL' | 'INST';
  /** Byte offset of the opcode in the stream. */
  offset: number;
  /** Which pickle of the stream (0-based) it belongs to. */
  pickleIndex: number;
}

/** An import the walker could not resolve to a string module and name: counts as dangerous. */
export interface UnresolvedImport {
  opcode: string;
  offset: number;
  pickleIndex: number;
  reason: string;
}

/** What the walker saw, once the stream ended. */
export interface PickleWalkSummary {
  /** Complete pickles (ending with STOP). */
  pickles: number;
  /** Highest protocol announced by a PROTO opcode (0 when none). */
  protocol: number;
  bytes: number;
  opcodes: number;
  /** Uses of persistent ids (PyTorch storages): resolved by the loader, not imported. */
  persistentIds: number;
  /** Set when the stream is not a complete sequence of pickles: what broke, and where. */
  error?: { offset: number; message: string };
  /** Set when the stream is a legacy (pre-1.6) PyTorch file: bytes after its pickles are raw storage data. */
  legacyTorch?: { rawStorageBytes: number };
}

/** Limits that keep the walker's memory bounded on hostile input. */
export interface PickleWalkerLimits {
  /** Payloads up to this size are buffered to be decoded; larger ones are skipped (default 64 KiB). */
  inlineBytes: number;
  /** Most entries on the simulated stack (default 1,000,000). */
  maxStack: number;
  /** Most memo entries (default 2,000,000). */
  maxMemo: number;
}

const DEFAULT_LIMITS: PickleWalkerLimits = { inlineBytes: 64 * 1024, maxStack: 1_000_000, maxMemo: 2_000_000 };

/** Magic number that opens a legacy (pre-zip) `torch.save` file, as its first pickle. */
const LEGACY_TORCH_MAGIC = 0x1950a86a20f9469cfc6cn;
/** Pickles at the start of a legacy PyTorch file: magic, protocol, sys info, object, storage keys. */
const LEGACY_TORCH_PICKLES = 5;

/** Python 2 module names the unpickler maps to Python 3 ones (`fix_imports`). */
const PY2_MODULES: Record<string, string> = {
  __builtin__: 'builtins',
  copy_reg: 'copyreg',
  exceptions: 'builtins',
  cPickle: 'pickle',
  commands: 'subprocess',
  Queue: 'queue',
  urllib2: 'urllib.request',
  httplib: 'http.client',
  SocketServer: 'socketserver',
  cStringIO: 'io',
  StringIO: 'io',
  __main__: '__main__',
};

type Value =
  | { k: 'str'; s: string }
  | { k: 'int'; n: bigint }
  | { k: 'global'; g: string }
  | { k: 'any' };

const ANY: Value = { k: 'any' };
const OPAQUE_STR: Value = { k: 'any' };

/** Names of the opcodes, for messages. */
const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT',
  0x4a: 'BININT', 0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID',
  0x51: 'BINPERSID', 0x52: 'REDUCE', 0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND', 0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT',
  0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET', 0x69: 'INST', 0x6a: 'LONG_BINGET',
  0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT',
  0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1',
  0x86: 'TUPLE2', 0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4',
  0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8',
  0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX',
  0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

/** Raised inside the walker for input that the real unpickler would also reject. */
class PickleFormatError extends Error {}

/** Result of trying to decode one opcode from the buffered bytes. */
const NEED_MORE = -1;

/** Decodes the argument of a protocol-0 STRING opcode (a Python `repr` of a byte string). */
function decodeQuotedString(line: string): string {
  const q = line[0];
  if (line.length < 2 || (q !== '"' && q !== "'") || line[line.length - 1] !== q) {
    throw new PickleFormatError('the STRING opcode argument must be quoted');
  }
  const body = line.slice(1, -1);
  const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0', '\n': '' };
  return body.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/gs, (_m, esc: string) => {
    if (esc[0] === 'x') return String.fromCharCode(parseInt(esc.slice(1), 16));
    if (/^[0-7]+$/.test(esc)) return String.fromCharCode(parseInt(esc, 8));
    return simple[esc] ?? `\\${esc}`;
  });
}

/** Decodes `raw-unicode-escape` (the protocol-0 UNICODE opcode argument). */
function decodeRawUnicodeEscape(bytes: Buffer): string {
  return bytes
    .toString('latin1')
    .replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, u4: string | undefined, u8: string | undefined) =>
      String.fromCodePoint(parseInt((u4 ?? u8)!, 16)),
    );
}

/**
 * The streaming pickle walker. Call {@link push} with consecutive chunks, then {@link end}.
 * Imports are reported through the callbacks as they are met, so findings before a corrupt
 * region are never lost.
 */
export class PickleWalker {
  private readonly limits: PickleWalkerLimits;
  private pending: Buffer = Buffer.alloc(0);
  /** Stream offset of `pending[0]`. */
  private base = 0;
  /** Bytes of a large payload still to be skipped. */
  private skipBytes = 0;
  /** Newlines still to be skipped (an over-long line argument). */
  private skipLines = 0;
  private stack: Value[] = [];
  private marks: number[] = [];
  private memo = new Map<number, Value>();
  private inPickle = false;
  private stopped = false;
  private protocol = 0;
  private pickles = 0;
  private opcodes = 0;
  private persistentIds = 0;
  private error?: { offset: number; message: string };
  private legacyTorch = false;
  private rawStorageBytes = 0;

  constructor(
    private readonly onImport: (imp: PickleImport) => void,
    private readonly onUnresolved: (imp: UnresolvedImport) => void,
    limits: Partial<PickleWalkerLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** True once the walker has met an error: further bytes are only counted. */
  get failed(): boolean {
    return this.error !== undefined;
  }

  /** Feeds the next chunk of the stream. Never throws. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.error || this.stopped) {
      if (this.stopped) this.rawStorageBytes += chunk.length;
      this.base += chunk.length;
      return;
    }
    let data = chunk;
    if (this.skipBytes > 0 || this.skipLines > 0) {
      const used = this.skip(data);
      this.base += used;
      data = data.subarray(used);
      if (data.length === 0) return;
    }
    this.pending = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    this.run();
  }

  /** Ends the stream and returns what was seen. */
  end(): PickleWalkSummary {
    if (!this.error && !this.stopped) {
      const total = this.base + this.pending.length;
      if (total === 0) this.error = { offset: 0, message: 'the stream is empty: not a pickle' };
      else if (this.inPickle || this.pending.length > 0 || this.skipBytes > 0 || this.skipLines > 0) {
        this.error = { offset: total, message: `the pickle is truncated: it ends at byte ${total} before its STOP opcode` };
      }
    }
    const summary: PickleWalkSummary = {
      pickles: this.pickles,
      protocol: this.protocol,
      bytes: this.base + this.pending.length,
      opcodes: this.opcodes,
      persistentIds: this.persistentIds,
    };
    if (this.error) summary.error = this.error;
    if (this.legacyTorch) summary.legacyTorch = { rawStorageBytes: this.rawStorageBytes };
    return summary;
  }

  private fail(offset: number, message: string): void {
    this.error = { offset, message };
    this.base += this.pending.length;
    this.pending = Buffer.alloc(0);
  }

  /** Consumes skipped payload bytes or lines from the front of `data`; returns how many. */
  private skip(data: Buffer): number {
    let used = 0;
    if (this.skipBytes > 0) {
      used = Math.min(this.skipBytes, data.length);
      this.skipBytes -= used;
    }
    while (this.skipLines > 0 && used < data.length) {
      const nl = data.indexOf(0x0a, used);
      if (nl < 0) return data.length;
      used = nl + 1;
      this.skipLines -= 1;
    }
    return used;
  }

  private run(): void {
    const buf = this.pending;
    let pos = 0;
    while (pos < buf.length) {
      let next: number;
      try {
        next = this.step(buf, pos);
      } catch (err) {
        this.fail(this.base + pos, err instanceof Error ? err.message : String(err));
        return;
      }
      if (next === NEED_MORE) {
        this.opcodes -= 1;
        break;
      }
      pos = next;
      if (this.stopped) {
        this.rawStorageBytes += buf.length - pos;
        pos = buf.length;
        break;
      }
      if (this.skipBytes > 0 || this.skipLines > 0) {
        const used = this.skip(buf.subarray(pos));
        pos += used;
      }
    }
    this.base += pos;
    this.pending = pos >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(pos));
  }

  // ---- stack helpers -------------------------------------------------------------------

  private frameBase(): number {
    return this.marks.length > 0 ? this.marks[this.marks.length - 1]! : 0;
  }

  private push1(value: Value): void {
    if (this.stack.length >= this.limits.maxStack) throw new PickleFormatError(`the pickle stack grows beyond ${this.limits.maxStack} entries`);
    this.stack.push(value);
  }

  private pop1(op: string): Value {
    if (this.stack.length <= this.frameBase()) throw new PickleFormatError(`${op}: unpickling stack underflow`);
    return this.stack.pop()!;
  }

  private top(op: string): Value {
    if (this.stack.length <= this.frameBase()) throw new PickleFormatError(`${op}: unpickling stack underflow`);
    return this.stack[this.stack.length - 1]!;
  }

  private popMark(op: string): Value[] {
    if (this.marks.length === 0) throw new PickleFormatError(`${op}: could not find MARK`);
    const at = this.marks.pop()!;
    return this.stack.splice(at);
  }

  private memoPut(index: number, op: string): void {
    if (index < 0) throw new PickleFormatError(`${op}: negative memo index`);
    if (!this.memo.has(index) && this.memo.size >= this.limits.maxMemo) {
      throw new PickleFormatError(`the pickle memo grows beyond ${this.limits.maxMemo} entries`);
    }
    this.memo.set(index, this.top(op));
  }

  private memoGet(index: number, op: string): void {
    const value = this.memo.get(index);
    if (value === undefined) throw new PickleFormatError(`${op}: memo value ${index} not found`);
    this.push1(value);
  }

  private importGlobal(module: string, name: string, opcode: PickleImport['opcode'], offset: number): Value {
    const mapped = PY2_MODULES[module] ?? module;
    this.onImport({ module: mapped, name, opcode, offset, pickleIndex: this.pickles });
    return { k: 'global', g: `${mapped}.${name}` };
  }

  // ---- decoding ------------------------------------------------------------------------

  /** Index just past the next newline at or after `from`, or NEED_MORE. */
  private lineEnd(buf: Buffer, from: number): number {
    const nl = buf.indexOf(0x0a, from);
    return nl < 0 ? NEED_MORE : nl + 1;
  }

  /**
   * Reads a newline-terminated argument starting at `from`. Returns NEED_MORE while it may still
   * fit the inline limit; when it is longer, returns `null` and arranges for the rest of the line
   * (and `extraLines` more) to be skipped.
   */
  private readLine(buf: Buffer, from: number, extraLines = 0): { text: Buffer; next: number } | null | typeof NEED_MORE {
    const end = this.lineEnd(buf, from);
    if (end === NEED_MORE) {
      if (buf.length - from > this.limits.inlineBytes) {
        this.skipLines = 1 + extraLines;
        return null;
      }
      return NEED_MORE;
    }
    let text = buf.subarray(from, end - 1);
    if (text.length > 0 && text[text.length - 1] === 0x0d) text = text.subarray(0, text.length - 1);
    return { text, next: end };
  }

  /**
   * Reads a length-prefixed payload at `from` of `length` bytes. Small payloads are returned
   * whole once buffered; large ones are skipped (returns `null` and the position after what is
   * buffered, the rest is skipped as it arrives).
   */
  private readPayload(buf: Buffer, from: number, length: number): { data: Buffer | null; next: number } | typeof NEED_MORE {
    if (length <= this.limits.inlineBytes) {
      if (buf.length - from < length) return NEED_MORE;
      return { data: buf.subarray(from, from + length), next: from + length };
    }
    const available = Math.min(buf.length - from, length);
    this.skipBytes = length - available;
    return { data: null, next: from + available };
  }

  private readDecimal(text: Buffer, op: string): number {
    const s = text.toString('latin1').trim();
    if (!/^-?\d+$/.test(s)) throw new PickleFormatError(`${op}: invalid index '${s.slice(0, 40)}'`);
    return Number(s);
  }

  private pushStr(data: Buffer | null, encoding: 'utf8' | 'latin1'): void {
    this.push1(data === null ? OPAQUE_STR : { k: 'str', s: data.toString(encoding) });
  }

  /** Decodes the opcode at `pos`; returns the position after it or NEED_MORE. */
  private step(buf: Buffer, pos: number): number {
    const op = buf[pos]!;
    const offset = this.base + pos;
    const avail = buf.length - pos - 1;
    const a = pos + 1;
    if (!this.inPickle) this.inPickle = true;
    this.opcodes += 1;
    let r: ReturnType<PickleWalker['readPayload']>;
    switch (op) {
      case 0x28: // MARK
        this.marks.push(this.stack.length);
        return a;
      case 0x2e: {
        // STOP
        const value = this.pop1('STOP');
        this.pickles += 1;
        this.inPickle = false;
        if (this.pickles === 1 && value.k === 'int' && value.n === LEGACY_TORCH_MAGIC) this.legacyTorch = true;
        this.stack = [];
        this.marks = [];
        this.memo = new Map();
        if (this.legacyTorch && this.pickles === LEGACY_TORCH_PICKLES) this.stopped = true;
        return a;
      }
      case 0x30: // POP
        if (this.stack.length > this.frameBase()) this.stack.pop();
        else this.popMark('POP');
        return a;
      case 0x31: // POP_MARK
        this.popMark('POP_MARK');
        return a;
      case 0x32: // DUP
        this.push1(this.top('DUP'));
        return a;
      case 0x46: // FLOAT
      case 0x49: // INT
      case 0x4c: {
        // LONG
        const line = this.readLine(buf, a);
        if (line === NEED_MORE) return NEED_MORE;
        this.push1(ANY);
        return line === null ? buf.length : line.next;
      }
      case 0x4a: // BININT
        if (avail < 4) return NEED_MORE;
        this.push1({ k: 'int', n: BigInt(buf.readInt32LE(a)) });
        return a + 4;
      case 0x4b: // BININT1
        if (avail < 1) return NEED_MORE;
        this.push1({ k: 'int', n: BigInt(buf[a]!) });
        return a + 1;
      case 0x4d: // BININT2
        if (avail < 2) return NEED_MORE;
        this.push1({ k: 'int', n: BigInt(buf.readUInt16LE(a)) });
        return a + 2;
      case 0x8a: {
        // LONG1
        if (avail < 1) return NEED_MORE;
        const n = buf[a]!;
        r = this.readPayload(buf, a + 1, n);
        if (r === NEED_MORE) return NEED_MORE;
        if (r.data && n <= 16) {
          let v = 0n;
          for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(r.data[i]!);
          if (n > 0 && (r.data[n - 1]! & 0x80) !== 0) v -= 1n << BigInt(8 * n);
          this.push1({ k: 'int', n: v });
        } else this.push1(ANY);
        return r.next;
      }
      case 0x8b: {
        // LONG4
        if (avail < 4) return NEED_MORE;
        const n = buf.readInt32LE(a);
        if (n < 0) throw new PickleFormatError('LONG4: negative byte count');
        r = this.readPayload(buf, a + 4, n);
        if (r === NEED_MORE) return NEED_MORE;
        this.push1(ANY);
        return r.next;
      }
      case 0x4e: // NONE
      case 0x88: // NEWTRUE
      case 0x89: // NEWFALSE
      case 0x7d: // EMPTY_DICT
      case 0x5d: // EMPTY_LIST
      case 0x29: // EMPTY_TUPLE
      case 0x8f: // EMPTY_SET
      case 0x97: // NEXT_BUFFER
        this.push1(ANY);
        return a;
      case 0x47: // BINFLOAT
        if (avail < 8) return NEED_MORE;
        this.push1(ANY);
        return a + 8;
      case 0x50: {
        // PERSID
        const line = this.readLine(buf, a);
        if (line === NEED_MORE) return NEED_MORE;
        this.persistentIds += 1;
        this.push1(ANY);
        return line === null ? buf.length : line.next;
      }
      case 0x51: // BINPERSID
        this.pop1('BINPERSID');
        this.persistentIds += 1;
        this.push1(ANY);
        return a;
      case 0x52: // REDUCE
        this.pop1('REDUCE');
        this.pop1('REDUCE');
        this.push1(ANY);
        return a;
      case 0x53: {
        // STRING
        const line = this.readLine(buf, a);
        if (line === NEED_MORE) return NEED_MORE;
        if (line === null) {
          this.push1(OPAQUE_STR);
          return buf.length;
        }
        this.push1({ k: 'str', s: decodeQuotedString(line.text.toString('latin1')) });
        return line.next;
      }
      case 0x54: {
        // BINSTRING
        if (avail < 4) return NEED_MORE;
        const n = buf.readInt32LE(a);
        if (n < 0) throw new PickleFormatError('BINSTRING pickle has negative byte count');
        r = this.readPayload(buf, a + 4, n);
        if (r === NEED_MORE) return NEED_MORE;
        this.pushStr(r.data, 'latin1');
        return r.next;
      }
      case 0x55: // SHORT_BINSTRING
        if (avail < 1) return NEED_MORE;
        r = this.readPayload(buf, a + 1, buf[a]!);
        if (r === NEED_MORE) return NEED_MORE;
        this.pushStr(r.data, 'latin1');
        return r.next;
      case 0x56: {
        // UNICODE
        const line = this.readLine(buf, a);
        if (line === NEED_MORE) return NEED_MORE;
        if (line === null) {
          this.push1(OPAQUE_STR);
          return buf.length;
        }
        this.push1({ k: 'str', s: decodeRawUnicodeEscape(line.text) });
        return line.next;
      }
      case 0x58: // BINUNICODE
        if (avail < 4) return NEED_MORE;
        r = this.readPayload(buf, a + 4, buf.readUInt32LE(a));
        if (r === NEED_MORE) return NEED_MORE;
        this.pushStr(r.data, 'utf8');
        return r.next;
      case 0x8c: // SHORT_BINUNICODE
        if (avail < 1) return NEED_MORE;
        r = this.readPayload(buf, a + 1, buf[a]!);
        if (r === NEED_MORE) return NEED_MORE;
        this.pushStr(r.data, 'utf8');
        return r.next;
      case 0x8d: // BINUNICODE8
      case 0x8e: // BINBYTES8
      case 0x96: {
        // BYTEARRAY8
        if (avail < 8) return NEED_MORE;
        const n = buf.readBigUInt64LE(a);
        if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new PickleFormatError(`${OPCODE_NAMES[op]}: absurd length ${n}`);
        r = this.readPayload(buf, a + 8, Number(n));
        if (r === NEED_MORE) return NEED_MORE;
        if (op === 0x8d) this.pushStr(r.data, 'utf8');
        else this.push1(ANY);
        return r.next;
      }
      case 0x42: // BINBYTES
        if (avail < 4) return NEED_MORE;
        r = this.readPayload(buf, a + 4, buf.readUInt32LE(a));
        if (r === NEED_MORE) return NEED_MORE;
        this.push1(ANY);
        return r.next;
      case 0x43: // SHORT_BINBYTES
        if (avail < 1) return NEED_MORE;
        r = this.readPayload(buf, a + 1, buf[a]!);
        if (r === NEED_MORE) return NEED_MORE;
        this.push1(ANY);
        return r.next;
      case 0x61: // APPEND
        if (this.stack.length - this.frameBase() < 2) throw new PickleFormatError('APPEND: unpickling stack underflow');
        this.stack.pop();
        return a;
      case 0x62: // BUILD
        if (this.stack.length - this.frameBase() < 2) throw new PickleFormatError('BUILD: unpickling stack underflow');
        this.stack.pop();
        return a;
      case 0x63: // GLOBAL
      case 0x69: {
        // INST
        const opName = op === 0x63 ? 'GLOBAL' : 'INST';
        const first = this.readLine(buf, a, 1);
        if (first === NEED_MORE) return NEED_MORE;
        if (first === null) {
          this.onUnresolved({ opcode: opName, offset, pickleIndex: this.pickles, reason: `${opName} module name longer than ${this.limits.inlineBytes} bytes` });
          if (op === 0x69) this.popMark(opName);
          this.push1(ANY);
          return buf.length;
        }
        const second = this.readLine(buf, first.next);
        if (second === NEED_MORE) return NEED_MORE;
        if (second === null) {
          this.onUnresolved({ opcode: opName, offset, pickleIndex: this.pickles, reason: `${opName} attribute name longer than ${this.limits.inlineBytes} bytes` });
          if (op === 0x69) this.popMark(opName);
          this.push1(ANY);
          return buf.length;
        }
        const g = this.importGlobal(first.text.toString('utf8'), second.text.toString('utf8'), opName, offset);
        if (op === 0x69) {
          this.popMark('INST');
          this.push1(ANY);
        } else this.push1(g);
        return second.next;
      }
      case 0x64: // DICT
      case 0x6c: // LIST
      case 0x74: // TUPLE
      case 0x91: // FROZENSET
        this.popMark(OPCODE_NAMES[op]!);
        this.push1(ANY);
        return a;
      case 0x65: // APPENDS
      case 0x75: // SETITEMS
      case 0x90: // ADDITEMS
        this.popMark(OPCODE_NAMES[op]!);
        if (this.stack.length <= this.frameBase()) throw new PickleFormatError(`${OPCODE_NAMES[op]}: unpickling stack underflow`);
        return a;
      case 0x67: {
        // GET
        const line = this.readLine(buf, a);
        if (line === NEED_MORE) return NEED_MORE;
        if (line === null) throw new PickleFormatError('GET: index line too long');
        this.memoGet(this.readDecimal(line.text, 'GET'), 'GET');
        return line.next;
      }
      case 0x68: // BINGET
        if (avail < 1) return NEED_MORE;
        this.memoGet(buf[a]!, 'BINGET');
        return a + 1;
      case 0x6a: // LONG_BINGET
        if (avail < 4) return NEED_MORE;
        this.memoGet(buf.readUInt32LE(a), 'LONG_BINGET');
        return a + 4;
      case 0x70: {
        // PUT
        const line = this.readLine(buf, a);
        if (line === NEED_MORE) return NEED_MORE;
        if (line === null) throw new PickleFormatError('PUT: index line too long');
        this.memoPut(this.readDecimal(line.text, 'PUT'), 'PUT');
        return line.next;
      }
      case 0x71: // BINPUT
        if (avail < 1) return NEED_MORE;
        this.memoPut(buf[a]!, 'BINPUT');
        return a + 1;
      case 0x72: // LONG_BINPUT
        if (avail < 4) return NEED_MORE;
        this.memoPut(buf.readInt32LE(a), 'LONG_BINPUT');
        return a + 4;
      case 0x94: // MEMOIZE
        this.memoPut(this.memo.size, 'MEMOIZE');
        return a;
      case 0x6f: {
        // OBJ
        const items = this.popMark('OBJ');
        if (items.length === 0) throw new PickleFormatError('OBJ: no class on the stack');
        this.push1(ANY);
        return a;
      }
      case 0x73: // SETITEM
        if (this.stack.length - this.frameBase() < 3) throw new PickleFormatError('SETITEM: unpickling stack underflow');
        this.stack.length -= 2;
        return a;
      case 0x85: // TUPLE1
        this.pop1('TUPLE1');
        this.push1(ANY);
        return a;
      case 0x86: // TUPLE2
        this.pop1('TUPLE2');
        this.pop1('TUPLE2');
        this.push1(ANY);
        return a;
      case 0x87: // TUPLE3
        this.pop1('TUPLE3');
        this.pop1('TUPLE3');
        this.pop1('TUPLE3');
        this.push1(ANY);
        return a;
      case 0x81: // NEWOBJ
        this.pop1('NEWOBJ');
        this.pop1('NEWOBJ');
        this.push1(ANY);
        return a;
      case 0x92: // NEWOBJ_EX
        this.pop1('NEWOBJ_EX');
        this.pop1('NEWOBJ_EX');
        this.pop1('NEWOBJ_EX');
        this.push1(ANY);
        return a;
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: {
        // EXT4
        const width = op === 0x82 ? 1 : op === 0x83 ? 2 : 4;
        if (avail < width) return NEED_MORE;
        const code = width === 1 ? buf[a]! : width === 2 ? buf.readUInt16LE(a) : buf.readInt32LE(a);
        this.onUnresolved({ opcode: OPCODE_NAMES[op]!, offset, pickleIndex: this.pickles, reason: `imports through the copyreg extension registry (code ${code}), which cannot be resolved statically` });
        this.push1(ANY);
        return a + width;
      }
      case 0x80: // PROTO
        if (avail < 1) return NEED_MORE;
        if (buf[a]! > 5) throw new PickleFormatError(`unsupported pickle protocol: ${buf[a]}`);
        this.protocol = Math.max(this.protocol, buf[a]!);
        return a + 1;
      case 0x95: // FRAME
        if (avail < 8) return NEED_MORE;
        return a + 8;
      case 0x93: {
        // STACK_GLOBAL
        const name = this.pop1('STACK_GLOBAL');
        const module = this.pop1('STACK_GLOBAL');
        if (module.k === 'str' && name.k === 'str') {
          this.push1(this.importGlobal(module.s, name.s, 'STACK_GLOBAL', offset));
        } else {
          this.onUnresolved({
            opcode: 'STACK_GLOBAL',
            offset,
            pickleIndex: this.pickles,
            reason: 'module and name are not string constants (computed at load time)',
          });
          this.push1(ANY);
        }
        return a;
      }
      case 0x98: // READONLY_BUFFER
        this.top('READONLY_BUFFER');
        return a;
      default:
        throw new PickleFormatError(`invalid opcode 0x${op.toString(16).padStart(2, '0')} at byte ${offset}`);
    }
  }
}

/**
 * A static, streaming walker over pickle opcodes (protocols 0–5). It never executes or
 * unpickles anything: it simulates just enough of the unpickler's stack and memo to know which
 * globals a pickle imports, including `STACK_GLOBAL` operands that arrive through the memo
 * (PUT/BINPUT/LONG_BINPUT/MEMOIZE then GET/BINGET/LONG_BINGET), and reports each import.
 *
 * Bytes are pushed in chunks of any size; large payloads (tensor bytes, long strings) are
 * skipped without being buffered, so memory stays flat whatever the stream size. Every structure
 * it keeps is bounded (MARKs, stack, memo, decoded values, opcodes): past a bound the walk stops
 * with a named error instead of growing.
 *
 * joblib's pickles (NumpyPickler, joblib ≥ 0.12) are read as joblib's NumpyUnpickler reads them:
 * when BUILD fills a `joblib.numpy_pickle.NumpyArrayWrapper`, the array's raw bytes follow inline
 * (an alignment padding byte-count byte and its padding, then shape × item size bytes); the walker
 * skips exactly those bytes and goes on with the opcodes after them. Where the wrapper's state is
 * not a literal it can size (shape, dtype, alignment), or is an object array (a nested pickle), it
 * stops with a named error rather than guess.
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
  error?: { offset: number; message: string; kind: PickleWalkErrorKind };
  /** Calls (REDUCE, NEWOBJ, NEWOBJ_EX, OBJ, INST) the unpickler would have made by the end or the error. */
  calls: number;
  /** Imports met (GLOBAL, STACK_GLOBAL, INST, resolved or not). */
  imports: number;
  /** joblib arrays whose inline bytes were skipped as joblib's NumpyUnpickler reads them. */
  joblibArrays: number;
  /**
   * Set when joblib's NumpyArrayWrapper class went where the walker cannot follow it (into a
   * container or an unknown call): an instance of it could then be built without the walker
   * knowing, and joblib would read inline bytes the walker parses as opcodes.
   */
  joblibWrapperUntracked?: boolean;
  /** Set when the stream is a legacy (pre-1.6) PyTorch file: bytes after its pickles are raw storage data. */
  legacyTorch?: { rawStorageBytes: number };
}

/** Limits that keep the walker's memory and time bounded on hostile input. */
export interface PickleWalkerLimits {
  /** Payloads up to this size are buffered to be decoded; larger ones are skipped (default 64 KiB). */
  inlineBytes: number;
  /** Most entries on the simulated stack (default 1,000,000). */
  maxStack: number;
  /** Most memo entries (default 8,000,000). */
  maxMemo: number;
  /** Most open MARKs (default 10,000). */
  maxMarks: number;
  /** Most opcodes in the stream (default 400,000,000). */
  maxOpcodes: number;
  /** Bytes of decoded strings, tuples and dicts kept per pickle before new ones become opaque (default 64 MiB). */
  maxValueBytes: number;
}

const DEFAULT_LIMITS: PickleWalkerLimits = {
  inlineBytes: 64 * 1024,
  maxStack: 1_000_000,
  maxMemo: 8_000_000,
  maxMarks: 10_000,
  maxOpcodes: 400_000_000,
  maxValueBytes: 64 * 1024 * 1024,
};

/** Kinds of the errors that stop a walk (each becomes a finding of that kind). */
export type PickleWalkErrorKind =
  | 'corrupt_pickle'
  | 'pickle_mark_limit'
  | 'pickle_stack_limit'
  | 'pickle_memo_limit'
  | 'pickle_opcode_limit'
  | 'joblib_array_unresolved'
  | 'joblib_object_array'
  | 'joblib_array_in_frame';

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

/**
 * What the walker knows about a stack or memo entry. `w` marks a value that holds joblib's
 * NumpyArrayWrapper class (see {@link PickleWalkSummary.joblibWrapperUntracked}).
 */
type Value =
  | { k: 'any'; w?: boolean }
  | { k: 'str'; s: string; w?: undefined }
  | { k: 'int'; n: number; w?: undefined }
  | { k: 'big'; n: bigint; w?: undefined }
  | { k: 'bool'; b: boolean; w?: undefined }
  | { k: 'none'; w?: undefined }
  | { k: 'global'; g: string; w?: boolean }
  | { k: 'tuple'; items: Value[]; w?: boolean }
  | { k: 'dict'; entries: Map<string, Value> | null; w?: boolean }
  | DtypeValue
  | WrapperValue;

/** A `numpy.dtype(code, False, True)` the walker can size, until a BUILD it cannot follow. */
interface DtypeValue {
  k: 'dtype';
  /** Whether the code is an extended type (void, bytes, str), whose size the state sets. */
  extended: boolean;
  /** Item size in bytes, `'object'` for an object dtype, or null when the walker cannot tell. */
  itemSize: number | 'object' | null;
  w?: undefined;
}

/** An instance of joblib's NumpyArrayWrapper: its attributes, or null when they cannot be known. */
interface WrapperValue {
  k: 'wrapper';
  attrs: Map<string, Value> | null;
  w?: undefined;
}

const ANY: Value = { k: 'any' };
const EMPTY_TUPLE: Value = { k: 'tuple', items: [] };
/** An opaque value that holds the NumpyArrayWrapper class. */
const ANY_WRAPPER_CLASS: Value = { k: 'any', w: true };
const NONE: Value = { k: 'none' };
const TRUE: Value = { k: 'bool', b: true };
const FALSE: Value = { k: 'bool', b: false };
const SMALL_INTS: Value[] = Array.from({ length: 256 }, (_, n) => ({ k: 'int', n }));
/** Longest string kept as a value (module and attribute names are far shorter). */
const MAX_STRING_VALUE = 1024;
/** Most items of a tuple, or entries of a dict, kept as a literal. */
const MAX_LITERAL_ITEMS = 16;
/** Bytes charged for one kept value besides its characters. */
const VALUE_OVERHEAD = 32;
/** Global names of joblib's array wrapper class: its BUILD makes joblib read inline array bytes. */
const WRAPPER_CLASS = 'joblib.numpy_pickle.NumpyArrayWrapper';
/** Item sizes of the numeric dtype codes joblib writes inline. */
const NUMERIC_ITEM_SIZES: Record<string, number> = {
  b1: 1, i1: 1, u1: 1, i2: 2, u2: 2, f2: 2, i4: 4, u4: 4, f4: 4, i8: 8, u8: 8, f8: 8, c8: 8, f16: 16, c16: 16, c32: 32,
};
/** Memo indices below this are kept in pages of {@link MEMO_PAGE} entries (at most 64 MiB of pages); others in a map. */
const DENSE_MEMO = 1 << 23;
/** Entries per memo page (allocated when an index in its range is first stored). */
const MEMO_PAGE_BITS = 12;
const MEMO_PAGE = 1 << MEMO_PAGE_BITS;
/** Bytes of the next chunk joined to a pending tail: more than any inline payload and its header. */
const JOIN_BYTES_EXTRA = 64;

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

/** Raised inside the walker for input that stops the walk: what the real unpickler would reject, or a bound. */
class PickleFormatError extends Error {
  constructor(
    message: string,
    readonly kind: PickleWalkErrorKind = 'corrupt_pickle',
  ) {
    super(message);
  }
}

/** Result of trying to decode one opcode from the buffered bytes. */
const NEED_MORE = -1;

const QUOTED_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '\n': '' };

/** Decodes the argument of a protocol-0 STRING opcode (a Python `repr` of a byte string), in one linear pass. */
function decodeQuotedString(line: string): string {
  const q = line[0];
  if (line.length < 2 || (q !== '"' && q !== "'") || line[line.length - 1] !== q) {
    throw new PickleFormatError('the STRING opcode argument must be quoted');
  }
  let out = '';
  const end = line.length - 1;
  for (let i = 1; i < end; i++) {
    const c = line[i]!;
    if (c !== '\\' || i + 1 >= end) {
      out += c;
      continue;
    }
    const e = line[++i]!;
    if (e === 'x' && i + 2 < end + 1 && /^[0-9a-fA-F]{2}$/.test(line.slice(i + 1, i + 3))) {
      out += String.fromCharCode(parseInt(line.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (e >= '0' && e <= '7') {
      let digits = e;
      while (digits.length < 3 && i + 1 < end && line[i + 1]! >= '0' && line[i + 1]! <= '7') digits += line[++i]!;
      out += String.fromCharCode(parseInt(digits, 8) & 0xff);
    } else out += QUOTED_ESCAPES[e] ?? `\\${e}`;
  }
  return out;
}

/** Decodes `raw-unicode-escape` (the protocol-0 UNICODE opcode argument), in one linear pass. */
function decodeRawUnicodeEscape(bytes: Buffer): string {
  const text = bytes.toString('latin1');
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const width = text[i] === '\\' ? (text[i + 1] === 'u' ? 4 : text[i + 1] === 'U' ? 8 : 0) : 0;
    const hex = width ? text.slice(i + 2, i + 2 + width) : '';
    if (width && hex.length === width && /^[0-9a-fA-F]+$/.test(hex)) {
      const code = parseInt(hex, 16);
      if (code > 0x10ffff) throw new PickleFormatError('UNICODE: \\U escape beyond U+10FFFF');
      out += String.fromCodePoint(code);
      i += 1 + width;
    } else out += text[i];
  }
  return out;
}

/** Item size of a dtype built from `code` with `numpy.dtype(code, False, True)`: a number, `'object'`, or null when unknown. */
function dtypeItemSize(code: string): number | 'object' | null {
  const m = /^[<>|=]?([a-zA-Z])(\d{0,9})(\[[a-zA-Z]{1,3}\])?$/.exec(code);
  if (!m) return null;
  const [, letter, digits] = m;
  if (letter === 'O') return 'object';
  if (letter === 'V' || letter === 'S') return digits ? Number(digits) : null;
  if (letter === 'U') return digits ? 4 * Number(digits) : null;
  if (letter === 'M' || letter === 'm') return digits === '8' ? 8 : null;
  return NUMERIC_ITEM_SIZES[`${letter}${digits}`] ?? null;
}

/** True for dtype codes whose item size comes from the pickled state (numpy's extended types). */
function isExtendedDtype(code: string): boolean {
  return /^[<>|=]?[VSU]/.test(code);
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
  /** Bytes of a large payload (or a joblib array) still to be skipped. */
  private skipBytes = 0;
  /** Newlines still to be skipped (an over-long line argument). */
  private skipLines = 0;
  /** Set after a joblib array's BUILD: its bytes (after the padding) still to be skipped; -1 when none. */
  private arrayAfterPadding = -1;
  /** The simulated stack: entries `[0, sp)` are live (entries above may be stale). */
  private stack: Value[] = [];
  private sp = 0;
  private marks: number[] = [];
  /** Memo entries by index, in pages: faster than one growing array, and a sparse index costs one page. */
  private memoPages: Array<Array<Value | undefined> | undefined> = [];
  private memoSparse = new Map<number, Value>();
  private memoCount = 0;
  /** Bytes of decoded values kept in this pickle (bounded by `maxValueBytes`). */
  private valueBytes = 0;
  /** Stream offset where the current FRAME ends (-1 outside frames). */
  private frameEnd = -1;
  private inPickle = false;
  private stopped = false;
  private protocol = 0;
  private pickles = 0;
  private opcodes = 0;
  private persistentIds = 0;
  private calls = 0;
  private imports = 0;
  private joblibArrays = 0;
  private wrapperUntracked = false;
  private error?: { offset: number; message: string; kind: PickleWalkErrorKind };
  private legacyTorch = false;
  private rawStorageBytes = 0;

  constructor(
    private readonly onImport: (imp: PickleImport) => void,
    private readonly onUnresolved: (imp: UnresolvedImport) => void,
    limits: Partial<PickleWalkerLimits> = {},
    /** Read as joblib's NumpyUnpickler does (inline arrays after a NumpyArrayWrapper's BUILD); otherwise as `pickle.load`. */
    private readonly joblib = false,
  ) {
    this.limits = { ...DEFAULT_LIMITS };
    for (const [key, value] of Object.entries(limits) as Array<[keyof PickleWalkerLimits, number | undefined]>) {
      if (value !== undefined) this.limits[key] = value;
    }
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
    if (this.pending.length > 0) {
      // Join the pending tail with just enough of the chunk to finish the opcode it holds,
      // instead of copying the whole chunk.
      const take = Math.min(data.length, this.limits.inlineBytes + JOIN_BYTES_EXTRA);
      const held = this.pending.length;
      const joined = Buffer.concat([this.pending, data.subarray(0, take)]);
      this.pending = Buffer.alloc(0);
      const used = this.run(joined);
      if (this.error || this.stopped) {
        this.push(data.subarray(take));
        return;
      }
      if (used < held || (used < joined.length && take === data.length)) {
        this.pending = Buffer.concat([joined.subarray(used), data.subarray(take)]);
        return;
      }
      data = data.subarray(used - held);
    }
    const used = this.run(data);
    if (!this.error && !this.stopped && used < data.length) this.pending = Buffer.from(data.subarray(used));
  }

  /** Ends the stream and returns what was seen. */
  end(): PickleWalkSummary {
    if (!this.error && !this.stopped) {
      const total = this.base + this.pending.length;
      if (total === 0) this.error = { offset: 0, message: 'the stream is empty: not a pickle', kind: 'corrupt_pickle' };
      else if (this.inPickle || this.pending.length > 0 || this.skipBytes > 0 || this.skipLines > 0 || this.arrayAfterPadding >= 0) {
        this.error = { offset: total, message: `the pickle is truncated: it ends at byte ${total} before its STOP opcode`, kind: 'corrupt_pickle' };
      }
    }
    const summary: PickleWalkSummary = {
      pickles: this.pickles,
      protocol: this.protocol,
      bytes: this.base + this.pending.length,
      opcodes: this.opcodes,
      persistentIds: this.persistentIds,
      calls: this.calls,
      imports: this.imports,
      joblibArrays: this.joblibArrays,
    };
    if (this.error) summary.error = this.error;
    if (this.wrapperUntracked) summary.joblibWrapperUntracked = true;
    if (this.legacyTorch) summary.legacyTorch = { rawStorageBytes: this.rawStorageBytes };
    return summary;
  }

  private fail(offset: number, message: string, kind: PickleWalkErrorKind): void {
    this.error = { offset, message, kind };
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

  /**
   * Walks the opcodes of `buf` (whose first byte is at stream offset `base`) until the buffer ends,
   * an opcode needs more bytes, or a skip outruns the buffer. Advances `base` past what it used
   * (the whole buffer after an error) and returns how many bytes it used.
   */
  private run(buf: Buffer): number {
    let pos = 0;
    const length = buf.length;
    try {
      while (pos < length) {
        if (this.arrayAfterPadding >= 0) {
          // joblib's read_array: one byte gives the padding length, then padding, then the data.
          this.skipBytes = buf[pos]! + this.arrayAfterPadding;
          this.arrayAfterPadding = -1;
          pos += 1;
        }
        if (this.skipBytes > 0 || this.skipLines > 0) {
          pos += this.skip(buf.subarray(pos));
          if (this.skipBytes > 0 || this.skipLines > 0) break;
          continue;
        }
        const next = this.step(buf, pos);
        if (next === NEED_MORE) {
          this.opcodes -= 1;
          break;
        }
        pos = next;
        if (this.stopped) {
          this.rawStorageBytes += length - pos;
          pos = length;
          break;
        }
      }
    } catch (err) {
      const kind = err instanceof PickleFormatError ? err.kind : 'corrupt_pickle';
      this.fail(this.base + pos, err instanceof Error ? err.message : String(err), kind);
      this.base += length;
      return length;
    }
    this.base += pos;
    return pos;
  }

  // ---- stack helpers -------------------------------------------------------------------

  private frameBase(): number {
    return this.marks.length > 0 ? this.marks[this.marks.length - 1]! : 0;
  }

  private push1(value: Value): void {
    if (this.sp >= this.limits.maxStack) throw new PickleFormatError(`the pickle stack grows beyond ${this.limits.maxStack} entries`, 'pickle_stack_limit');
    this.stack[this.sp++] = value;
  }

  private pop1(op: string): Value {
    if (this.sp <= this.frameBase()) throw new PickleFormatError(`${op}: unpickling stack underflow`);
    return this.stack[--this.sp]!;
  }

  private top(op: string): Value {
    if (this.sp <= this.frameBase()) throw new PickleFormatError(`${op}: unpickling stack underflow`);
    return this.stack[this.sp - 1]!;
  }

  private popMark(op: string): Value[] {
    if (this.marks.length === 0) throw new PickleFormatError(`${op}: could not find MARK`);
    const at = this.marks.pop()!;
    const items = this.stack.slice(at, this.sp);
    this.sp = at;
    return items;
  }

  /** Pops the values above the last MARK and the MARK, without keeping them (nothing to follow outside joblib reading). */
  private dropMark(op: string): void {
    if (this.marks.length === 0) throw new PickleFormatError(`${op}: could not find MARK`);
    this.sp = this.marks.pop()!;
  }

  /** Replaces the top `count` entries by one opaque value (a tuple outside joblib reading). */
  private replaceTop(count: number, op: string): void {
    if (this.sp - this.frameBase() < count) throw new PickleFormatError(`${op}: unpickling stack underflow`);
    this.sp -= count - 1;
    this.stack[this.sp - 1] = ANY;
  }

  /** Notes values that leave the walker's sight (into a container or an unknown call). */
  private consumed(value: Value, other?: Value): void {
    if ((value.w === true || other?.w === true) && this.joblib) this.wrapperUntracked = true;
  }

  private consumedAll(values: Value[]): void {
    for (const v of values) if (v.w === true && this.joblib) this.wrapperUntracked = true;
  }

  /** Charges `bytes` of kept values; false when the per-pickle budget is spent (keep the value opaque). */
  private charge(bytes: number): boolean {
    if (this.valueBytes + bytes > this.limits.maxValueBytes) return false;
    this.valueBytes += bytes;
    return true;
  }

  private memoPut(index: number, op: string): void {
    if (index < 0) throw new PickleFormatError(`${op}: negative memo index`);
    const value = this.top(op);
    if (index < DENSE_MEMO) {
      const pageIndex = index >>> MEMO_PAGE_BITS;
      let page = this.memoPages[pageIndex];
      if (page === undefined) {
        while (this.memoPages.length < pageIndex) this.memoPages.push(undefined);
        page = new Array<Value | undefined>(MEMO_PAGE).fill(undefined);
        this.memoPages[pageIndex] = page;
      }
      const slot = index & (MEMO_PAGE - 1);
      if (page[slot] === undefined) this.newMemoEntry();
      page[slot] = value;
    } else {
      if (!this.memoSparse.has(index)) this.newMemoEntry();
      this.memoSparse.set(index, value);
    }
  }

  private newMemoEntry(): void {
    if (this.memoCount >= this.limits.maxMemo) throw new PickleFormatError(`the pickle memo grows beyond ${this.limits.maxMemo} entries`, 'pickle_memo_limit');
    this.memoCount += 1;
  }

  private memoGet(index: number, op: string): void {
    const pageIndex = index >>> MEMO_PAGE_BITS;
    // (A page past the array's end is tested first: reading past it is slow in V8.)
    const value = index >= DENSE_MEMO ? this.memoSparse.get(index) : pageIndex < this.memoPages.length ? this.memoPages[pageIndex]?.[index & (MEMO_PAGE - 1)] : undefined;
    if (value === undefined) throw new PickleFormatError(`${op}: memo value ${index} not found`);
    this.push1(value);
  }

  private importGlobal(module: string, name: string, opcode: PickleImport['opcode'], offset: number): Value {
    const mapped = PY2_MODULES[module] ?? module;
    this.imports += 1;
    this.onImport({ module: mapped, name, opcode, offset, pickleIndex: this.pickles });
    const g = `${mapped}.${name}`;
    if (g === WRAPPER_CLASS || name === 'NumpyArrayWrapper' || name.endsWith('.NumpyArrayWrapper')) return { k: 'global', g: WRAPPER_CLASS, w: true };
    return { k: 'global', g };
  }

  // ---- values --------------------------------------------------------------------------

  /** The string payload read last by {@link readPayload}, ending at `end`. */
  private strValue(buf: Buffer, end: number, encoding: 'utf8' | 'latin1'): Value {
    const length = end - this.payloadFrom;
    if (!this.payloadInline || length > MAX_STRING_VALUE || !this.charge(length + VALUE_OVERHEAD)) return ANY;
    const fast = buf as Buffer & { utf8Slice(start: number, end: number): string; latin1Slice(start: number, end: number): string };
    return { k: 'str', s: encoding === 'utf8' ? fast.utf8Slice(this.payloadFrom, end) : fast.latin1Slice(this.payloadFrom, end) };
  }

  private textValue(text: string): Value {
    if (text.length > MAX_STRING_VALUE || !this.charge(text.length + VALUE_OVERHEAD)) return ANY;
    return { k: 'str', s: text };
  }

  private intValue(n: number): Value {
    if (!this.joblib) return ANY; // only joblib's array wrappers need integer values
    return n >= 0 && n < 256 ? SMALL_INTS[n]! : { k: 'int', n };
  }

  /** A tuple of `items`: a literal when small and within budget, else opaque (keeping the wrapper mark). */
  private tupleValue(items: Value[]): Value {
    if (!this.joblib) return ANY; // only joblib's array wrappers need tuple values
    let w = false;
    let informative = false;
    for (const item of items) {
      if (item.w === true) w = true;
      if (item !== ANY) informative = true;
    }
    if (items.length === 0) return EMPTY_TUPLE;
    if (!informative) return ANY;
    if (items.length > MAX_LITERAL_ITEMS || !this.charge(VALUE_OVERHEAD + 8 * items.length)) return w ? ANY_WRAPPER_CLASS : ANY;
    return w ? { k: 'tuple', items, w } : { k: 'tuple', items };
  }

  /** Applies SETITEM(S) pairs to `target`: a literal dict keeps them while small; elsewhere the values are consumed. */
  private setItems(target: Value, pairs: Value[]): void {
    if (target.k !== 'dict' || target.entries === null) {
      this.consumedAll(pairs);
      return;
    }
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const key = pairs[i]!;
      const value = pairs[i + 1]!;
      if (value.w === true) target.w = true;
      if (target.entries === null) continue;
      if (key.k !== 'str' || (!target.entries.has(key.s) && target.entries.size >= MAX_LITERAL_ITEMS) || !this.charge(VALUE_OVERHEAD)) {
        target.entries = null;
        continue;
      }
      target.entries.set(key.s, value);
    }
  }

  /** A new NumpyArrayWrapper instance; with `initArgs`, its `__init__` ran with those positional arguments. */
  private wrapperInstance(initArgs?: Value[] | null): Value {
    if (initArgs === undefined) return { k: 'wrapper', attrs: new Map() };
    if (initArgs === null || initArgs.length < 4 || initArgs.length > 6) return { k: 'wrapper', attrs: null };
    const names = ['subclass', 'shape', 'order', 'dtype', 'allow_mmap', 'numpy_array_alignment_bytes'];
    const defaults: Value[] = [ANY, ANY, ANY, ANY, FALSE, SMALL_INTS[16]!];
    return { k: 'wrapper', attrs: new Map(names.map((n, i) => [n, initArgs[i] ?? defaults[i]!])) };
  }

  /** The result of calling `callable` with the argument tuple `args` (REDUCE). */
  private callResult(callable: Value, args: Value): Value {
    this.calls += 1;
    if (callable.k === 'global' && callable.g === WRAPPER_CLASS) return this.wrapperInstance(args.k === 'tuple' ? args.items : null);
    if (callable.k === 'global' && callable.g === 'copyreg._reconstructor' && args.k === 'tuple' && args.items[0]?.k === 'global' && args.items[0].g === WRAPPER_CLASS) {
      this.consumedAll(args.items.slice(1));
      return this.wrapperInstance();
    }
    if (callable.k === 'global' && callable.g === 'numpy.dtype' && args.k === 'tuple' && args.items[0]?.k === 'str') {
      return { k: 'dtype', itemSize: dtypeItemSize(args.items[0].s), extended: isExtendedDtype(args.items[0].s) };
    }
    this.consumed(callable, args);
    return ANY;
  }

  /** BUILD: sets `state` on `inst`; for a NumpyArrayWrapper, arranges to skip the array joblib reads inline. */
  private build(inst: Value, state: Value, offset: number): void {
    if (inst.k === 'wrapper' && this.joblib) {
      this.applyWrapperState(inst, state);
      this.stack[this.sp - 1] = ANY; // joblib replaces the wrapper with the array
      this.scheduleArray(inst, offset);
      return;
    }
    if (inst.k === 'dtype') {
      this.applyDtypeState(inst, state);
      return;
    }
    this.consumed(state);
  }

  private applyWrapperState(inst: WrapperValue, state: Value): void {
    const parts = state.k === 'tuple' && state.items.length === 2 ? state.items : [state];
    for (const part of parts) {
      if (part.k === 'none' || (part.k === 'tuple' && part.items.length === 0)) continue;
      if (part.k !== 'dict' || part.entries === null || inst.attrs === null) {
        inst.attrs = null;
        continue;
      }
      for (const [key, value] of part.entries) inst.attrs.set(key, value);
    }
  }

  private applyDtypeState(inst: DtypeValue, state: Value): void {
    // numpy's dtype state: (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata]).
    // With version 3 and 4 numpy takes the flags (and so `hasobject`, bit 0x01) and, for extended
    // types, the item size from the state as written; the walker reads them the same way.
    const items = state.k === 'tuple' ? state.items : [];
    const [version, , subarray, names, fields, elsize, , flags] = items;
    if (
      (items.length !== 8 && items.length !== 9) ||
      version?.k !== 'int' ||
      (version.n !== 3 && version.n !== 4) ||
      subarray?.k !== 'none' ||
      elsize?.k !== 'int' ||
      flags?.k !== 'int'
    ) {
      inst.itemSize = null;
      return;
    }
    if ((flags.n & 1) !== 0) {
      inst.itemSize = 'object';
      return;
    }
    if (inst.itemSize === 'object') inst.itemSize = null;
    if (inst.extended) inst.itemSize = elsize.n > 0 ? elsize.n : null;
    else if (elsize.n !== -1 && elsize.n !== inst.itemSize) inst.itemSize = null;
    if (names?.k === 'none' && fields?.k === 'none') return;
    // A structured dtype: every field must itself be a sized, non-object dtype.
    const fieldsOk =
      fields?.k === 'dict' &&
      fields.entries !== null &&
      [...fields.entries.values()].every((f) => f.k === 'tuple' && f.items[0]?.k === 'dtype' && typeof f.items[0].itemSize === 'number');
    if (!fieldsOk || !inst.extended) inst.itemSize = null;
  }

  /** Works out how many bytes joblib's read_array takes after this BUILD, or stops the walk. */
  private scheduleArray(wrapper: WrapperValue, offset: number): void {
    const unresolved = (why: string): never => {
      throw new PickleFormatError(`joblib NumpyArrayWrapper at byte ${offset}: ${why}; the inline array bytes cannot be located, so the rest cannot be scanned`, 'joblib_array_unresolved');
    };
    if (this.frameEnd > offset + 1) {
      throw new PickleFormatError(
        `joblib NumpyArrayWrapper at byte ${offset} is built inside a FRAME that goes on for ${this.frameEnd - offset - 1} bytes: joblib would read the array after the frame, not after the BUILD`,
        'joblib_array_in_frame',
      );
    }
    const attrs = wrapper.attrs;
    if (attrs === null) return unresolved('its state is not a literal the scanner can read');
    const dtype = attrs.get('dtype');
    if (dtype?.k !== 'dtype' || dtype.itemSize === null) return unresolved('its dtype is not a plain numeric numpy.dtype');
    if (dtype.itemSize === 'object') {
      throw new PickleFormatError(`joblib NumpyArrayWrapper at byte ${offset} holds an object array: joblib reads a nested pickle there; failing closed`, 'joblib_object_array');
    }
    const shape = attrs.get('shape');
    if (shape?.k !== 'tuple') return unresolved('its shape is not a literal tuple of integers');
    let count = 1n;
    for (const dim of shape.items) {
      if (dim.k !== 'int' || dim.n < 0) return unresolved('its shape is not a literal tuple of non-negative integers');
      count *= BigInt(dim.n);
    }
    if (count >= 1n << 63n) return unresolved('its element count overflows numpy.int64');
    const bytes = count * BigInt(dtype.itemSize);
    if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) return unresolved('its byte count is beyond any file');
    // joblib reads a padding byte-count byte whenever the attribute is not None (absent counts as None).
    const alignment = attrs.get('numpy_array_alignment_bytes') ?? NONE;
    if (alignment.k === 'any' || alignment.k === 'wrapper') return unresolved('its numpy_array_alignment_bytes is not a literal');
    this.joblibArrays += 1;
    if (alignment.k === 'none') this.skipBytes = Number(bytes);
    else this.arrayAfterPadding = Number(bytes);
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

  /** Set by {@link readPayload}: where the payload starts, and whether it is buffered whole (else skipped). */
  private payloadFrom = 0;
  private payloadInline = false;

  /**
   * Reads a length-prefixed payload at `from` of `length` bytes; returns the position after it (or
   * after what is buffered) or NEED_MORE. Small payloads are available whole in `buf` from
   * `payloadFrom` (`payloadInline`); large ones are skipped as they arrive, never buffered.
   */
  private readPayload(buf: Buffer, from: number, length: number): number {
    this.payloadFrom = from;
    if (length <= this.limits.inlineBytes) {
      if (buf.length - from < length) return NEED_MORE;
      this.payloadInline = true;
      return from + length;
    }
    this.payloadInline = false;
    const available = Math.min(buf.length - from, length);
    this.skipBytes = length - available;
    return from + available;
  }

  /**
   * Pushes the value of a newline-terminated argument at `from` (decoded by `decode`, opaque when
   * there is none or the line is over the inline limit); returns the position after it or NEED_MORE.
   */
  private pushLine(buf: Buffer, from: number, decode?: (line: Buffer) => Value): number {
    const line = this.readLine(buf, from);
    if (line === NEED_MORE) return NEED_MORE;
    if (line === null) {
      this.push1(ANY);
      return buf.length;
    }
    this.push1(decode ? decode(line.text) : ANY);
    return line.next;
  }

  private readDecimal(text: Buffer, op: string): number {
    const s = text.toString('latin1').trim();
    if (s.length > 20 || !/^-?\d+$/.test(s)) throw new PickleFormatError(`${op}: the index is not a decimal integer`);
    return Number(s);
  }

  /** Decodes the opcode at `pos`; returns the position after it or NEED_MORE. */
  private step(buf: Buffer, pos: number): number {
    const op = buf[pos]!;
    const offset = this.base + pos;
    const avail = buf.length - pos - 1;
    const a = pos + 1;
    if (!this.inPickle) this.inPickle = true;
    if (++this.opcodes > this.limits.maxOpcodes) throw new PickleFormatError(`the stream has more than ${this.limits.maxOpcodes} opcodes`, 'pickle_opcode_limit');
    let r: number;
    switch (op) {
      case 0x28: // MARK
        if (this.marks.length >= this.limits.maxMarks) throw new PickleFormatError(`more than ${this.limits.maxMarks} MARKs are open at once`, 'pickle_mark_limit');
        this.marks.push(this.sp);
        return a;
      case 0x2e: {
        // STOP
        const value = this.pop1('STOP');
        this.pickles += 1;
        this.inPickle = false;
        if (this.pickles === 1 && value.k === 'big' && value.n === LEGACY_TORCH_MAGIC) this.legacyTorch = true;
        this.stack = [];
        this.sp = 0;
        this.marks = [];
        this.memoPages = [];
        this.memoSparse = new Map();
        this.memoCount = 0;
        this.valueBytes = 0;
        if (this.legacyTorch && this.pickles === LEGACY_TORCH_PICKLES) this.stopped = true;
        return a;
      }
      case 0x30: // POP
        if (this.sp > this.frameBase()) this.sp -= 1;
        else this.popMark('POP');
        return a;
      case 0x31: // POP_MARK
        this.popMark('POP_MARK');
        return a;
      case 0x32: // DUP
        this.push1(this.top('DUP'));
        return a;
      case 0x46: // FLOAT
      case 0x4c: // LONG
        return this.pushLine(buf, a);
      case 0x49: // INT (protocol 0; "I01"/"I00" are True/False)
        return this.pushLine(buf, a, (line) => {
          const text = line.toString('latin1');
          if (text === '01') return TRUE;
          if (text === '00') return FALSE;
          return /^-?\d{1,15}$/.test(text) ? this.intValue(Number(text)) : ANY;
        });
      case 0x4a: // BININT
        if (avail < 4) return NEED_MORE;
        this.push1(this.intValue(buf.readInt32LE(a)));
        return a + 4;
      case 0x4b: // BININT1
        if (avail < 1) return NEED_MORE;
        this.push1(this.joblib ? SMALL_INTS[buf[a]!]! : ANY);
        return a + 1;
      case 0x4d: // BININT2
        if (avail < 2) return NEED_MORE;
        this.push1(this.intValue(buf.readUInt16LE(a)));
        return a + 2;
      case 0x8a: {
        // LONG1
        if (avail < 1) return NEED_MORE;
        const n = buf[a]!;
        r = this.readPayload(buf, a + 1, n);
        if (r === NEED_MORE) return NEED_MORE;
        if (this.payloadInline && n <= 16 && (this.joblib || n > 6)) {
          const at = this.payloadFrom;
          let v = 0n;
          for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[at + i]!);
          if (n > 0 && (buf[at + n - 1]! & 0x80) !== 0) v -= 1n << BigInt(8 * n);
          this.push1(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? this.intValue(Number(v)) : { k: 'big', n: v });
        } else this.push1(ANY);
        return r;
      }
      case 0x8b: {
        // LONG4
        if (avail < 4) return NEED_MORE;
        const n = buf.readInt32LE(a);
        if (n < 0) throw new PickleFormatError('LONG4: negative byte count');
        r = this.readPayload(buf, a + 4, n);
        if (r === NEED_MORE) return NEED_MORE;
        this.push1(ANY);
        return r;
      }
      case 0x4e: // NONE
        this.push1(NONE);
        return a;
      case 0x88: // NEWTRUE
        this.push1(TRUE);
        return a;
      case 0x89: // NEWFALSE
        this.push1(FALSE);
        return a;
      case 0x7d: // EMPTY_DICT
        this.push1(this.joblib && this.charge(VALUE_OVERHEAD) ? { k: 'dict', entries: new Map() } : ANY);
        return a;
      case 0x5d: // EMPTY_LIST
      case 0x29: // EMPTY_TUPLE
      case 0x8f: // EMPTY_SET
      case 0x97: // NEXT_BUFFER
        this.push1(op === 0x29 ? EMPTY_TUPLE : ANY);
        return a;
      case 0x47: // BINFLOAT
        if (avail < 8) return NEED_MORE;
        this.push1(ANY);
        return a + 8;
      case 0x50: {
        // PERSID
        const next = this.pushLine(buf, a);
        if (next !== NEED_MORE) this.persistentIds += 1;
        return next;
      }
      case 0x51: // BINPERSID
        this.consumed(this.pop1('BINPERSID'));
        this.persistentIds += 1;
        this.push1(ANY);
        return a;
      case 0x52: {
        // REDUCE
        const args = this.pop1('REDUCE');
        const callable = this.pop1('REDUCE');
        this.push1(this.callResult(callable, args));
        return a;
      }
      case 0x53: // STRING
        return this.pushLine(buf, a, (line) => this.textValue(decodeQuotedString(line.toString('latin1'))));
      case 0x54: {
        // BINSTRING
        if (avail < 4) return NEED_MORE;
        const n = buf.readInt32LE(a);
        if (n < 0) throw new PickleFormatError('BINSTRING pickle has negative byte count');
        r = this.readPayload(buf, a + 4, n);
        if (r === NEED_MORE) return NEED_MORE;
        this.push1(this.strValue(buf, r, 'latin1'));
        return r;
      }
      case 0x55: // SHORT_BINSTRING
        if (avail < 1) return NEED_MORE;
        r = this.readPayload(buf, a + 1, buf[a]!);
        if (r === NEED_MORE) return NEED_MORE;
        this.push1(this.strValue(buf, r, 'latin1'));
        return r;
      case 0x56: // UNICODE
        return this.pushLine(buf, a, (line) => this.textValue(decodeRawUnicodeEscape(line)));
      case 0x58: // BINUNICODE
        if (avail < 4) return NEED_MORE;
        r = this.readPayload(buf, a + 4, buf.readUInt32LE(a));
        if (r === NEED_MORE) return NEED_MORE;
        this.push1(this.strValue(buf, r, 'utf8'));
        return r;
      case 0x8c: // SHORT_BINUNICODE
        if (avail < 1) return NEED_MORE;
        r = this.readPayload(buf, a + 1, buf[a]!);
        if (r === NEED_MORE) return NEED_MORE;
        this.push1(this.strValue(buf, r, 'utf8'));
        return r;
      case 0x8d: // BINUNICODE8
      case 0x8e: // BINBYTES8
      case 0x96: {
        // BYTEARRAY8
        if (avail < 8) return NEED_MORE;
        const n = buf.readBigUInt64LE(a);
        if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new PickleFormatError(`${OPCODE_NAMES[op]}: absurd length ${n}`);
        r = this.readPayload(buf, a + 8, Number(n));
        if (r === NEED_MORE) return NEED_MORE;
        this.push1(op === 0x8d ? this.strValue(buf, r, 'utf8') : ANY);
        return r;
      }
      case 0x42: // BINBYTES
        if (avail < 4) return NEED_MORE;
        r = this.readPayload(buf, a + 4, buf.readUInt32LE(a));
        if (r === NEED_MORE) return NEED_MORE;
        this.push1(ANY);
        return r;
      case 0x43: // SHORT_BINBYTES
        if (avail < 1) return NEED_MORE;
        r = this.readPayload(buf, a + 1, buf[a]!);
        if (r === NEED_MORE) return NEED_MORE;
        this.push1(ANY);
        return r;
      case 0x61: // APPEND
        if (this.sp - this.frameBase() < 2) throw new PickleFormatError('APPEND: unpickling stack underflow');
        this.consumed(this.stack[--this.sp]!);
        return a;
      case 0x62: {
        // BUILD
        if (this.sp - this.frameBase() < 2) throw new PickleFormatError('BUILD: unpickling stack underflow');
        const state = this.stack[--this.sp]!;
        this.build(this.stack[this.sp - 1]!, state, offset);
        return a;
      }
      case 0x63: // GLOBAL
      case 0x69: {
        // INST
        const opName = op === 0x63 ? 'GLOBAL' : 'INST';
        const first = this.readLine(buf, a, 1);
        if (first === NEED_MORE) return NEED_MORE;
        if (first === null) {
          this.imports += 1;
          this.onUnresolved({ opcode: opName, offset, pickleIndex: this.pickles, reason: `${opName} module name longer than ${this.limits.inlineBytes} bytes` });
          if (op === 0x69) this.consumedAll(this.popMark(opName));
          this.push1(ANY);
          return buf.length;
        }
        const second = this.readLine(buf, first.next);
        if (second === NEED_MORE) return NEED_MORE;
        if (second === null) {
          this.imports += 1;
          this.onUnresolved({ opcode: opName, offset, pickleIndex: this.pickles, reason: `${opName} attribute name longer than ${this.limits.inlineBytes} bytes` });
          if (op === 0x69) this.consumedAll(this.popMark(opName));
          this.push1(ANY);
          return buf.length;
        }
        const g = this.importGlobal(first.text.toString('utf8'), second.text.toString('utf8'), opName, offset);
        if (op === 0x69) {
          const args = this.popMark('INST');
          this.calls += 1;
          if (g.k === 'global' && g.g === WRAPPER_CLASS) this.push1(this.wrapperInstance(args));
          else {
            this.consumedAll(args);
            this.push1(ANY);
          }
        } else this.push1(g);
        return second.next;
      }
      case 0x64: {
        // DICT
        const items = this.popMark('DICT');
        const dict: Value = this.joblib && this.charge(VALUE_OVERHEAD) ? { k: 'dict', entries: new Map() } : ANY;
        this.setItems(dict, items);
        this.push1(dict);
        return a;
      }
      case 0x74: // TUPLE
        if (this.joblib) this.push1(this.tupleValue(this.popMark('TUPLE')));
        else {
          this.dropMark('TUPLE');
          this.push1(ANY);
        }
        return a;
      case 0x6c: // LIST
      case 0x91: // FROZENSET
        if (this.joblib) this.consumedAll(this.popMark(OPCODE_NAMES[op]!));
        else this.dropMark(OPCODE_NAMES[op]!);
        this.push1(ANY);
        return a;
      case 0x65: // APPENDS
      case 0x90: // ADDITEMS
        if (this.joblib) this.consumedAll(this.popMark(OPCODE_NAMES[op]!));
        else this.dropMark(OPCODE_NAMES[op]!);
        if (this.sp <= this.frameBase()) throw new PickleFormatError(`${OPCODE_NAMES[op]}: unpickling stack underflow`);
        return a;
      case 0x75: {
        // SETITEMS
        if (!this.joblib) {
          this.dropMark('SETITEMS');
          if (this.sp <= this.frameBase()) throw new PickleFormatError('SETITEMS: unpickling stack underflow');
          return a;
        }
        const items = this.popMark('SETITEMS');
        if (this.sp <= this.frameBase()) throw new PickleFormatError('SETITEMS: unpickling stack underflow');
        this.setItems(this.stack[this.sp - 1]!, items);
        return a;
      }
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
        this.memoPut(buf.readUInt32LE(a), 'LONG_BINPUT');
        return a + 4;
      case 0x94: // MEMOIZE
        this.memoPut(this.memoCount, 'MEMOIZE');
        return a;
      case 0x6f: {
        // OBJ
        const items = this.popMark('OBJ');
        if (items.length === 0) throw new PickleFormatError('OBJ: no class on the stack');
        this.calls += 1;
        const cls = items[0]!;
        if (cls.k === 'global' && cls.g === WRAPPER_CLASS) this.push1(this.wrapperInstance(items.slice(1)));
        else {
          this.consumedAll(items);
          this.push1(ANY);
        }
        return a;
      }
      case 0x73: {
        // SETITEM
        if (this.sp - this.frameBase() < 3) throw new PickleFormatError('SETITEM: unpickling stack underflow');
        const value = this.stack[--this.sp]!;
        const key = this.stack[--this.sp]!;
        this.setItems(this.stack[this.sp - 1]!, [key, value]);
        return a;
      }
      case 0x85: // TUPLE1
        if (this.joblib) this.push1(this.tupleValue([this.pop1('TUPLE1')]));
        else this.replaceTop(1, 'TUPLE1');
        return a;
      case 0x86: {
        // TUPLE2
        if (!this.joblib) {
          this.replaceTop(2, 'TUPLE2');
          return a;
        }
        const second = this.pop1('TUPLE2');
        this.push1(this.tupleValue([this.pop1('TUPLE2'), second]));
        return a;
      }
      case 0x87: {
        // TUPLE3
        if (!this.joblib) {
          this.replaceTop(3, 'TUPLE3');
          return a;
        }
        const third = this.pop1('TUPLE3');
        const second = this.pop1('TUPLE3');
        this.push1(this.tupleValue([this.pop1('TUPLE3'), second, third]));
        return a;
      }
      case 0x81: {
        // NEWOBJ
        const args = this.pop1('NEWOBJ');
        const cls = this.pop1('NEWOBJ');
        this.calls += 1;
        if (cls.k === 'global' && cls.g === WRAPPER_CLASS) {
          this.consumed(args);
          this.push1(this.wrapperInstance());
        } else {
          this.consumed(cls, args);
          this.push1(ANY);
        }
        return a;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = this.pop1('NEWOBJ_EX');
        const args = this.pop1('NEWOBJ_EX');
        const cls = this.pop1('NEWOBJ_EX');
        this.calls += 1;
        this.consumed(args, kwargs);
        if (cls.k === 'global' && cls.g === WRAPPER_CLASS) this.push1(this.wrapperInstance());
        else {
          this.consumed(cls);
          this.push1(ANY);
        }
        return a;
      }
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: {
        // EXT4
        const width = op === 0x82 ? 1 : op === 0x83 ? 2 : 4;
        if (avail < width) return NEED_MORE;
        const code = width === 1 ? buf[a]! : width === 2 ? buf.readUInt16LE(a) : buf.readInt32LE(a);
        this.imports += 1;
        this.onUnresolved({ opcode: OPCODE_NAMES[op]!, offset, pickleIndex: this.pickles, reason: `imports through the copyreg extension registry (code ${code}), which cannot be resolved statically` });
        this.push1(ANY);
        return a + width;
      }
      case 0x80: // PROTO
        if (avail < 1) return NEED_MORE;
        if (buf[a]! > 5) throw new PickleFormatError(`unsupported pickle protocol: ${buf[a]}`);
        this.protocol = Math.max(this.protocol, buf[a]!);
        return a + 1;
      case 0x95: {
        // FRAME
        if (avail < 8) return NEED_MORE;
        const frame = buf.readBigUInt64LE(a);
        this.frameEnd = frame > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : offset + 9 + Number(frame);
        return a + 8;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = this.pop1('STACK_GLOBAL');
        const module = this.pop1('STACK_GLOBAL');
        if (module.k === 'str' && name.k === 'str') {
          this.push1(this.importGlobal(module.s, name.s, 'STACK_GLOBAL', offset));
        } else {
          this.imports += 1;
          this.onUnresolved({
            opcode: 'STACK_GLOBAL',
            offset,
            pickleIndex: this.pickles,
            reason: 'module and name are not string constants (computed at load time, or too long to keep)',
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

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { isDangerous } from '../../src/checks/security/findings';
import { DEFAULT_SCAN_LIMITS } from '../../src/checks/security/limits';
import { PickleWalker } from '../../src/checks/security/pickle-walker';
import { type ScanOptions, scanFile } from '../../src/checks/security/scanner';

// Adversarial inputs for each bound of the scanner: each must end in a named dangerous finding,
// within about a second per MB of input, without the worker's memory growing with the input.

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'modelgate-limits-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function scan(name: string, data: Buffer, options: ScanOptions = {}) {
  const file = path.join(dir, name);
  writeFileSync(file, data);
  const started = Date.now();
  const result = await scanFile(file, name, options);
  return { kinds: result.findings.map((f) => f.kind), findings: result.findings, seconds: (Date.now() - started) / 1000, mb: data.length / 1e6 };
}

/** Walks `chunk` repeated `times` times (no copy of the whole stream is ever made). */
function walkRepeated(prefix: Buffer, chunk: Buffer, times: number, limits = {}) {
  const walker = new PickleWalker(() => undefined, () => undefined, limits);
  const started = Date.now();
  walker.push(prefix);
  for (let i = 0; i < times; i++) walker.push(chunk);
  return { summary: walker.end(), seconds: (Date.now() - started) / 1000, mb: (prefix.length + chunk.length * times) / 1e6 };
}

/** A little-endian record of `size` bytes with `[offset, width, value]` fields (the rest zero). */
function record(size: number, fields: Array<[number, 2 | 4, number]>): Buffer {
  const out = Buffer.alloc(size);
  for (const [offset, width, value] of fields) {
    if (width === 2) out.writeUInt16LE(value, offset);
    else out.writeUInt32LE(value >>> 0, offset);
  }
  return out;
}

/** A zip of stored or deflated members, written by hand. */
function zip(members: Array<{ name: string; data: Buffer; deflate?: boolean }>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    const body = m.deflate ? deflateRawSync(m.data) : m.data;
    const name = Buffer.from(m.name);
    const method = m.deflate ? 8 : 0;
    const crc = crc32(m.data);
    locals.push(record(30, [[0, 4, 0x04034b50], [4, 2, 20], [8, 2, method], [14, 4, crc], [18, 4, body.length], [22, 4, m.data.length], [26, 2, name.length]]), name, body);
    centrals.push(record(46, [[0, 4, 0x02014b50], [4, 2, 20], [6, 2, 20], [10, 2, method], [16, 4, crc], [20, 4, body.length], [24, 4, m.data.length], [28, 2, name.length], [42, 4, offset]]), name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = record(22, [[0, 4, 0x06054b50], [8, 2, members.length], [10, 2, members.length], [12, 4, cd.length], [16, 4, offset]]);
  return Buffer.concat([...locals, cd, end]);
}

describe('scanner bounds', () => {
  it('documents its defaults: 16 GiB decompressed in total, 200× per member past 32 MiB', () => {
    expect(DEFAULT_SCAN_LIMITS.maxUncompressedBytes).toBe(16 * 1024 ** 3);
    expect(DEFAULT_SCAN_LIMITS.maxCompressionRatio).toBe(200);
    expect(DEFAULT_SCAN_LIMITS.maxPickleMarks).toBe(10_000);
  });

  it('stops 140 MB of MARKs at the MARK bound instead of exhausting the heap', () => {
    const heap = process.memoryUsage().heapUsed;
    const r = walkRepeated(Buffer.from([0x80, 0x02]), Buffer.alloc(4 * 1024 * 1024, 0x28), 35);
    expect(r.summary.error?.kind).toBe('pickle_mark_limit');
    expect(r.seconds).toBeLessThan(r.mb);
    expect(process.memoryUsage().heapUsed - heap).toBeLessThan(64 * 1024 * 1024);
  });

  it('stops a stack of 2,000,000 entries, and 8,000,001 memo entries, with their own findings', () => {
    const stack = walkRepeated(Buffer.from([0x80, 0x02]), Buffer.alloc(1024 * 1024, 0x4e), 2);
    expect(stack.summary.error?.kind).toBe('pickle_stack_limit');
    const memo = walkRepeated(Buffer.from([0x80, 0x04, 0x4e]), Buffer.alloc(1024 * 1024, 0x94), 8);
    expect(memo.summary.error?.kind).toBe('pickle_memo_limit');
    expect(memo.seconds).toBeLessThan(memo.mb);
  });

  it('keeps at most the value budget of decoded strings, whatever their number', () => {
    const one = Buffer.concat([Buffer.from([0x58, 0xe8, 0x03, 0, 0]), Buffer.alloc(1000, 0x61), Buffer.from([0x94, 0x30])]);
    const chunk = Buffer.concat(Array.from({ length: 1000 }, () => one));
    const heap = process.memoryUsage().heapUsed;
    const r = walkRepeated(Buffer.from([0x80, 0x04]), chunk, 200);
    // 200,000 distinct 1000-character strings kept in the memo would be 200 MB; the budget is 64 MiB.
    expect(process.memoryUsage().heapUsed - heap).toBeLessThan(120 * 1024 * 1024);
    expect(r.summary.error?.message).toMatch(/truncated/);
  });

  it('bounds the opcode count through ScanOptions.limits', async () => {
    const r = await scan('many-opcodes.pkl', Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.alloc(10_000, 0x4e)]), { limits: { maxPickleOpcodes: 1000 } });
    expect(r.kinds).toContain('pickle_opcode_limit');
    expect(r.findings.find((f) => f.kind === 'pickle_opcode_limit')!.severity).toBe('critical');
  });

  it('fails a MARK bomb file through the scanner with a named finding', async () => {
    const r = await scan('marks.pkl', Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.alloc(16 * 1024 * 1024, 0x28)]));
    expect(r.kinds).toContain('pickle_mark_limit');
    expect(r.seconds).toBeLessThan(r.mb);
  });

  it('fails a 2 MB gzip bomb on its ratio in well under a second per MB', async () => {
    const zeros = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    const head = Buffer.concat([Buffer.from([0x80, 0x04, 0x8e]), Buffer.from([0, 0, 0, 0x80, 0, 0, 0, 0])]); // BINBYTES8 of 2 GiB
    const bomb = Buffer.concat([gzipSync(head), ...Array.from({ length: 32 }, () => zeros), gzipSync(Buffer.from('.'))]);
    const r = await scan('bomb.joblib', bomb, { declaredFormat: 'joblib' });
    expect(r.kinds).toContain('compression_ratio');
    expect(r.seconds).toBeLessThan(Math.max(1, r.mb));
  });

  it('fails a zip member past the ratio, and an archive past the member bound', async () => {
    const ratio = await scan('ratio.zip', zip([{ name: 'x.pkl', data: Buffer.alloc(64 * 1024 * 1024), deflate: true }]));
    expect(ratio.kinds).toContain('compression_ratio');
    expect(ratio.seconds).toBeLessThan(Math.max(1, ratio.mb));
    const many = zip(Array.from({ length: 6 }, (_, i) => ({ name: `m${i}.txt`, data: Buffer.from('x') })));
    const r = await scan('many.zip', many, { limits: { maxArchiveMembers: 5 } });
    expect(r.kinds).toContain('archive_member_limit');
    expect(r.findings.some(isDangerous)).toBe(true);
  });

  it('never echoes raw bytes of the file in a finding', async () => {
    const evil = `\u001b[31m${'A'.repeat(800)}\u0007`;
    const name = Buffer.from(evil);
    const pickle = Buffer.concat([Buffer.from([0x80, 0x04, 0x8c, 2]), Buffer.from('os'), Buffer.from([0x58]), Buffer.alloc(4), name, Buffer.from([0x93, 0x29, 0x52, 0x2e])]);
    pickle.writeUInt32LE(name.length, 7);
    const r = await scan('escape.pkl', pickle);
    const found = r.findings.find((f) => f.kind === 'dangerous_global')!;
    expect([...found.detail].some((c) => c.charCodeAt(0) < 0x20)).toBe(false);
    expect(found.detail.length).toBeLessThan(600);
    expect(found.global!.length).toBeLessThanOrEqual(201);
    expect([...found.global!].some((c) => c.charCodeAt(0) < 0x20)).toBe(false);
  });
});

describe('safetensors: judged from the header and the file length, as its loader does', () => {
  /** A safetensors file of one F32 tensor of `dataBytes` bytes, with `extra` bytes after it. */
  function safetensorsFile(dataBytes: number, extra = 0): Buffer {
    const header = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [dataBytes / 4], data_offsets: [0, dataBytes] } }));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    return Buffer.concat([length, header, Buffer.alloc(dataBytes + extra, 7)]);
  }

  async function scanCountingReads(name: string, data: Buffer) {
    const file = path.join(dir, name);
    writeFileSync(file, data);
    let read = 0;
    const result = await scanFile(file, name, { progress: (p) => (read = Math.max(read, p.bytes ?? 0)) });
    return { kinds: result.findings.map((f) => f.kind), read, size: data.length };
  }

  it('reads only the first chunk of a large valid file, and passes it', async () => {
    const { kinds, read, size } = await scanCountingReads('large.safetensors', safetensorsFile(64 * 1024 * 1024));
    expect(kinds).toEqual(['safetensors_valid']);
    expect(read).toBeLessThan(size / 4);
  });

  it('still finds bytes after the last tensor, and a file shorter than its header declares, without reading them', async () => {
    const trailing = await scanCountingReads('trailing-large.safetensors', safetensorsFile(64 * 1024 * 1024, 3));
    expect(trailing.kinds).toEqual(['trailing_bytes']);
    expect(trailing.read).toBeLessThan(trailing.size / 4);
    const whole = safetensorsFile(64 * 1024 * 1024);
    const truncated = await scanCountingReads('truncated-large.safetensors', whole.subarray(0, whole.length - 1));
    expect(truncated.kinds).toEqual(['truncated_safetensors']);
  });
});

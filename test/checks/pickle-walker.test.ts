import { type PickleImport, PickleWalker } from '../../src/checks/security/pickle-walker';

function walk(data: Buffer, chunk: number, joblib = false) {
  const imports: string[] = [];
  const unresolved: string[] = [];
  const walker = new PickleWalker((i: PickleImport) => imports.push(`${i.module}.${i.name}@${i.offset}`), (u) => unresolved.push(`${u.opcode}@${u.offset}`), { inlineBytes: joblib ? 64 : 16 }, joblib);
  for (let i = 0; i < data.length; i += chunk) walker.push(data.subarray(i, i + chunk));
  return { imports, unresolved, summary: walker.end() };
}

const sbu = (s: string) => Buffer.concat([Buffer.from([0x8c, s.length]), Buffer.from(s)]);
// PROTO 4, a 40-byte BINBYTES payload (longer than the 16-byte inline limit), os/system via MEMOIZE + BINGET, STACK_GLOBAL, STOP;
// then a second protocol-0 pickle importing builtins.eval with GLOBAL.
const stream = Buffer.concat([
  Buffer.from([0x80, 0x04, 0x42, 40, 0, 0, 0]), Buffer.alloc(40, 0x2e), Buffer.from('0'),
  sbu('os'), Buffer.from([0x94]), sbu('system'), Buffer.from([0x94, 0x30, 0x30, 0x68, 0x00, 0x68, 0x01, 0x93, 0x2e]),
  Buffer.from('c__builtin__\neval\n.', 'latin1'),
]);

describe('PickleWalker', () => {
  it('gives the same imports, offsets and summary whatever the chunk size', () => {
    const whole = walk(stream, stream.length);
    expect(whole.imports).toEqual(['os.system@68', 'builtins.eval@70']);
    expect(whole.summary).toMatchObject({ pickles: 2, protocol: 4 });
    expect(whole.summary.error).toBeUndefined();
    for (const size of [1, 2, 3, 7, 13]) expect(walk(stream, size)).toEqual(whole);
  });

  it('reports a truncation after what it found', () => {
    const cut = walk(stream.subarray(0, 69), 5);
    expect(cut.imports).toEqual(['os.system@68']);
    expect(cut.summary.error?.message).toMatch(/truncated/);
  });

  it('fails on an empty stream, a memo miss and stack underflow', () => {
    expect(walk(Buffer.alloc(0), 1).summary.error?.message).toMatch(/empty/);
    expect(walk(Buffer.from([0x80, 0x04, 0x68, 0x05, 0x2e]), 1).summary.error?.message).toMatch(/memo value 5 not found/);
    expect(walk(Buffer.from([0x80, 0x04, 0x93, 0x2e]), 1).summary.error?.message).toMatch(/underflow/);
  });

  it('skips a joblib array exactly as joblib reads it (padding byte, padding, data), whatever the chunk size', () => {
    const x = (t: string) => Buffer.concat([Buffer.from([0x58, t.length, 0, 0, 0]), Buffer.from(t)]);
    const dtype = Buffer.concat([Buffer.from('cnumpy\ndtype\n'), x('f8'), Buffer.from('\x89\x88\x87R(K\x03', 'latin1'), x('<'), Buffer.from('NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb', 'latin1')]);
    const state = Buffer.concat([
      Buffer.from('}('), x('shape'), Buffer.from('K\x02\x85', 'latin1'), x('dtype'), dtype, x('numpy_array_alignment_bytes'), Buffer.from('K\x10u', 'latin1'),
    ]);
    // The array: padding length 78 ('N'), 78 bytes of padding ('N'), 2 × 8 bytes that read as `cos\nsystem\n` opcodes.
    const array = Buffer.concat([Buffer.from([0x4e]), Buffer.alloc(0x4e, 0x4e), Buffer.from('cos\nsystem\n00000', 'latin1')]);
    const stream = Buffer.concat([
      Buffer.from('\x80\x02cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81', 'latin1'), state, Buffer.from('b'), array, Buffer.from('cposix\nsystem\n0.'),
    ]);
    const whole = walk(stream, stream.length, true);
    expect(whole.imports.map((i) => i.split('@')[0])).toEqual(['joblib.numpy_pickle.NumpyArrayWrapper', 'numpy.dtype', 'posix.system']);
    expect(whole.summary).toMatchObject({ pickles: 1, joblibArrays: 1 });
    expect(whole.summary.error).toBeUndefined();
    for (const size of [1, 2, 3, 7, 13]) expect(walk(stream, size, true)).toEqual(whole);
    // Read as pickle.load reads it, the array bytes are opcodes: `os.system` is imported there.
    expect(walk(stream, stream.length).imports.map((i) => i.split('@')[0])).toContain('os.system');
  });
});

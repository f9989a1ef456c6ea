import { realpath } from 'node:fs/promises';
import path from 'node:path';
import type { ByteSource } from './byte-source';
import type { LocalFinding } from './findings';

/**
 * Inspects an ONNX model by walking its protobuf wire format with random access: only the
 * fields that matter are decoded (nodes' domain and op type, tensors' external-data entries,
 * subgraphs, functions); tensor payloads are skipped without being read.
 */

/** Operator domains of the ONNX standard. */
const STANDARD_DOMAINS = new Set(['', 'ai.onnx', 'ai.onnx.ml', 'ai.onnx.training', 'ai.onnx.preview.training']);
/** Domains of ONNX Runtime's own contrib operators: not standard, but a known runtime's. */
const RUNTIME_DOMAINS = new Set(['com.microsoft', 'com.microsoft.nchwc', 'com.microsoft.mlfeaturizers', 'com.ms.internal.nhwc']);
/** Operators that call back into Python. */
const PYTHON_OPS = /^(PyOp|PythonOp|PyFunc|PythonFunc|PythonOpGrad|PyTorchOp)$/;
const MAX_DEPTH = 64;

class WireFormatError extends Error {}

/** Buffered random-access reader for the wire walk. */
class WindowReader {
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;
  constructor(private readonly source: ByteSource) {}

  async bytes(pos: number, length: number): Promise<Buffer> {
    if (pos >= this.windowStart && pos + length <= this.windowStart + this.window.length) {
      return this.window.subarray(pos - this.windowStart, pos - this.windowStart + length);
    }
    if (length > 64 * 1024) return this.source.read(pos, length);
    this.window = await this.source.read(pos, Math.max(64 * 1024, length));
    this.windowStart = pos;
    return this.window.subarray(0, length);
  }

  async varint(pos: number, end: number): Promise<{ value: number; next: number }> {
    const buf = await this.bytes(pos, Math.min(10, end - pos));
    let value = 0;
    let scale = 1;
    for (let i = 0; i < buf.length; i++) {
      const b = buf[i]!;
      value += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) return { value, next: pos + i + 1 };
    }
    throw new WireFormatError(`unterminated varint at byte ${pos}`);
  }
}

type FieldVisitor = (field: number, start: number, length: number, varintValue: number) => Promise<void>;

async function walkMessage(reader: WindowReader, start: number, end: number, visit: FieldVisitor): Promise<void> {
  let pos = start;
  while (pos < end) {
    const key = await reader.varint(pos, end);
    pos = key.next;
    const field = Math.floor(key.value / 8);
    const wire = key.value % 8;
    if (field === 0) throw new WireFormatError(`field number 0 at byte ${pos}`);
    switch (wire) {
      case 0: {
        const v = await reader.varint(pos, end);
        await visit(field, pos, 0, v.value);
        pos = v.next;
        break;
      }
      case 1:
        pos += 8;
        break;
      case 5:
        pos += 4;
        break;
      case 2: {
        const len = await reader.varint(pos, end);
        pos = len.next;
        if (pos + len.value > end) throw new WireFormatError(`field ${field} at byte ${pos} runs past its message (${len.value} bytes)`);
        await visit(field, pos, len.value, 0);
        pos += len.value;
        break;
      }
      default:
        throw new WireFormatError(`unsupported wire type ${wire} at byte ${pos}`);
    }
    if (pos > end) throw new WireFormatError('message truncated');
  }
}

async function readString(reader: WindowReader, start: number, length: number): Promise<string> {
  return (await reader.bytes(start, Math.min(length, 4096))).toString('utf8');
}

/**
 * Inspects the ONNX model at `modelPath` (`source` reads it): external-data locations that escape
 * the model's folder, non-standard operator domains, Python operators, malformed protobuf.
 */
export async function inspectOnnx(source: ByteSource, modelPath: string): Promise<LocalFinding[]> {
  const reader = new WindowReader(source);
  const findings: LocalFinding[] = [];
  const domains = new Map<string, { count: number; ops: Set<string> }>();
  const functionDomains = new Set<string>();
  const externalLocations = new Set<string>();
  let nodes = 0;

  const tensor = async (start: number, end: number): Promise<void> => {
    await walkMessage(reader, start, end, async (field, s, len) => {
      if (field !== 13) return;
      let key = '';
      let value = '';
      await walkMessage(reader, s, s + len, async (f, ss, ll) => {
        if (f === 1) key = await readString(reader, ss, ll);
        if (f === 2) value = await readString(reader, ss, ll);
      });
      if (key === 'location') externalLocations.add(value);
    });
  };
  const attribute = async (start: number, end: number, depth: number): Promise<void> => {
    await walkMessage(reader, start, end, async (field, s, len) => {
      if (field === 6 || field === 11) await graph(s, s + len, depth + 1);
      else if (field === 5 || field === 10) await tensor(s, s + len);
    });
  };
  const node = async (start: number, end: number, depth: number): Promise<void> => {
    nodes += 1;
    let opType = '';
    let domain = '';
    await walkMessage(reader, start, end, async (field, s, len) => {
      if (field === 4) opType = await readString(reader, s, len);
      else if (field === 7) domain = await readString(reader, s, len);
      else if (field === 5) await attribute(s, s + len, depth);
    });
    if (PYTHON_OPS.test(opType) || (domain === 'ai.onnx.contrib' && opType.startsWith('Py'))) {
      findings.push({ kind: 'onnx_python_op', severity: 'critical', detail: `operator ${domain || 'ai.onnx'}::${opType} runs Python code` });
    }
    if (!STANDARD_DOMAINS.has(domain)) {
      const d = domains.get(domain) ?? { count: 0, ops: new Set<string>() };
      d.count += 1;
      if (d.ops.size < 20) d.ops.add(opType);
      domains.set(domain, d);
    }
  };
  const graph = async (start: number, end: number, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH) throw new WireFormatError(`subgraphs nested deeper than ${MAX_DEPTH}`);
    await walkMessage(reader, start, end, async (field, s, len) => {
      if (field === 1) await node(s, s + len, depth);
      else if (field === 5) await tensor(s, s + len);
      else if (field === 15) {
        await walkMessage(reader, s, s + len, async (f, ss, ll) => {
          if (f === 1 || f === 2) await tensor(ss, ss + ll);
        });
      }
    });
  };

  try {
    let sawGraph = false;
    await walkMessage(reader, 0, source.size, async (field, s, len) => {
      if (field === 7) {
        sawGraph = true;
        await graph(s, s + len, 0);
      } else if (field === 25) {
        await walkMessage(reader, s, s + len, async (f, ss, ll) => {
          if (f === 10) functionDomains.add(await readString(reader, ss, ll));
          else if (f === 7) await node(ss, ss + ll, 1);
        });
      }
    });
    if (!sawGraph) findings.push({ kind: 'malformed_onnx', severity: 'high', detail: 'no graph: not an ONNX model' });
  } catch (err) {
    findings.push({ kind: 'malformed_onnx', severity: 'high', detail: `not a readable ONNX protobuf: ${err instanceof Error ? err.message : String(err)}` });
  }

  for (const [domain, d] of domains) {
    if (functionDomains.has(domain)) continue;
    const ops = [...d.ops].join(', ');
    if (RUNTIME_DOMAINS.has(domain)) {
      findings.push({ kind: 'onnx_runtime_domain', severity: 'low', detail: `${d.count} node(s) use ONNX Runtime's '${domain}' domain (${ops})` });
    } else {
      findings.push({ kind: 'onnx_custom_domain', severity: 'medium', detail: `${d.count} node(s) use the non-standard domain '${domain}' (${ops}): a custom operator library must be loaded` });
    }
  }

  const folder = path.dirname(path.resolve(modelPath));
  const realFolder = await realpath(folder).catch(() => folder);
  for (const location of externalLocations) {
    const escapes =
      path.isAbsolute(location) || /^[a-zA-Z]:[\\/]/.test(location) || location.startsWith('\\') ||
      path.relative(folder, path.resolve(folder, location)).split(/[\\/]/)[0] === '..';
    if (escapes) {
      findings.push({ kind: 'onnx_external_data_escape', severity: 'high', detail: `external data location '${location}' points outside the model's folder` });
      continue;
    }
    const real = await realpath(path.resolve(folder, location)).catch(() => undefined);
    if (real === undefined) {
      findings.push({ kind: 'onnx_external_data_missing', severity: 'low', detail: `external data file '${location}' is not present next to the model` });
    } else if (path.relative(realFolder, real).split(/[\\/]/)[0] === '..') {
      findings.push({ kind: 'onnx_external_data_escape', severity: 'high', detail: `external data location '${location}' resolves (through a link) outside the model's folder` });
    }
  }
  findings.push({ kind: 'onnx_summary', severity: 'info', detail: `${nodes} node(s), ${externalLocations.size} external data file(s)` });
  return findings;
}

import { type LocalFinding, type StreamInspector } from './findings';

const MAX_CONFIG_BYTES = 64 * 1024 * 1024;

/** Modules a Keras config may name without custom code being imported. */
const KERAS_MODULE = /^(keras|tf_keras|tensorflow\.keras|tensorflow|builtins)(\.|$)/;

/** Walks a parsed Keras config and reports Lambda layers and custom modules. */
export function inspectKerasConfig(config: unknown): LocalFinding[] {
  const findings: LocalFinding[] = [];
  const visit = (node: unknown, path: string): void => {
    if (Array.isArray(node)) {
      node.forEach((child, i) => visit(child, `${path}[${i}]`));
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    const obj = node as Record<string, unknown>;
    const cls = obj.class_name;
    const layerName = (obj.config as { name?: unknown } | undefined)?.name ?? obj.name;
    if (cls === 'Lambda') {
      findings.push({
        kind: 'keras_lambda_layer',
        severity: 'high',
        detail: `Lambda layer ${JSON.stringify(layerName ?? path)} carries serialized Python code that runs when the model loads or is called`,
      });
    } else if (cls === 'TFOpLambda' || cls === 'SlicingOpLambda') {
      findings.push({ kind: 'keras_op_lambda', severity: 'low', detail: `${String(cls)} layer ${JSON.stringify(layerName ?? path)} wraps a TensorFlow op` });
    }
    if (typeof obj.module === 'string' && typeof cls === 'string' && !KERAS_MODULE.test(obj.module)) {
      findings.push({
        kind: 'keras_custom_object',
        severity: 'medium',
        detail: `${cls} comes from module '${obj.module}': loading it imports custom code`,
      });
    }
    for (const [key, value] of Object.entries(obj)) visit(value, `${path}.${key}`);
  };
  visit(config, '$');
  return findings;
}

/** Buffers a Keras `config.json` (bounded) and inspects it at the end. */
export class KerasConfigInspector implements StreamInspector {
  private parts: Buffer[] = [];
  private bytes = 0;

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.bytes <= MAX_CONFIG_BYTES) this.parts.push(chunk);
  }

  end(): LocalFinding[] {
    if (this.bytes > MAX_CONFIG_BYTES) return [{ kind: 'keras_config_too_large', severity: 'high', detail: `config.json is larger than ${MAX_CONFIG_BYTES} bytes: not inspected` }];
    let config: unknown;
    try {
      config = JSON.parse(Buffer.concat(this.parts).toString('utf8'));
    } catch (err) {
      return [{ kind: 'malformed_keras_config', severity: 'high', detail: `config.json is not valid JSON: ${err instanceof Error ? err.message : String(err)}` }];
    }
    return inspectKerasConfig(config);
  }
}

/**
 * Searches a stream for byte patterns (across chunk boundaries) and reports each pattern found.
 * Used on legacy HDF5 Keras files, whose model config is a JSON attribute inside the file.
 */
export class PatternInspector implements StreamInspector {
  private tail = Buffer.alloc(0);
  private readonly found = new Set<number>();
  private readonly overlap: number;

  constructor(private readonly patterns: Array<{ bytes: Buffer; finding: LocalFinding }>) {
    this.overlap = Math.max(...patterns.map((p) => p.bytes.length)) - 1;
  }

  push(chunk: Buffer): void {
    const window = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk;
    this.patterns.forEach((p, i) => {
      if (!this.found.has(i) && window.indexOf(p.bytes) >= 0) this.found.add(i);
    });
    this.tail = Buffer.from(window.subarray(Math.max(0, window.length - this.overlap)));
  }

  end(): LocalFinding[] {
    return [...this.found].map((i) => this.patterns[i]!.finding);
  }
}

/** Patterns of a Lambda layer in a legacy HDF5 Keras file's JSON model config. */
export function hdf5KerasPatterns(): Array<{ bytes: Buffer; finding: LocalFinding }> {
  const finding: LocalFinding = {
    kind: 'keras_lambda_layer',
    severity: 'high',
    detail: 'the HDF5 model config contains a Lambda layer, which carries serialized Python code',
  };
  return ['"class_name": "Lambda"', '"class_name":"Lambda"'].map((s) => ({ bytes: Buffer.from(s), finding }));
}

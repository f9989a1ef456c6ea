import { type LocalFinding, type StreamInspector } from './findings';
import { DEFAULT_SCAN_LIMITS, quoteForFinding } from './limits';

/** Modules a Keras config may name without custom code being imported. */
const KERAS_MODULE = /^(keras|tf_keras|tensorflow\.keras|tensorflow|builtins)(\.|$)/;

/** Walks a parsed Keras config and reports Lambda layers and custom modules. */
export function inspectKerasConfig(config: unknown): LocalFinding[] {
  const findings: LocalFinding[] = [];
  const named = (layerName: unknown, path: string): string => quoteForFinding(typeof layerName === 'string' ? layerName : path);
  // Iterative (a deeply nested config must not exhaust the call stack).
  const pending: Array<[unknown, string]> = [[config, '$']];
  while (pending.length > 0) {
    const [node, path] = pending.pop()!;
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) pending.push([node[i], path.length > 200 ? path : `${path}[${i}]`]);
      continue;
    }
    if (typeof node !== 'object' || node === null) continue;
    const obj = node as Record<string, unknown>;
    const cls = obj.class_name;
    const layerName = (obj.config as { name?: unknown } | undefined)?.name ?? obj.name;
    if (cls === 'Lambda') {
      findings.push({
        kind: 'keras_lambda_layer',
        severity: 'high',
        detail: `Lambda layer ${named(layerName, path)} carries serialized Python code that runs when the model loads or is called`,
      });
    } else if (cls === 'TFOpLambda' || cls === 'SlicingOpLambda') {
      findings.push({ kind: 'keras_op_lambda', severity: 'low', detail: `${String(cls)} layer ${named(layerName, path)} wraps a TensorFlow op` });
    }
    if (typeof obj.module === 'string' && typeof cls === 'string' && !KERAS_MODULE.test(obj.module)) {
      findings.push({
        kind: 'keras_custom_object',
        severity: 'medium',
        detail: `${quoteForFinding(cls)} comes from module ${quoteForFinding(obj.module)}: loading it imports custom code`,
      });
    }
    for (const [key, value] of Object.entries(obj).reverse()) pending.push([value, path.length > 200 ? path : `${path}.${key.slice(0, 64)}`]);
  }
  return findings;
}

/** Buffers a Keras `config.json` (bounded) and inspects it at the end. */
export class KerasConfigInspector implements StreamInspector {
  private parts: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly maxBytes: number = DEFAULT_SCAN_LIMITS.maxConfigBytes) {}

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.bytes <= this.maxBytes) this.parts.push(chunk);
  }

  end(): LocalFinding[] {
    if (this.bytes > this.maxBytes) return [{ kind: 'keras_config_too_large', severity: 'high', detail: `config.json is larger than ${this.maxBytes} bytes: not inspected` }];
    let config: unknown;
    try {
      config = JSON.parse(Buffer.concat(this.parts).toString('utf8'));
    } catch {
      return [{ kind: 'malformed_keras_config', severity: 'high', detail: 'config.json is not valid JSON; failing closed' }];
    }
    return inspectKerasConfig(config);
  }
}

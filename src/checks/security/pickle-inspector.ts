import { type LocalFinding, type StreamInspector } from './findings';
import { classifyGlobal } from './global-policy';
import { type ScanLimits, boundForField, quoteForFinding, resolveScanLimits } from './limits';
import { type PickleWalkSummary, type PickleWalkerLimits, PickleWalker } from './pickle-walker';

/** The walker's bounds taken from the scan's limits. */
export function walkerLimits(limits: ScanLimits): Partial<PickleWalkerLimits> {
  return {
    inlineBytes: limits.maxInlinePayloadBytes,
    maxStack: limits.maxPickleStack,
    maxMemo: limits.maxPickleMemo,
    maxMarks: limits.maxPickleMarks,
    maxOpcodes: limits.maxPickleOpcodes,
    maxValueBytes: limits.maxPickleValueBytes,
  };
}

/**
 * How the loader of a pickle stream treats joblib's inline arrays: `never` (pickle.load,
 * torch.load, numpy), `only` (joblib.load: the format says joblib), `either` (a pickle file any
 * of them may load: read as joblib does, and inline arrays are a finding, since pickle.load would
 * read their bytes as opcodes).
 */
export type JoblibReading = 'never' | 'only' | 'either';

/** Inspects a pickle stream (one or several pickles): every imported global is reported. */
export class PickleInspector implements StreamInspector {
  private readonly walker: PickleWalker;
  private readonly globals = new Map<string, { module: string; name: string; count: number; firstOffset: number; opcode: string }>();
  private readonly unresolved: LocalFinding[] = [];
  /** Summary of the walk, available after {@link end}. */
  summary?: PickleWalkSummary;

  constructor(
    private readonly allowGlobals: readonly string[] = [],
    /** Bytes of the stream before the pickle (e.g. an `.npy` header), for offsets in messages. */
    private readonly baseOffset = 0,
    limits: ScanLimits = resolveScanLimits(),
    private readonly joblibReading: JoblibReading = 'never',
  ) {
    this.walker = new PickleWalker(
      (imp) => {
        const key = `${imp.module}.${imp.name}`;
        const seen = this.globals.get(key);
        if (seen) seen.count += 1;
        else if (this.globals.size < 10_000) this.globals.set(key, { module: imp.module, name: imp.name, count: 1, firstOffset: imp.offset, opcode: imp.opcode });
        else this.unresolvedFinding(`${imp.opcode} at byte ${imp.offset + this.baseOffset}: more than 10,000 distinct globals; counts as dangerous`);
      },
      (u) => this.unresolvedFinding(`${u.opcode} at byte ${u.offset + this.baseOffset} (pickle ${u.pickleIndex}): ${u.reason}; counts as dangerous`),
      walkerLimits(limits),
      joblibReading !== 'never',
    );
  }

  private unresolvedFinding(detail: string): void {
    if (this.unresolved.length < 100) this.unresolved.push({ kind: 'unresolved_global', severity: 'high', detail });
  }

  /** True once the walk has stopped on an error (the rest of the stream is only counted). */
  get failed(): boolean {
    return this.walker.failed;
  }

  push(chunk: Buffer): void {
    this.walker.push(chunk);
  }

  end(): LocalFinding[] {
    const summary = this.walker.end();
    this.summary = summary;
    const findings: LocalFinding[] = [];
    for (const [qualified, g] of this.globals) {
      const verdict = classifyGlobal(g.module, g.name, this.allowGlobals);
      const shown = quoteForFinding(qualified);
      const global = boundForField(qualified);
      const where = `${g.opcode} at byte ${g.firstOffset + this.baseOffset}${g.count > 1 ? `, ${g.count} times` : ''}`;
      if (verdict.verdict === 'allowed') {
        findings.push({ kind: 'allowed_global', global, severity: 'info', detail: `imports ${shown} (${where}): on the allowlist` });
      } else if (verdict.verdict === 'denied') {
        findings.push({ kind: 'dangerous_global', global, severity: verdict.severity, detail: `imports ${shown} (${where}): ${verdict.reason}` });
      } else {
        findings.push({ kind: 'unknown_global', global, severity: verdict.severity, detail: `imports ${shown} (${where}): ${verdict.reason}` });
      }
    }
    findings.push(...this.unresolved);
    if (summary.error) {
      findings.push({
        kind: summary.error.kind,
        severity: summary.error.kind === 'corrupt_pickle' ? 'high' : 'critical',
        detail: `${summary.error.message} (at byte ${summary.error.offset + this.baseOffset}, after ${summary.pickles} complete pickle(s)); the rest of the stream could not be scanned`,
      });
    }
    if (summary.joblibWrapperUntracked) {
      findings.push({
        kind: 'joblib_wrapper_untracked',
        severity: 'high',
        detail: "joblib's NumpyArrayWrapper class is passed where the scanner cannot follow it: joblib could read inline bytes the scanner takes for opcodes",
      });
    }
    if (summary.joblibArrays > 0 && this.joblibReading === 'either') {
      findings.push({
        kind: 'loader_dependent_pickle',
        severity: 'medium',
        detail: `${summary.joblibArrays} joblib array(s) stored inline: joblib.load skips their bytes, pickle.load would read them as opcodes; declare the format 'joblib' to have it judged as joblib reads it`,
      });
    } else if (summary.joblibArrays > 0) {
      findings.push({ kind: 'joblib_inline_arrays', severity: 'info', detail: `${summary.joblibArrays} joblib array(s) stored inline were skipped exactly as joblib reads them` });
    }
    if (summary.legacyTorch) {
      findings.push({
        kind: 'legacy_torch_format',
        severity: 'info',
        detail: `legacy PyTorch file: its ${summary.pickles} pickles were scanned; ${summary.legacyTorch.rawStorageBytes} bytes of raw tensor storage follow them`,
      });
    }
    return findings;
  }
}

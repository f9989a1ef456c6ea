import { type LocalFinding, type StreamInspector } from './findings';
import { classifyGlobal } from './global-policy';
import { type PickleWalkSummary, PickleWalker } from './pickle-walker';

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
  ) {
    this.walker = new PickleWalker(
      (imp) => {
        const key = `${imp.module}.${imp.name}`;
        const seen = this.globals.get(key);
        if (seen) seen.count += 1;
        else this.globals.set(key, { module: imp.module, name: imp.name, count: 1, firstOffset: imp.offset, opcode: imp.opcode });
      },
      (u) => {
        if (this.unresolved.length < 100) {
          this.unresolved.push({
            kind: 'unresolved_global',
            severity: 'high',
            detail: `${u.opcode} at byte ${u.offset + this.baseOffset} (pickle ${u.pickleIndex}): ${u.reason}; counts as dangerous`,
          });
        }
      },
    );
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
      const where = `${g.opcode} at byte ${g.firstOffset + this.baseOffset}${g.count > 1 ? `, ${g.count} times` : ''}`;
      if (verdict.verdict === 'allowed') {
        findings.push({ kind: 'allowed_global', global: qualified, severity: 'info', detail: `imports ${qualified} (${where}): on the allowlist` });
      } else if (verdict.verdict === 'denied') {
        findings.push({ kind: 'dangerous_global', global: qualified, severity: verdict.severity, detail: `imports ${qualified} (${where}): ${verdict.reason}` });
      } else {
        findings.push({ kind: 'unknown_global', global: qualified, severity: verdict.severity, detail: `imports ${qualified} (${where}): ${verdict.reason}` });
      }
    }
    findings.push(...this.unresolved);
    if (summary.error) {
      findings.push({
        kind: 'corrupt_pickle',
        severity: 'high',
        detail: `${summary.error.message} (at byte ${summary.error.offset + this.baseOffset}, after ${summary.pickles} complete pickle(s)); the rest of the stream could not be scanned`,
      });
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

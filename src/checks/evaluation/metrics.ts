/**
 * Streaming accumulators for the performance metrics of docs/policy.md#checksettings, with scikit-learn's
 * definitions: accuracy; precision, recall and f1 (binary for the positive label, and
 * macro / micro / weighted over classes); ROC AUC (ties count one half); log loss (probabilities
 * clipped to [ε, 1 − ε], ε = 2⁻⁵²); mean squared and absolute error; R².
 */

/** Grows a Float64Array as values are appended: 8 bytes a row, no per-row objects. */
export class GrowableFloat64Array {
  private data = new Float64Array(1024);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = value;
  }

  /** The values, sorted ascending (a view; the accumulator must not grow afterwards). */
  sorted(): Float64Array {
    return this.data.subarray(0, this.length).sort();
  }
}

/** Machine epsilon of float64: scikit-learn's clipping bound for log loss. */
export const FLOAT64_EPS = 2.220446049250313e-16;

/**
 * ROC AUC from the scores of the positive and of the negative examples (Mann–Whitney: the
 * probability that a positive scores above a negative, ties counting one half).
 * `undefined` when one of the classes is absent.
 */
export function rocAuc(positiveScores: Float64Array, negativeScores: Float64Array): number | undefined {
  const nPos = positiveScores.length;
  const nNeg = negativeScores.length;
  if (nPos === 0 || nNeg === 0) return undefined;
  let below = 0;
  let upTo = 0;
  let sum = 0;
  for (let i = 0; i < nPos; i++) {
    const s = positiveScores[i]!;
    while (below < nNeg && negativeScores[below]! < s) below++;
    if (upTo < below) upTo = below;
    while (upTo < nNeg && negativeScores[upTo]! <= s) upTo++;
    sum += below + (upTo - below) / 2;
  }
  return sum / (nPos * nNeg);
}

/** Per-class counts of a classification. */
interface ClassCounts {
  tp: number;
  fp: number;
  fn: number;
  support: number;
}

/** Largest number of distinct classes the accumulator follows. */
export const MAX_CLASSES = 1000;

/** Accumulates classification metrics row by row. */
export class ClassificationAccumulator {
  private readonly classes = new Map<string, ClassCounts>();
  private correct = 0;
  private total = 0;
  private readonly positiveScores = new GrowableFloat64Array();
  private readonly negativeScores = new GrowableFloat64Array();
  private logLossSum = 0;
  private scored = 0;
  /** True once more than {@link MAX_CLASSES} classes were seen (then no metrics are given). */
  tooManyClasses = false;

  constructor(private readonly positiveLabel: string) {}

  private counts(label: string): ClassCounts | undefined {
    let c = this.classes.get(label);
    if (!c) {
      if (this.classes.size >= MAX_CLASSES) {
        this.tooManyClasses = true;
        return undefined;
      }
      c = { tp: 0, fp: 0, fn: 0, support: 0 };
      this.classes.set(label, c);
    }
    return c;
  }

  /** Adds one example: canonical true label, canonical predicted label, optional score of the positive class. */
  add(label: string, prediction: string, score?: number): void {
    this.total += 1;
    const t = this.counts(label);
    const p = this.counts(prediction);
    if (!t || !p) return;
    t.support += 1;
    if (label === prediction) {
      this.correct += 1;
      t.tp += 1;
    } else {
      t.fn += 1;
      p.fp += 1;
    }
    if (score !== undefined) {
      const isPositive = label === this.positiveLabel;
      (isPositive ? this.positiveScores : this.negativeScores).push(score);
      const q = Math.min(1 - FLOAT64_EPS, Math.max(FLOAT64_EPS, score));
      this.logLossSum -= isPositive ? Math.log(q) : Math.log(1 - q);
      this.scored += 1;
    }
  }

  /** Distinct classes seen in labels and predictions, sorted. */
  get classNames(): string[] {
    return [...this.classes.keys()].sort();
  }

  /** Computes the metrics; `binary` when there are at most two classes. */
  result(): { metrics: Record<string, number>; binary: boolean; rocAucUndefined: boolean } {
    const metrics: Record<string, number> = {};
    if (this.total === 0 || this.tooManyClasses) return { metrics, binary: false, rocAucUndefined: false };
    metrics.accuracy = this.correct / this.total;
    const names = this.classNames;
    const prf = (c: ClassCounts) => {
      const precision = c.tp + c.fp === 0 ? 0 : c.tp / (c.tp + c.fp);
      const recall = c.tp + c.fn === 0 ? 0 : c.tp / (c.tp + c.fn);
      const f1 = 2 * c.tp + c.fp + c.fn === 0 ? 0 : (2 * c.tp) / (2 * c.tp + c.fp + c.fn);
      return { precision, recall, f1 };
    };
    let macroP = 0, macroR = 0, macroF = 0, weightedP = 0, weightedR = 0, weightedF = 0;
    for (const name of names) {
      const c = this.classes.get(name)!;
      const m = prf(c);
      macroP += m.precision / names.length;
      macroR += m.recall / names.length;
      macroF += m.f1 / names.length;
      weightedP += (m.precision * c.support) / this.total;
      weightedR += (m.recall * c.support) / this.total;
      weightedF += (m.f1 * c.support) / this.total;
    }
    Object.assign(metrics, {
      precisionMacro: macroP, recallMacro: macroR, f1Macro: macroF,
      precisionWeighted: weightedP, recallWeighted: weightedR, f1Weighted: weightedF,
      precisionMicro: metrics.accuracy, recallMicro: metrics.accuracy, f1Micro: metrics.accuracy,
    });
    const binary = names.length <= 2;
    if (binary) {
      const pos = prf(this.classes.get(this.positiveLabel) ?? { tp: 0, fp: 0, fn: 0, support: 0 });
      metrics.precision = pos.precision;
      metrics.recall = pos.recall;
      metrics.f1 = pos.f1;
    } else {
      metrics.precision = macroP;
      metrics.recall = macroR;
      metrics.f1 = macroF;
    }
    let rocAucUndefined = false;
    if (this.scored > 0 && binary) {
      const auc = rocAuc(this.positiveScores.sorted(), this.negativeScores.sorted());
      if (auc === undefined) rocAucUndefined = true;
      else metrics.rocAuc = auc;
      metrics.logLoss = this.logLossSum / this.scored;
    }
    return { metrics, binary, rocAucUndefined };
  }
}

/** Accumulates regression metrics (numerically stable: Welford's update for the label variance). */
export class RegressionAccumulator {
  private n = 0;
  private absSum = 0;
  private sqSum = 0;
  private mean = 0;
  private m2 = 0;

  add(label: number, prediction: number): void {
    const e = label - prediction;
    this.n += 1;
    this.absSum += Math.abs(e);
    this.sqSum += e * e;
    const delta = label - this.mean;
    this.mean += delta / this.n;
    this.m2 += delta * (label - this.mean);
  }

  /** mse, mae and r2 (r2 is omitted when the labels are constant, as it is undefined). */
  result(): Record<string, number> {
    if (this.n === 0) return {};
    const out: Record<string, number> = { mse: this.sqSum / this.n, mae: this.absSum / this.n };
    if (this.m2 > 0) out.r2 = 1 - this.sqSum / this.m2;
    return out;
  }
}

/** Metrics where lower is better: a regression is a rise. */
export const LOWER_IS_BETTER = new Set(['logLoss', 'mse', 'mae', 'rmse']);

const METRIC_ALIASES: Record<string, string> = {
  auc: 'rocAuc', roc_auc: 'rocAuc', rocauc: 'rocAuc', roc_auc_score: 'rocAuc', log_loss: 'logLoss', logloss: 'logLoss',
  f1_score: 'f1', accuracy_score: 'accuracy', precision_score: 'precision', recall_score: 'recall',
  mean_squared_error: 'mse', mean_absolute_error: 'mae', r2_score: 'r2', r_squared: 'r2',
};

/** Canonical name of a metric: `roc_auc`, `auc` → `rocAuc`; `f1_macro` → `f1Macro`; others camelCased. */
export function canonicalMetricName(name: string): string {
  const lower = name.trim().toLowerCase();
  if (METRIC_ALIASES[lower]) return METRIC_ALIASES[lower];
  return name.trim().replace(/[_-]([a-z0-9])/gi, (_m, c: string) => c.toUpperCase());
}

/** Renames the keys of a metric record to their canonical names. */
export function canonicalMetrics(metrics: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(metrics)) if (typeof v === 'number' && Number.isFinite(v)) out[canonicalMetricName(k)] = v;
  return out;
}

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { recomputeMetrics } from '../../src/checks/evaluation-checks';
import { GroupAccumulator, disparities, fourFifthsViolations, groupRates } from '../../src/checks/evaluation/fairness';
import { ClassificationAccumulator, RegressionAccumulator, rocAuc } from '../../src/checks/evaluation/metrics';
import { checkFairness } from '../../src/checks/evaluation-checks';
import { FairnessSettingsSchema } from '../../src/policy/check-settings';
import { PromotionManifestSchema } from '../../src/manifest/schema';
import { pythonReference } from './python';
import { testSources } from '../support/sources';

function classify(labels: Array<string | number>, predictions: Array<string | number>, positive = '1', scores?: number[]) {
  const acc = new ClassificationAccumulator(positive);
  labels.forEach((l, i) => acc.add(String(l), String(predictions[i]), scores?.[i]));
  return acc.result().metrics;
}

describe('metrics against scikit-learn documentation examples', () => {
  it('accuracy_score([0, 2, 1, 3], [0, 1, 2, 3]) is 0.5', () => {
    expect(classify([0, 2, 1, 3], [0, 1, 2, 3]).accuracy).toBe(0.5);
  });

  it('precision, recall and f1 macro / micro / weighted match the documented values', () => {
    const m = classify([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1]);
    expect(m.precisionMacro).toBeCloseTo(0.22222222, 7);
    expect(m.precisionMicro).toBeCloseTo(0.33333333, 7);
    expect(m.precisionWeighted).toBeCloseTo(0.22222222, 7);
    expect(m.recallMacro).toBeCloseTo(0.33333333, 7);
    expect(m.f1Macro).toBeCloseTo(0.26666667, 7);
    expect(m.f1Micro).toBeCloseTo(0.33333333, 7);
    expect(m.f1Weighted).toBeCloseTo(0.26666667, 7);
  });

  it('roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) is 0.75, ties count one half', () => {
    expect(rocAuc(new Float64Array([0.35, 0.8]), new Float64Array([0.1, 0.4]))).toBe(0.75);
    expect(rocAuc(new Float64Array([0.5]), new Float64Array([0.5]))).toBe(0.5);
    expect(rocAuc(new Float64Array([]), new Float64Array([0.5]))).toBeUndefined();
  });

  it('log_loss of the documented spam / ham example is 0.21616', () => {
    const m = classify(['spam', 'ham', 'ham', 'spam'], ['spam', 'ham', 'ham', 'spam'], 'spam', [0.9, 0.1, 0.2, 0.65]);
    expect(m.logLoss).toBeCloseTo(0.21616187, 7);
  });

  it('mean squared / absolute error and r2 of [3, -0.5, 2, 7] vs [2.5, 0.0, 2, 8]', () => {
    const acc = new RegressionAccumulator();
    [3, -0.5, 2, 7].forEach((y, i) => acc.add(y, [2.5, 0.0, 2, 8][i]!));
    const m = acc.result();
    expect(m.mse).toBeCloseTo(0.375, 12);
    expect(m.mae).toBeCloseTo(0.5, 12);
    expect(m.r2).toBeCloseTo(0.9486081370449679, 12);
  });
});

describe('fairness metrics (Fairlearn definitions), worked example', () => {
  // Group a: 4 rows, labels 1 1 0 0, predictions 1 0 1 0 → selection 0.5, TPR 0.5, FPR 0.5.
  // Group b: 4 rows, labels 1 1 0 0, predictions 1 1 1 0 → selection 0.75, TPR 1, FPR 0.5.
  const acc = new GroupAccumulator();
  [[1, 1], [1, 0], [0, 1], [0, 0]].forEach(([y, p]) => acc.add('a', y === 1, p === 1));
  [[1, 1], [1, 1], [0, 1], [0, 0]].forEach(([y, p]) => acc.add('b', y === 1, p === 1));
  const rates = Object.fromEntries([...acc.groups].map(([g, c]) => [g, groupRates(c)]));
  const d = disparities(Object.values(rates));

  it('computes per-group rates', () => {
    expect(rates.a).toEqual({ count: 4, selectionRate: 0.5, tpr: 0.5, fpr: 0.5 });
    expect(rates.b).toEqual({ count: 4, selectionRate: 0.75, tpr: 1, fpr: 0.5 });
  });

  it('computes the between-group differences and ratios', () => {
    expect(d.demographicParityDifference).toBeCloseTo(0.25, 12);
    expect(d.demographicParityRatio).toBeCloseTo(2 / 3, 12);
    expect(d.equalizedOddsDifference).toBeCloseTo(0.5, 12);
    expect(d.equalizedOddsRatio).toBeCloseTo(0.5, 12);
    expect(d.equalOpportunityDifference).toBeCloseTo(0.5, 12);
  });

  it('applies the four-fifths rule to selection rates', () => {
    expect(fourFifthsViolations(rates)).toEqual([{ group: 'a', impactRatio: 2 / 3 }]);
  });
});

describe('metrics on generated data, cross-checked against scikit-learn and Fairlearn', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'modelgate-metrics-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A deterministic pseudo-random generator (mulberry32). */
  function random(seed: number): () => number {
    let a = seed;
    return () => {
      a |= 0;
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function writeBinaryCsv(file: string, rows: number, seed: number): void {
    const rnd = random(seed);
    const lines = ['label,prediction,score,sex,age_band'];
    for (let i = 0; i < rows; i++) {
      const sex = rnd() < 0.4 ? 'female' : 'male';
      const age = ['young', 'middle', 'old'][Math.floor(rnd() * 3)]!;
      const y = rnd() < (sex === 'female' ? 0.35 : 0.5) ? 1 : 0;
      const score = Math.min(0.999, Math.max(0.001, (y ? 0.62 : 0.38) + (rnd() - 0.5) * 0.7 + (age === 'old' ? -0.08 : 0)));
      const rounded = Math.round(score * 1000) / 1000;
      lines.push(`${y},${rounded >= 0.5 ? 1 : 0},${rounded},${sex},"${age}"`);
    }
    writeFileSync(file, `${lines.join('\n')}\n`);
  }

  function manifestFor(file: string, sensitive: string[], scoreColumn?: string) {
    return PromotionManifestSchema.parse({
      model: { name: 'm', version: '1', owner: 'o', riskTier: 'low' },
      target: 'staging',
      artifact: { uri: 'file:///x', sha256: 'a'.repeat(64), format: 'other' },
      evaluation: { uri: pathToFileURL(file).href, labelColumn: 'label', predictionColumn: 'prediction', scoreColumn, sensitiveColumns: sensitive, positiveLabel: 1 },
    });
  }

  it('binary classification metrics equal scikit-learn on 3,000 generated rows', async () => {
    const file = path.join(dir, 'binary.csv');
    writeBinaryCsv(file, 3000, 7);
    const ref = pythonReference<Record<string, number>>(['metrics', file, 'label', 'prediction', 'score', '1']);
    const ours = await recomputeMetrics(manifestFor(file, [], 'score').evaluation!, 'auto', { sources: testSources() });
    expect(ours.task).toBe('classification');
    for (const name of ['accuracy', 'precision', 'recall', 'f1', 'rocAuc', 'logLoss', 'precisionMacro', 'recallWeighted', 'f1Micro', 'f1Weighted']) {
      expect({ name, value: ours.metrics[name] }).toEqual({ name, value: expect.closeTo(ref[name]!, 10) });
    }
  });

  it('multiclass metrics equal scikit-learn', async () => {
    const rnd = random(11);
    const file = path.join(dir, 'multi.csv');
    const classes = ['cat', 'dog', 'bird', 'fish'];
    const lines = ['label,prediction'];
    for (let i = 0; i < 1500; i++) {
      const y = classes[Math.floor(rnd() * 4)]!;
      lines.push(`${y},${rnd() < 0.6 ? y : classes[Math.floor(rnd() * 4)]}`);
    }
    writeFileSync(file, lines.join('\n'));
    const ref = pythonReference<Record<string, number>>(['metrics', file, 'label', 'prediction', '-', 'cat']);
    const ours = await recomputeMetrics({ ...manifestFor(file, []).evaluation!, positiveLabel: 'cat' }, 'auto', { sources: testSources() });
    for (const name of ['accuracy', 'precisionMacro', 'recallMacro', 'f1Macro', 'precisionWeighted', 'recallWeighted', 'f1Weighted', 'f1Micro']) {
      expect({ name, value: ours.metrics[name] }).toEqual({ name, value: expect.closeTo(ref[name]!, 10) });
    }
  });

  it('regression metrics equal scikit-learn', async () => {
    const rnd = random(3);
    const file = path.join(dir, 'regression.jsonl');
    const lines: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const y = Math.round(rnd() * 100000) / 1000;
      lines.push(JSON.stringify({ label: y, prediction: Math.round((y + (rnd() - 0.5) * 10) * 1000) / 1000 }));
    }
    writeFileSync(file, lines.join('\n'));
    const csv = path.join(dir, 'regression.csv');
    writeFileSync(csv, ['label,prediction', ...lines.map((l) => { const o = JSON.parse(l) as { label: number; prediction: number }; return `${o.label},${o.prediction}`; })].join('\n'));
    const ref = pythonReference<Record<string, number>>(['metrics', csv, 'label', 'prediction', '-', '1']);
    const ours = await recomputeMetrics(manifestFor(file, []).evaluation!, 'auto', { sources: testSources() });
    expect(ours.task).toBe('regression');
    for (const name of ['mse', 'mae', 'r2']) expect({ name, value: ours.metrics[name] }).toEqual({ name, value: expect.closeTo(ref[name]!, 9) });
  });

  it.each([[['sex']], [['sex', 'age_band']]])('fairness metrics for %j equal Fairlearn', async (sensitive) => {
    const file = path.join(dir, `fair-${sensitive.length}.csv`);
    writeBinaryCsv(file, 2500, 21 + sensitive.length);
    const ref = pythonReference<Record<string, number> & { byGroup: Record<string, { count: number; selectionRate: number; tpr: number; fpr: number }> }>([
      'metrics', file, 'label', 'prediction', '-', '1', sensitive.join(','),
    ]);
    const settings = FairnessSettingsSchema.parse({ fourFifthsRule: false });
    const result = await checkFairness(manifestFor(file, sensitive), settings, { sources: testSources() });
    for (const name of ['demographicParityDifference', 'demographicParityRatio', 'equalizedOddsDifference', 'equalizedOddsRatio', 'equalOpportunityDifference']) {
      expect({ name, value: result.metrics[name] }).toEqual({ name, value: expect.closeTo(ref[name]!, 10) });
    }
    const byGroup = result.metrics.byGroup as Record<string, { count: number; selectionRate: number; tpr: number; fpr: number }>;
    expect(Object.keys(byGroup).sort()).toEqual(Object.keys(ref.byGroup).sort());
    for (const [group, r] of Object.entries(ref.byGroup)) {
      expect(byGroup[group]!.count).toBe(r.count);
      expect(byGroup[group]!.selectionRate).toBeCloseTo(r.selectionRate, 12);
      expect(byGroup[group]!.tpr).toBeCloseTo(r.tpr, 12);
      expect(byGroup[group]!.fpr).toBeCloseTo(r.fpr, 12);
    }
  });
});

import type { PromotionManifest } from '../manifest/schema';
import type { CheckFinding } from '../shared/checks';
import { type CheckContext, sourceReadOptions } from './context';
import { CheckInputError } from './errors';
import { type Cell, canonicalLabel, numericCell, readEvaluationColumns } from './evaluation/evaluation-file';
import { type GroupRates, GroupAccumulator, disparities, fourFifthsViolations, groupRates } from './evaluation/fairness';
import { EVIDENCE_LIMITS } from './evaluation/limits';
import { describeValue, listItems, reportedText } from './evaluation/report-text';
import { ClassificationAccumulator, LOWER_IS_BETTER, RegressionAccumulator, canonicalMetricName, canonicalMetrics } from './evaluation/metrics';
import type { CheckOutcome } from './result';
import type { CheckSettings } from '../policy/check-settings';

type Evaluation = NonNullable<PromotionManifest['evaluation']>;

/** Metrics recomputed from an evaluation file. */
export interface RecomputedMetrics {
  task: 'classification' | 'regression';
  rows: number;
  metrics: Record<string, number>;
  notes: CheckFinding[];
}

/**
 * Refuses a label, prediction or sensitive value longer than {@link EVIDENCE_LIMITS.labelChars}:
 * classes and groups are short names, and the accumulators keep up to a thousand of them.
 */
function checkLabelLength(value: Cell, what: string, row: number): void {
  if (typeof value === 'string' && value.length > EVIDENCE_LIMITS.labelChars) {
    throw new CheckInputError(`row ${row} has a ${what} longer than ${EVIDENCE_LIMITS.labelChars} characters (limit labelChars)`);
  }
}

/** Throws when the label or prediction of a row is empty or too long. */
function checkLabelAndPrediction(evaluation: Evaluation, label: Cell | undefined, prediction: Cell | undefined, row: number): void {
  if (label === null || label === undefined || label === '') throw new CheckInputError(`row ${row} has an empty label in column '${evaluation.labelColumn}'`);
  if (prediction === null || prediction === undefined || prediction === '') throw new CheckInputError(`row ${row} has an empty prediction in column '${evaluation.predictionColumn}'`);
  checkLabelLength(label, 'label', row);
  checkLabelLength(prediction, 'prediction', row);
}

/**
 * Streams the evaluation file and recomputes the performance metrics. Bad input (missing column,
 * empty or non-numeric label, non-numeric score, no rows) throws {@link CheckInputError} naming it.
 */
export async function recomputeMetrics(evaluation: Evaluation, task: 'auto' | 'classification' | 'regression', context: CheckContext): Promise<RecomputedMetrics> {
  const columns = [evaluation.labelColumn, evaluation.predictionColumn, ...(evaluation.scoreColumn ? [evaluation.scoreColumn] : [])];
  const positive = canonicalLabel(evaluation.positiveLabel);
  const classification = new ClassificationAccumulator(positive);
  const regression = new RegressionAccumulator();
  let numericLabels: boolean | undefined;
  let numericPredictions: boolean | undefined;
  let fractional = false;
  let scoresOutOfRange = 0;
  const rows = await readEvaluationColumns(
    evaluation.uri,
    columns,
    ([label, prediction, score], row) => {
      checkLabelAndPrediction(evaluation, label, prediction, row);
      const y = numericCell(label!);
      const p = numericCell(prediction!);
      numericLabels ??= y !== undefined;
      numericPredictions ??= p !== undefined;
      if (numericLabels && y === undefined) throw new CheckInputError(`label column '${evaluation.labelColumn}' has a non-numeric value ${describeValue(label!)} at row ${row}`);
      if (numericPredictions && p === undefined) throw new CheckInputError(`prediction column '${evaluation.predictionColumn}' has a non-numeric value ${describeValue(prediction!)} at row ${row}`);
      if ((task === 'regression') && (y === undefined || p === undefined)) {
        throw new CheckInputError(`regression needs numeric labels and predictions; row ${row} has ${describeValue(y === undefined ? label! : prediction!)}`);
      }
      let s: number | undefined;
      if (evaluation.scoreColumn) {
        s = numericCell(score ?? null);
        if (s === undefined) throw new CheckInputError(`score column '${evaluation.scoreColumn}' has a non-numeric value ${describeValue(score ?? null)} at row ${row}`);
        if (s < 0 || s > 1) scoresOutOfRange += 1;
      }
      if (y !== undefined && p !== undefined) {
        regression.add(y, p);
        if (!Number.isInteger(y)) fractional = true;
      }
      if (task !== 'regression') classification.add(canonicalLabel(label!), canonicalLabel(prediction!), s);
    },
    sourceReadOptions(context),
  );
  if (rows === 0) throw new CheckInputError('evaluation file has a header but no rows');
  const notes: CheckFinding[] = [];
  const distinctLabels = classification.classNames.length;
  const resolved: 'classification' | 'regression' =
    task !== 'auto' ? task : numericLabels && numericPredictions && (fractional || classification.tooManyClasses || distinctLabels > 20) ? 'regression' : 'classification';
  if (resolved === 'regression') return { task: resolved, rows, metrics: regression.result(), notes };
  if (classification.tooManyClasses) throw new CheckInputError('evaluation labels have more than 1000 distinct values: set performance.task to regression');
  const { metrics, binary, rocAucUndefined } = classification.result();
  if (binary && !classification.classNames.includes(positive)) {
    throw new CheckInputError(`positive label '${positive}' occurs in neither labels nor predictions (values: ${listItems(classification.classNames, describeValue)})`);
  }
  if (rocAucUndefined) notes.push({ kind: 'roc_auc_undefined', severity: 'low', message: 'ROC AUC is undefined: the labels hold only one class' });
  if (scoresOutOfRange > 0 && metrics.logLoss !== undefined) {
    delete metrics.logLoss;
    notes.push({ kind: 'scores_not_probabilities', severity: 'low', message: `${scoresOutOfRange} score(s) lie outside [0, 1]: log loss not computed` });
  }
  if (evaluation.scoreColumn && !binary) notes.push({ kind: 'scores_ignored', severity: 'info', message: 'scores are used for ROC AUC and log loss of binary problems only' });
  return { task: resolved, rows, metrics, notes };
}

const round = (v: number): number => Math.round(v * 1e6) / 1e6;

/** The performance check body: declared or recomputed metrics against thresholds and the serving version. */
export async function checkPerformance(manifest: PromotionManifest, settings: CheckSettings['performance'], context: CheckContext): Promise<CheckOutcome> {
  const findings: CheckFinding[] = [];
  const declared = canonicalMetrics(manifest.metrics);
  let recomputed: RecomputedMetrics | undefined;
  if (manifest.evaluation && settings.recompute) {
    recomputed = await recomputeMetrics(manifest.evaluation, settings.task, context);
    findings.push(...recomputed.notes);
    for (const [name, value] of Object.entries(declared)) {
      const actual = recomputed.metrics[name];
      if (actual !== undefined && Math.abs(actual - value) > settings.declaredTolerance) {
        findings.push({
          kind: 'declared_metric_mismatch',
          severity: 'high',
          message: `declared ${name} ${value} differs from the recomputed ${round(actual)} by more than ${settings.declaredTolerance}`,
          location: name,
          declared: value,
          recomputed: actual,
        });
      }
    }
  }
  const effective: Record<string, number> = { ...declared, ...(recomputed?.metrics ?? {}) };
  const check = (bounds: Record<string, number>, isMin: boolean): void => {
    for (const [rawName, bound] of Object.entries(bounds)) {
      const name = canonicalMetricName(rawName);
      const value = effective[name];
      if (value === undefined) {
        findings.push({ kind: 'metric_missing', severity: 'high', message: `the policy sets a ${isMin ? 'minimum' : 'maximum'} for ${name}, which is neither declared nor computable`, location: name });
      } else if (isMin ? value < bound : value > bound) {
        findings.push({ kind: 'threshold_not_met', severity: 'high', message: `${name} ${round(value)} is ${isMin ? 'below the minimum' : 'above the maximum'} ${bound}`, location: name, value, threshold: bound });
      }
    }
  };
  check(settings.min, true);
  check(settings.max, false);
  const extra: Record<string, unknown> = {};
  if (Object.keys(settings.maxRegression).length > 0) {
    if (!context.registry) {
      findings.push({ kind: 'registry_unavailable', severity: 'info', message: 'no registry here: the comparison with the version serving the target was skipped' });
    } else {
      const serving = await context.registry.servingVersion(manifest.model.name, manifest.target);
      if (!serving) {
        findings.push({ kind: 'no_serving_version', severity: 'info', message: `no version of ${manifest.model.name} serves ${manifest.target}: nothing to compare against` });
      } else {
        extra.baselineVersion = serving.version;
        const baseline = canonicalMetrics(serving.metrics);
        for (const [rawName, allowed] of Object.entries(settings.maxRegression)) {
          const name = canonicalMetricName(rawName);
          const before = baseline[name];
          const now = effective[name];
          if (before === undefined || now === undefined) {
            findings.push({ kind: 'regression_not_comparable', severity: 'medium', message: `${name} is missing for ${before === undefined ? `serving version ${serving.version}` : 'this version'}: regression cannot be assessed`, location: name });
            continue;
          }
          const loss = LOWER_IS_BETTER.has(name) ? now - before : before - now;
          if (loss > allowed + 1e-12) {
            findings.push({
              kind: 'regression',
              severity: 'high',
              message: `${name} ${round(now)} is worse than serving version ${serving.version} (${round(before)}) by ${round(loss)}, more than the allowed ${allowed}`,
              location: name,
              baseline: before,
              value: now,
            });
          }
        }
      }
    }
  }
  const metrics: Record<string, unknown> = { ...effective, ...extra, source: recomputed ? 'recomputed' : 'declared' };
  if (recomputed) {
    metrics.rows = recomputed.rows;
    metrics.task = recomputed.task;
  }
  const failures = findings.filter((f) => f.severity === 'high' || f.severity === 'critical' || f.severity === 'medium');
  if (failures.length > 0) return { outcome: 'fail', summary: failures.map((f) => f.message).join('; '), findings, metrics };
  const thresholds = Object.keys(settings.min).length + Object.keys(settings.max).length + Object.keys(settings.maxRegression).length;
  if (Object.keys(effective).length === 0) {
    findings.push({ kind: 'no_metrics', severity: 'low', message: 'no metrics declared and no evaluation file to compute them from' });
    return { outcome: 'warn', summary: 'no metrics declared or computable', findings, metrics };
  }
  return {
    outcome: findings.some((f) => f.severity === 'low') ? 'warn' : 'pass',
    summary: `${Object.keys(effective).length} metric(s) ${recomputed ? `recomputed from ${recomputed.rows} rows` : 'declared'}; ${thresholds} threshold(s) met`,
    findings,
    metrics,
  };
}

/** The fairness check body: per-group rates and Fairlearn's disparity metrics from the evaluation file. */
export async function checkFairness(manifest: PromotionManifest, settings: CheckSettings['fairness'], context: CheckContext): Promise<CheckOutcome> {
  const evaluation = manifest.evaluation;
  if (!evaluation || evaluation.sensitiveColumns.length === 0) {
    const message = evaluation ? 'the evaluation names no sensitive columns' : 'the manifest gives no evaluation file';
    if (settings.requireEvaluation) {
      return { outcome: 'fail', summary: `fairness cannot be assessed: ${message}`, findings: [{ kind: 'evaluation_missing', severity: 'high', message }], metrics: {} };
    }
    return { outcome: 'pass', summary: `fairness not assessed: ${message}`, findings: [{ kind: 'not_assessed', severity: 'info', message }], metrics: {} };
  }
  const positive = canonicalLabel(evaluation.positiveLabel);
  const groups = new GroupAccumulator(EVIDENCE_LIMITS.groups);
  const empty = new Map<string, { count: number; first: number }>();
  let positivesSeen = false;
  const rows = await readEvaluationColumns(
    evaluation.uri,
    [evaluation.labelColumn, evaluation.predictionColumn, ...evaluation.sensitiveColumns],
    ([label, prediction, ...sensitive], row) => {
      checkLabelAndPrediction(evaluation, label, prediction, row);
      const values = sensitive.map((v) => (v === null ? '' : String(v).trim()));
      values.forEach((v, i) => {
        checkLabelLength(v, 'sensitive value', row);
        if (v === '') {
          const col = evaluation.sensitiveColumns[i]!;
          const e = empty.get(col) ?? { count: 0, first: row };
          e.count += 1;
          empty.set(col, e);
        }
      });
      const y = canonicalLabel(label!) === positive;
      const p = canonicalLabel(prediction!) === positive;
      if (y || p) positivesSeen = true;
      groups.add(JSON.stringify(values), y, p);
    },
    sourceReadOptions(context),
  );
  if (rows === 0) throw new CheckInputError('evaluation file has a header but no rows');
  if (empty.size > 0) {
    const parts = [...empty].map(([col, e]) => `sensitive column '${col}' is empty in ${e.count} row(s) (first at row ${e.first})`);
    throw new CheckInputError(parts.join('; '));
  }
  if (!positivesSeen) throw new CheckInputError(`positive label '${positive}' occurs in neither labels nor predictions`);
  if (groups.overflowRows > 0) {
    const message = `the sensitive columns hold more than ${EVIDENCE_LIMITS.groups} distinct groups (limit groups): fairness cannot be assessed; is a sensitive column an identifier?`;
    return {
      outcome: 'fail',
      summary: message,
      findings: [{ kind: 'too_many_groups', severity: 'medium', message, limit: EVIDENCE_LIMITS.groups }],
      metrics: { rows, groups: `more than ${EVIDENCE_LIMITS.groups}`, rowsOutsideFollowedGroups: groups.overflowRows },
    };
  }

  const findings: CheckFinding[] = [];
  const named = groupDisplayNames(groups.groups.keys());
  const byGroup: Record<string, GroupRates> = {};
  for (const [key, name] of [...named].sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))) byGroup[name] = groupRates(groups.groups.get(key)!);
  const small = Object.entries(byGroup).filter(([, r]) => r.count < settings.minGroupSize);
  if (small.length > 0) {
    findings.push({
      kind: 'group_too_small',
      severity: 'low',
      message: `group(s) below the minimum of ${settings.minGroupSize} rows: ${listItems(small, ([g, r]) => `${g} (${r.count})`)}; ${settings.smallGroups === 'include' ? 'included in' : 'left out of'} the disparity metrics`,
    });
  }
  const undefinedRates: Array<[string, string]> = [];
  for (const [key, c] of groups.groups) {
    if (c.tp + c.fn === 0) undefinedRates.push([named.get(key)!, 'positives: its TPR']);
    if (c.fp + c.tn === 0) undefinedRates.push([named.get(key)!, 'negatives: its FPR']);
  }
  for (const [g, what] of undefinedRates.slice(0, EVIDENCE_LIMITS.listedItems)) {
    findings.push({ kind: 'rate_undefined', severity: 'info', message: `group ${g} has no actual ${what} counts as 0 (Fairlearn's convention)`, location: g });
  }
  if (undefinedRates.length > EVIDENCE_LIMITS.listedItems) {
    findings.push({ kind: 'rate_undefined', severity: 'info', message: `${undefinedRates.length - EVIDENCE_LIMITS.listedItems} more undefined rate(s) count as 0 (Fairlearn's convention)` });
  }
  const considered = Object.entries(byGroup).filter(([, r]) => settings.smallGroups === 'include' || r.count >= settings.minGroupSize);
  const metrics: Record<string, unknown> = { rows, groups: Object.keys(byGroup).length, byGroup };
  if (considered.length < 2) {
    findings.push({ kind: 'too_few_groups', severity: 'medium', message: `only ${considered.length} group(s) to compare: disparities cannot be assessed` });
    return { outcome: 'fail', summary: `fairness cannot be assessed: only ${considered.length} group(s) with enough rows`, findings, metrics };
  }
  const consideredRates = Object.fromEntries(considered);
  const d = disparities(Object.values(consideredRates));
  Object.assign(metrics, d);
  const bounds: Array<[keyof typeof d, CheckSettings['fairness']['demographicParityRatio']]> = [
    ['demographicParityDifference', settings.demographicParityDifference],
    ['demographicParityRatio', settings.demographicParityRatio],
    ['equalizedOddsDifference', settings.equalizedOddsDifference],
    ['equalizedOddsRatio', settings.equalizedOddsRatio],
    ['equalOpportunityDifference', settings.equalOpportunityDifference],
  ];
  for (const [name, bound] of bounds) {
    if (!bound) continue;
    const value = d[name];
    if (value === null) {
      findings.push({ kind: 'ratio_undefined', severity: 'info', message: `${name} is undefined (0 / 0): every group's rate is 0`, location: name });
      continue;
    }
    if (bound.min !== undefined && value < bound.min) findings.push({ kind: 'threshold_not_met', severity: 'high', message: `${name} ${round(value)} is below the minimum ${bound.min}`, location: name, value, threshold: bound.min });
    if (bound.max !== undefined && value > bound.max) findings.push({ kind: 'threshold_not_met', severity: 'high', message: `${name} ${round(value)} is above the maximum ${bound.max}`, location: name, value, threshold: bound.max });
  }
  const violations = fourFifthsViolations(consideredRates);
  metrics.fourFifthsRule = { passed: violations.length === 0, violations };
  if (settings.fourFifthsRule && violations.length > 0) {
    findings.push({
      kind: 'four_fifths_rule',
      severity: 'high',
      message: `selection rate below four fifths of the highest group's for ${listItems(violations, (v) => `${v.group} (${round(v.impactRatio)})`)}`,
    });
  }
  const failures = findings.filter((f) => f.severity === 'high' || f.severity === 'medium' || f.severity === 'critical');
  if (failures.length > 0) return { outcome: 'fail', summary: failures.map((f) => f.message).join('; '), findings, metrics };
  return {
    outcome: findings.some((f) => f.severity === 'low') ? 'warn' : 'pass',
    summary: `${Object.keys(byGroup).length} group(s) over ${rows} rows: demographic parity difference ${round(d.demographicParityDifference)}, equalized odds difference ${round(d.equalizedOddsDifference)}`,
    findings,
    metrics,
  };
}

/**
 * The name of each group in a result: its sensitive values (a JSON array, the accumulator's key)
 * as {@link reportedText} joined by `|`, made unique with ` #n` when escaping and cutting make
 * two alike.
 */
function groupDisplayNames(keys: Iterable<string>): Map<string, string> {
  const names = new Map<string, string>();
  const taken = new Set<string>();
  for (const key of keys) {
    const base = (JSON.parse(key) as string[]).map(reportedText).join('|');
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base} #${n}`;
    taken.add(name);
    names.set(key, name);
  }
  return names;
}

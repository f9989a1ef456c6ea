/**
 * Group fairness metrics with Fairlearn's between-groups definitions: per group the count,
 * selection rate, true positive rate and false positive rate (a rate whose denominator is zero
 * is 0, as in Fairlearn); demographic parity difference (max − min selection rate) and ratio
 * (min / max); equalized odds difference (the larger of the TPR and FPR differences) and ratio
 * (the smaller of the two ratios); equal opportunity difference (TPR difference).
 */

/** Counts of one group. */
export interface GroupCounts {
  count: number;
  selected: number;
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

/** Rates of one group, as reported in `metrics.byGroup`. */
export interface GroupRates {
  count: number;
  selectionRate: number;
  tpr: number;
  fpr: number;
}

/** The disparity metrics (null when a ratio is 0 / 0). */
export interface DisparityMetrics {
  demographicParityDifference: number;
  demographicParityRatio: number | null;
  equalizedOddsDifference: number;
  equalizedOddsRatio: number | null;
  equalOpportunityDifference: number;
}

/**
 * Accumulates per-group confusion counts for a binary outcome, for at most `maxGroups` distinct
 * groups: rows of further groups are counted in {@link GroupAccumulator.overflowRows} only, so
 * that a column of unique values cannot grow memory or the result without bound.
 */
export class GroupAccumulator {
  readonly groups = new Map<string, GroupCounts>();
  /** Rows whose group was new once `maxGroups` groups were followed. */
  overflowRows = 0;

  constructor(readonly maxGroups: number = Number.POSITIVE_INFINITY) {}

  /** Adds one row; false when its group is new and the accumulator is full. */
  add(group: string, actualPositive: boolean, predictedPositive: boolean): boolean {
    let g = this.groups.get(group);
    if (!g) {
      if (this.groups.size >= this.maxGroups) {
        this.overflowRows += 1;
        return false;
      }
      g = { count: 0, selected: 0, tp: 0, fp: 0, fn: 0, tn: 0 };
      this.groups.set(group, g);
    }
    g.count += 1;
    if (predictedPositive) g.selected += 1;
    if (actualPositive) {
      if (predictedPositive) g.tp += 1;
      else g.fn += 1;
    } else if (predictedPositive) g.fp += 1;
    else g.tn += 1;
    return true;
  }
}

/** Rates of a group from its counts. */
export function groupRates(g: GroupCounts): GroupRates {
  return {
    count: g.count,
    selectionRate: g.count === 0 ? 0 : g.selected / g.count,
    tpr: g.tp + g.fn === 0 ? 0 : g.tp / (g.tp + g.fn),
    fpr: g.fp + g.tn === 0 ? 0 : g.fp / (g.fp + g.tn),
  };
}

function spread(values: number[]): { difference: number; ratio: number | null } {
  const max = Math.max(...values);
  const min = Math.min(...values);
  return { difference: max - min, ratio: max === 0 ? null : min / max };
}

/** Between-group disparities over the given groups' rates (at least one group). */
export function disparities(rates: GroupRates[]): DisparityMetrics {
  const selection = spread(rates.map((r) => r.selectionRate));
  const tpr = spread(rates.map((r) => r.tpr));
  const fpr = spread(rates.map((r) => r.fpr));
  const ratios = [tpr.ratio, fpr.ratio].filter((r): r is number => r !== null);
  return {
    demographicParityDifference: selection.difference,
    demographicParityRatio: selection.ratio,
    equalizedOddsDifference: Math.max(tpr.difference, fpr.difference),
    equalizedOddsRatio: tpr.ratio === null && fpr.ratio === null ? null : Math.min(...ratios),
    equalOpportunityDifference: tpr.difference,
  };
}

/**
 * The four-fifths rule: each group's selection rate must be at least 80 % of the highest.
 * Returns the groups that fall short, with their impact ratio.
 */
export function fourFifthsViolations(byGroup: Record<string, GroupRates>): Array<{ group: string; impactRatio: number }> {
  const max = Math.max(...Object.values(byGroup).map((r) => r.selectionRate));
  if (max === 0) return [];
  return Object.entries(byGroup)
    .map(([group, r]) => ({ group, impactRatio: r.selectionRate / max }))
    .filter((v) => v.impactRatio < 0.8);
}

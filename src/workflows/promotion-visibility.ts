// What operators read of a promotion in the Temporal UI: search attributes for the list and its
// filters, current details on the workflow's page; and what reviewers' queues read of it in a
// listing: its review summary, in its memo. Workflow code: deterministic.
import { setCurrentDetails, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import { blockingChecks, eligibleRoles, validApprovals } from '../policy/evaluate';
import { REVIEW_SUMMARY_MEMO_KEY, reviewSummaryOf, ReviewSummarySchema } from '../policy/review-summary';
import { SearchAttributes } from '../shared/search-attributes';
import type { PromotionState } from '../shared/promotion';
import { takesChange } from './promotion-changes';
import type { PromotionMachine } from './promotion-machine';

/**
 * Keeps a promotion's review summary in its memo (since review-queue-memo): upserted whenever it
 * changes, so reviewers' queues are answered from the visibility listing alone. A summary beyond
 * its bounds is removed from the memo instead (the queue then reads the promotion's state).
 */
export class ReviewSummaryMemo {
  /** The summary last upserted in this run (its JSON), or `removed`. */
  private last: string | undefined;
  /** The JSON of the summary last published, upserted or not: the same summary is not checked against its bounds again. */
  private lastSeen: string | undefined;

  /** Upserts the summary of a promotion's state when it changed since the last upsert of this run. */
  publish(state: PromotionState): void {
    if (!takesChange('review-queue-memo')) return;
    const summary = reviewSummaryOf(state);
    const json = JSON.stringify(summary);
    if (json === this.lastSeen) return;
    this.lastSeen = json;
    const fits = ReviewSummarySchema.safeParse(summary).success;
    const shown = fits ? json : 'removed';
    if (shown === this.last) return;
    this.last = shown;
    upsertMemo({ [REVIEW_SUMMARY_MEMO_KEY]: fits ? summary : undefined });
  }
}

/**
 * Keeps a promotion's search attributes (since search-attributes-when-changed): upserted only
 * when they changed since the last upsert of this run. Each upsert is an event in the history and
 * a write of the whole visibility record, and a promotion publishes several times in one workflow
 * task (a decision's Update, then the step it unblocks); before, every publish upserted all of them.
 */
export class SearchAttributesUpsert {
  /** The attributes last upserted in this run (their JSON). */
  private last: string | undefined;

  /** Upserts `attributes` unless they are those last upserted in this run. */
  upsert(attributes: Parameters<typeof upsertSearchAttributes>[0]): void {
    if (!takesChange('search-attributes-when-changed')) return upsertSearchAttributes(attributes);
    const shown = JSON.stringify(attributes);
    if (shown === this.last) return;
    this.last = shown;
    upsertSearchAttributes(attributes);
  }
}

/** What a promotion keeps in visibility for the rest of its run: its search attributes and its review summary memo. */
export interface PromotionVisibility {
  searchAttributes: SearchAttributesUpsert;
  memo: ReviewSummaryMemo;
}

/** Search attributes and current details: what operators read in the Temporal UI's list and page; and the review summary in the memo. */
export function publish(m: PromotionMachine, { searchAttributes, memo }: PromotionVisibility): void {
  const { state, policy } = m;
  const open = state.status === 'IN_REVIEW' ? m.openGates() : [];
  searchAttributes.upsert([
    { key: SearchAttributes.ModelName, value: state.manifest.model.name },
    { key: SearchAttributes.ModelVersion, value: state.manifest.model.version },
    { key: SearchAttributes.TargetEnvironment, value: state.manifest.target },
    { key: SearchAttributes.RiskTier, value: state.effectiveTier },
    { key: SearchAttributes.Submitter, value: state.submitter.id },
    { key: SearchAttributes.PromotionStatus, value: state.status },
    { key: SearchAttributes.PendingGates, value: open.map((g) => g.name) },
    { key: SearchAttributes.PendingRoles, value: [...new Set(open.flatMap(eligibleRoles))].sort() },
  ]);
  const { model, target } = state.manifest;
  const lines = [`**${state.status}** — ${model.name}@${model.version} → ${target} (tier ${state.effectiveTier}, policy ${policy.name}@${policy.version})`];
  const waiting = open.map((g) => `${g.title} ${validApprovals(g)}/${g.quorum} (roles: ${eligibleRoles(g).join(', ')}${g.deadlineAt ? `; deadline ${g.deadlineAt}` : ''})`);
  if (open.length > 0) lines.push(`Waiting on: ${waiting.join('; ')}`);
  if (state.status === 'CHECKS_FAILED') lines.push(`Blocking checks: ${blockingChecks(state.checks, state.waivers, state.evidenceDigest).join(', ')}`);
  if (state.remediationDeadline && (state.status === 'CHECKS_FAILED' || state.status === 'CHANGES_REQUESTED')) lines.push(`Revision due by ${state.remediationDeadline}`);
  if (state.expedited) lines.push(`Expedited by ${state.expedited.by}: ${state.expedited.reason}`);
  if (state.outcome) lines.push(`Outcome: ${state.outcome.reason} (by ${state.outcome.by})`);
  setCurrentDetails(lines.join('\n\n'));
  memo.publish(m.state);
}


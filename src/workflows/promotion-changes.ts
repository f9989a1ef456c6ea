// The changes made to the promotion workflow while promotions were running, and which of them a
// run takes. Workflow code: deterministic.
import { patched } from '@temporalio/workflow';

/**
 * Every change made to the promotion workflow before {@link PROMOTION_CHANGES_BASELINE}, by the
 * patch id that guards it (docs/lifecycle.md, "Changing the workflow"). A change made after the
 * baseline gets its own `patched()` call, not a place in this list.
 */
export const PROMOTION_CHANGES = [
  'request-id-per-actor',
  'operator-signals',
  'verify-policy',
  'claim-version-after-integrity',
  'deploy-provider',
  'mlflow-write-back-rejection',
  'mlflow-write-back',
  'mlflow-source-pin',
  'archive-audit',
  'review-queue-memo',
  'search-attributes-when-changed',
  'deployment-id-per-run',
  'one-artifact-pass',
  'checks-task-queue',
] as const;

/** One change of {@link PROMOTION_CHANGES}. */
export type PromotionChange = (typeof PROMOTION_CHANGES)[number];

/**
 * The patch a promotion records once, at its first workflow task, for every change in
 * {@link PROMOTION_CHANGES}: a promotion started before it records a marker per change as it
 * reaches each (and the SDK upserts `TemporalChangeVersion` with each marker — an event and a
 * visibility write apiece, a dozen per promotion).
 */
export const PROMOTION_CHANGES_BASELINE = 'promotion-changes-baseline';

/**
 * Whether this run takes `change`: yes for a run that recorded the baseline (every promotion
 * started since, and any run when it is no longer replaying), else what its history says of
 * `change` — the `patched()` answer, so an older history replays exactly as it was recorded.
 */
export function takesChange(change: PromotionChange): boolean {
  return patched(PROMOTION_CHANGES_BASELINE) || patched(change);
}

// The changes made to the promotion workflow while promotions were running, and which of them a
// run takes. Workflow code: deterministic.
import { patched } from '@temporalio/workflow';

/**
 * Every change made to the promotion workflow while promotions were running, oldest first, by the
 * patch id that guards it (docs/lifecycle.md, "Changing the workflow"). A new change is added at
 * the end, with a new baseline in {@link PROMOTION_CHANGE_BASELINES} that covers it.
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
  'kept-deadline-timers',
  'visibility-once-per-task',
] as const;

/** One change of {@link PROMOTION_CHANGES}. */
export type PromotionChange = (typeof PROMOTION_CHANGES)[number];

/**
 * The baselines, newest first: the patch a promotion records once, at its first workflow task,
 * for the first `covers` changes of {@link PROMOTION_CHANGES} together. Without them a promotion
 * records a marker per change as it reaches each (and the SDK upserts `TemporalChangeVersion` with
 * each marker — an event and a visibility write apiece, a dozen per promotion). A promotion
 * started under an older baseline keeps answering from that baseline's marker.
 */
export const PROMOTION_CHANGE_BASELINES: ReadonlyArray<{ patchId: string; covers: number }> = [
  { patchId: 'promotion-changes-baseline-3', covers: 16 },
  { patchId: 'promotion-changes-baseline-2', covers: 15 },
  { patchId: 'promotion-changes-baseline', covers: 14 },
];

/** The baseline a promotion started now records: the newest of {@link PROMOTION_CHANGE_BASELINES}. */
export const PROMOTION_CHANGES_BASELINE = PROMOTION_CHANGE_BASELINES[0]!.patchId;

/**
 * Whether this run takes `change`: yes for a run that recorded a baseline covering it (every
 * promotion started since, and any run when it is no longer replaying: the newest baseline is
 * asked first and recorded then), else what its history says of `change` — the `patched()`
 * answer, so an older history replays exactly as it was recorded.
 */
export function takesChange(change: PromotionChange): boolean {
  const index = PROMOTION_CHANGES.indexOf(change);
  for (const baseline of PROMOTION_CHANGE_BASELINES) {
    if (index < baseline.covers && patched(baseline.patchId)) return true;
  }
  return patched(change);
}

// A promotion's review summary: exactly what a reviewer's queue shows of it and what separation
// of duties needs to decide what to show. The workflow keeps it in its memo (under
// REVIEW_SUMMARY_MEMO_KEY) whenever it changes, so the queue is answered from one visibility
// listing; the API treats a memo as untrusted and validates it with the same schema. Pure and
// workflow-safe: zod and types only.
import { z } from 'zod';
import { ownerOf, PROMOTION_STATUSES, type PromotionState } from '../shared/promotion';
import { eligibleRoles, standingSigners, validApprovals, type SeparationOfDutiesView } from './evaluate';

/** The memo key the review summary is kept under. */
export const REVIEW_SUMMARY_MEMO_KEY = 'reviewSummary';

/**
 * Bounds of a review summary; a promotion beyond them keeps none (the queue reads its state). The
 * whole summary's JSON is at most `characters` long, so its memo payload is at most
 * {@link REVIEW_SUMMARY_MEMO_MAX_BYTES}.
 */
export const REVIEW_SUMMARY_LIMITS = { gates: 32, rolesPerGate: 32, signersPerGate: 64, excluded: 16, text: 200, title: 500, characters: 16_384 } as const;

/** The largest review-summary memo payload a reader needs to read (bytes of UTF-8 JSON). */
export const REVIEW_SUMMARY_MEMO_MAX_BYTES = 4 * REVIEW_SUMMARY_LIMITS.characters;

const text = z.string().min(1).max(REVIEW_SUMMARY_LIMITS.text);
const timestamp = z.string().max(64).refine((v) => !Number.isNaN(Date.parse(v)), 'must be a timestamp');
const count = z.number().int().min(0).max(1_000_000);

const ReviewGateSummarySchema = z.strictObject({
  name: text,
  title: z.string().max(REVIEW_SUMMARY_LIMITS.title),
  stage: text,
  open: z.boolean(),
  /** Roles that may sign now (escalation roles included once escalated). */
  roles: z.array(text).max(REVIEW_SUMMARY_LIMITS.rolesPerGate * 2),
  quorum: count,
  approvals: count,
  escalated: z.boolean(),
  openedAt: timestamp.optional(),
  slaAt: timestamp.optional(),
  deadlineAt: timestamp.optional(),
  /** People with a standing signature on the gate. */
  signers: z.array(text).max(REVIEW_SUMMARY_LIMITS.signersPerGate),
});

/** The review summary as the memo holds it, bounded; anything else is refused. */
export const ReviewSummarySchema = z.strictObject({
  status: z.enum(PROMOTION_STATUSES),
  policy: text,
  model: text,
  version: text,
  target: text,
  riskTier: text,
  submitter: text,
  submittedAt: timestamp,
  expedited: z.boolean(),
  owner: text,
  excluded: z.array(text).max(REVIEW_SUMMARY_LIMITS.excluded),
  gates: z.array(ReviewGateSummarySchema).max(REVIEW_SUMMARY_LIMITS.gates),
}).refine((summary) => JSON.stringify(summary).length <= REVIEW_SUMMARY_LIMITS.characters, `must be at most ${REVIEW_SUMMARY_LIMITS.characters} characters of JSON`);

/** What a reviewer's queue shows of a promotion, and what separation of duties needs for it. */
export type ReviewSummary = z.infer<typeof ReviewSummarySchema>;

/** The review summary of a promotion's state (not checked against the bounds: see {@link ReviewSummarySchema}). */
export function reviewSummaryOf(state: PromotionState): ReviewSummary {
  const { model, target } = state.manifest;
  return {
    status: state.status,
    policy: state.policy.name,
    model: model.name,
    version: model.version,
    target,
    riskTier: state.effectiveTier,
    submitter: state.submitter.id,
    submittedAt: state.submittedAt,
    expedited: !!state.expedited,
    owner: ownerOf(state),
    excluded: [...(state.recertification?.excluded ?? [])],
    gates: state.stages.flatMap((stage) =>
      stage.gates.map((gate) => ({
        name: gate.name,
        title: gate.title,
        stage: stage.name,
        open: gate.status === 'open',
        roles: eligibleRoles(gate),
        quorum: gate.quorum,
        approvals: validApprovals(gate),
        escalated: gate.escalated,
        ...(gate.openedAt ? { openedAt: gate.openedAt } : {}),
        ...(gate.slaAt ? { slaAt: gate.slaAt } : {}),
        ...(gate.deadlineAt ? { deadlineAt: gate.deadlineAt } : {}),
        signers: standingSigners(gate),
      })),
    ),
  };
}

/** The separation-of-duties view of a review summary. */
export function separationOfDutiesViewOfSummary(summary: ReviewSummary): SeparationOfDutiesView {
  return {
    submitter: summary.submitter,
    owner: summary.owner,
    model: summary.model,
    excluded: summary.excluded,
    signers: summary.gates.map((gate) => ({ gate: gate.name, actorIds: gate.signers })),
  };
}

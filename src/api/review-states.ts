// Reads what the review queue needs of promotions: the review summary a promotion keeps in its memo
// and, for promotions without one, its state, without making the worker replay unchanged promotions.
import type { Client } from '@temporalio/client';
import type { Payload, PayloadConverter } from '@temporalio/common';
import { REVIEW_SUMMARY_MEMO_MAX_BYTES, ReviewSummarySchema, type ReviewSummary } from '../policy/review-summary';
import { stateQuery } from '../shared/messages';
import type { PromotionState } from '../shared/promotion';

/** A promotion's state without what a review queue never reads (timeline, checks, refusals). */
export type ReviewState = Omit<PromotionState, 'timeline' | 'checks' | 'refused'> & { timeline: []; checks: []; refused: [] };

/** What {@link createReviewStateReader} reads with. */
export interface ReviewStateReaderOptions {
  /** How long one read (describe, then query) may take. Default 2000 ms. */
  timeoutMs?: number;
  /** How many promotions' states are remembered at most (least recently read forgotten first). Default 5000. */
  limit?: number;
}

/**
 * Returns a reader of promotion states for review queues. The `state` query answers from the
 * workflow's history, so a state is remembered with the run and history length it was read at;
 * while `describe` (answered by the Temporal server alone, no worker) shows the same run and
 * history length, the remembered state is returned and the worker is not asked to replay the
 * promotion. Every call is bounded by `timeoutMs`: a promotion whose worker is down fails fast.
 *
 * @throws whatever the describe or the query throws (not found, deadline exceeded, …).
 */
export function createReviewStateReader(client: Client, options: ReviewStateReaderOptions = {}): (promotionId: string) => Promise<ReviewState> {
  const timeoutMs = options.timeoutMs ?? 2_000;
  const limit = options.limit ?? 5_000;
  const remembered = new Map<string, { runId: string; historyLength: number; state: ReviewState }>();
  const remember = (promotionId: string, entry: { runId: string; historyLength: number; state: ReviewState }) => {
    remembered.delete(promotionId);
    if (remembered.size >= limit) remembered.delete(remembered.keys().next().value!);
    remembered.set(promotionId, entry);
  };

  return async (promotionId) => {
    const deadline = Date.now() + timeoutMs;
    const handle = client.workflow.getHandle(promotionId);
    const { runId, historyLength } = await client.withDeadline(deadline, () => handle.describe());
    const known = remembered.get(promotionId);
    if (known && known.runId === runId && known.historyLength === historyLength) {
      remember(promotionId, known);
      return known.state;
    }
    const state = await client.withDeadline(deadline, () => handle.query(stateQuery));
    // Keyed by what describe showed: the query saw at least that much history, so a later change is never missed.
    const reviewState: ReviewState = { ...state, timeline: [], checks: [], refused: [] };
    remember(promotionId, { runId, historyLength, state: reviewState });
    return reviewState;
  };
}

/** What a review-summary memo holds: a summary, or why it is unreadable (never echoed to callers). */
export type ReviewSummaryMemoReading = { summary: ReviewSummary } | { problem: string };

/**
 * Reads the review summary a promotion keeps in its memo (src/policy/review-summary.ts), as a
 * visibility listing returns it. The memo is written by the workflow but read as untrusted input:
 * bounded in size (a larger payload is refused unread), decoded with the client's payload converter, validated by the summary's schema.
 * A memo that fails any of these is a problem, never an exception.
 */
export function reviewSummaryOfMemo(payload: Payload, converter: PayloadConverter): ReviewSummaryMemoReading {
  if ((payload.data?.length ?? 0) > REVIEW_SUMMARY_MEMO_MAX_BYTES) return { problem: 'review summary memo too large' };
  let decoded: unknown;
  try {
    decoded = converter.fromPayload(payload);
  } catch {
    return { problem: 'review summary memo not decodable' };
  }
  const parsed = ReviewSummarySchema.safeParse(decoded);
  return parsed.success ? { summary: parsed.data } : { problem: 'review summary memo malformed' };
}

import { type WorkflowExecutionDescription, type WorkflowHandle, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { REPEATED_REQUEST, updateOf } from '../shared/messages';
import type { MessageKind, MessagePayloads, MessageResult } from '../shared/promotion';
import { inTraceOf, insideRecordingSpan, traceContextOfMemo } from '../tracing';

/** The first result carried by the refusal of a repeated request, or undefined for any other error. */
export function firstResultOfRepeat(err: unknown): MessageResult | undefined {
  if (!(err instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = err.cause;
  return cause instanceof ApplicationFailure && cause.type === REPEATED_REQUEST ? (cause.details?.[0] as MessageResult | undefined) : undefined;
}

/** How long {@link sendPromotionMessage} waits for a workflow task in flight to finish. */
export const SETTLE_WAIT_MS = 3_000;

/**
 * Waits until the promotion has no workflow task in flight (at most `maxWaitMs`).
 *
 * Why: a query answered while a workflow task is in flight shows that task's outcome before the
 * server has recorded it. A message sent at once on the strength of it (a gate just opened) would
 * be validated against the recorded state: refused for no reason, or accepted into a history that
 * the SDK then cannot replay ('Nondeterminism error: Update machine does not handle this event'),
 * which leaves the promotion stuck. Waiting for the task to finish closes that window.
 * Resolves to the last description read.
 */
export async function untilSettled(handle: WorkflowHandle, maxWaitMs = SETTLE_WAIT_MS): Promise<WorkflowExecutionDescription> {
  const deadline = Date.now() + maxWaitMs;
  for (let wait = 10; ; wait = Math.min(wait * 2, 200)) {
    const description = await handle.describe();
    if (!description.raw.pendingWorkflowTask || Date.now() + wait > deadline) return description;
    await new Promise((r) => setTimeout(r, wait));
  }
}

/**
 * Sends a message to a promotion as a Workflow Update, once no workflow task is in flight (see
 * {@link untilSettled}). A repeated `requestId` resolves to the first result (the promotion
 * refuses the repeat with it, so that nothing is recorded twice). When the promotion keeps its
 * submission's trace context (tracing on), the Update is sent in a span `PromotionMessage:<kind>`
 * of that trace, linked to the caller's span.
 *
 * @throws {WorkflowUpdateFailedError} when the promotion refuses the message (the reason is its cause).
 */
export async function sendPromotionMessage<K extends MessageKind>(handle: WorkflowHandle, kind: K, message: MessagePayloads[K]): Promise<MessageResult> {
  try {
    const description = await untilSettled(handle);
    return await inTraceOf(traceContextOfMemo(description.memo), `PromotionMessage:${kind}`, () => handle.executeUpdate(updateOf(kind), { args: [message] }));
  } catch (err) {
    const first = firstResultOfRepeat(err);
    if (first) return first;
    throw err;
  }
}

/**
 * Sends a message to a promotion (`send`) in a span `name` of the promotion's trace (see
 * {@link sendPromotionMessage}); reads the promotion's memo only while tracing, else just sends.
 */
export async function inPromotionTrace<T>(handle: WorkflowHandle, name: string, send: () => Promise<T>): Promise<T> {
  if (!insideRecordingSpan()) return send();
  const { memo } = await handle.describe();
  return inTraceOf(traceContextOfMemo(memo), name, send);
}

import { type WorkflowHandle, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { promotionUpdates, REPEATED_REQUEST } from '../shared/messages';
import type { MessageKind, MessagePayloads, MessageResult } from '../shared/promotion';

/** The first result carried by the refusal of a repeated request, or undefined for any other error. */
export function firstResultOfRepeat(err: unknown): MessageResult | undefined {
  if (!(err instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = err.cause;
  return cause instanceof ApplicationFailure && cause.type === REPEATED_REQUEST ? (cause.details?.[0] as MessageResult | undefined) : undefined;
}

/**
 * Sends a message to a promotion as a Workflow Update. A repeated `requestId` resolves to the
 * first result (the promotion refuses the repeat with it, so that nothing is recorded twice).
 *
 * @throws {WorkflowUpdateFailedError} when the promotion refuses the message (the reason is its cause).
 */
export async function sendPromotionMessage<K extends MessageKind>(handle: WorkflowHandle, kind: K, message: MessagePayloads[K]): Promise<MessageResult> {
  try {
    return await handle.executeUpdate(promotionUpdates[kind] as never, { args: [message] });
  } catch (err) {
    const first = firstResultOfRepeat(err);
    if (first) return first;
    throw err;
  }
}

// Message definitions shared by the workflow and its clients, derived from the message table
// (src/shared/message-table.ts; docs/lifecycle.md).
// Each message exists as an Update (answers at once, accepted or refused with the reason)
// and as a Signal of the same name and payload (for operators using the Temporal CLI or UI).
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import { ApplicationFailure, defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { DeploymentCompletion } from './deployment';
import { MESSAGE_KINDS, MESSAGE_REFUSAL_STATUS, type MessageKind, type MessageRefusalKind } from './message-table';
import type { MessagePayloads, MessageRefusal, MessageResult, PromotionState } from './promotion';

type MessageUpdates = { [K in MessageKind]: UpdateDefinition<MessageResult, [MessagePayloads[K]], K> };
type MessageSignals = { [K in MessageKind]: SignalDefinition<[MessagePayloads[K]], K> };

/** Update definitions, one per row of the message table. */
export const promotionUpdates = Object.fromEntries(MESSAGE_KINDS.map((kind) => [kind, defineUpdate(kind)])) as MessageUpdates;

/** Signal definitions, same names and payloads as the Updates. */
export const promotionSignals = Object.fromEntries(MESSAGE_KINDS.map((kind) => [kind, defineSignal(kind)])) as MessageSignals;

type AnyPayload = MessagePayloads[MessageKind];
/** The Update of a kind, for a handler that serves every kind (the workflow checks the payload's shape). */
export const anyMessageUpdate = (kind: MessageKind) => promotionUpdates[kind] as UpdateDefinition<MessageResult, [AnyPayload]>;
/** The Signal of a kind, for a handler that serves every kind. */
export const anyMessageSignal = (kind: MessageKind) => promotionSignals[kind] as SignalDefinition<[AnyPayload]>;

/** The Update definition of one message kind, typed by its payload. */
export function updateOf<K extends MessageKind>(kind: K): UpdateDefinition<MessageResult, [MessagePayloads[K]], K> {
  return promotionUpdates[kind] as UpdateDefinition<MessageResult, [MessagePayloads[K]], K>;
}

/**
 * Failure type of a refused Update, by kind of refusal: what clients match on (the API maps
 * them to 400, 403, 409 and 422); the failure's message is the reason.
 */
export const MESSAGE_REFUSAL_TYPES = Object.fromEntries(
  Object.entries(MESSAGE_REFUSAL_STATUS).map(([kind, { failureType }]) => [kind, failureType]),
) as Readonly<Record<MessageRefusalKind, string>>;

/** The failure a validator throws to refuse an Update: typed by the kind of refusal, the reason as its message. */
export function refusedUpdate(refusal: MessageRefusal): ApplicationFailure {
  return ApplicationFailure.create({ type: MESSAGE_REFUSAL_TYPES[refusal.kind], message: refusal.reason, nonRetryable: true });
}

/** Failure type of an Update refused because its requestId was processed before; `details[0]` is the first result. */
export const REPEATED_REQUEST = 'RepeatedRequest';

/**
 * The refusal of a repeated message, carrying the first result. Validators answer repeats this
 * way rather than accepting them again, because a refused Update writes nothing to the history.
 */
export function repeatedRequest(first: MessageResult): ApplicationFailure {
  return ApplicationFailure.create({
    type: REPEATED_REQUEST,
    message: `request ${first.requestId} was processed before; this is its first result`,
    details: [first],
    nonRetryable: true,
  });
}

/** Query of the whole current state. */
export const stateQuery = defineQuery<PromotionState>('state');

/** Workflow type name of a promotion. */
export const PROMOTION_WORKFLOW_TYPE = 'PromotionWorkflow';

/** Readable workflow id of a promotion: `promote:<model>:<version>:<target>`. */
export function promotionWorkflowId(model: string, version: string, target: string): string {
  return `promote:${model}:${version}:${target}`;
}

/**
 * Update through which an asynchronous deployer's completion report (verified by the API)
 * reaches the promotion waiting for it.
 */
export const completeDeploymentUpdate = defineUpdate<{ accepted: true }, [DeploymentCompletion]>('completeDeployment');

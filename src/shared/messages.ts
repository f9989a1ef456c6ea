// Message definitions shared by the workflow and its clients (docs/lifecycle.md).
// Each message exists as an Update (answers at once, accepted or refused with the reason)
// and as a Signal of the same name and payload (for operators using the Temporal CLI or UI).
import { ApplicationFailure, defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { DeploymentCompletion } from './deployment';
import type { MessagePayloads, MessageRefusal, MessageRefusalKind, MessageResult, PromotionState } from './promotion';

/** Update definitions, one per message. */
export const promotionUpdates = {
  decide: defineUpdate<MessageResult, [MessagePayloads['decide']]>('decide'),
  override: defineUpdate<MessageResult, [MessagePayloads['override']]>('override'),
  expedite: defineUpdate<MessageResult, [MessagePayloads['expedite']]>('expedite'),
  revise: defineUpdate<MessageResult, [MessagePayloads['revise']]>('revise'),
  withdraw: defineUpdate<MessageResult, [MessagePayloads['withdraw']]>('withdraw'),
} as const;

/** Signal definitions, same names and payloads as the Updates. */
export const promotionSignals = {
  decide: defineSignal<[MessagePayloads['decide']]>('decide'),
  override: defineSignal<[MessagePayloads['override']]>('override'),
  expedite: defineSignal<[MessagePayloads['expedite']]>('expedite'),
  revise: defineSignal<[MessagePayloads['revise']]>('revise'),
  withdraw: defineSignal<[MessagePayloads['withdraw']]>('withdraw'),
} as const;

/**
 * Failure type of a refused Update, by kind of refusal: what clients match on (the API maps
 * them to 400, 403, 409 and 422); the failure's message is the reason.
 */
export const MESSAGE_REFUSAL_TYPES: Readonly<Record<MessageRefusalKind, string>> = {
  invalid: 'MessageInvalid',
  forbidden: 'MessageForbidden',
  conflict: 'MessageConflict',
  policy: 'MessageRefusedByPolicy',
};

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

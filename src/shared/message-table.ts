// The one table of the messages a promotion accepts (docs/lifecycle.md#messages). Each row
// names the message's HTTP path, the body it takes, the states that accept it, who may send it
// and how it is refused. Everything else is derived from it: the Update and Signal definitions
// (src/shared/messages.ts), the workflow's payload check and refusals, the API's routes and
// OpenAPI document, the refusal → HTTP status map, the CLI's verbs and the dashboard's offers.
// The workflow's rule and apply step for each row are typed by it, so a new kind fails to
// compile until both exist. Workflow-safe: zod and types only.
import { z } from 'zod';
import { ManifestRevisionSchema } from '../manifest/schema';
import type { PromotionStatus } from './promotion';

const name = z
  .string({ error: 'must be a name' })
  .min(1, 'must be a name')
  .max(200, 'must be at most 200 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@/+-]*$/, 'must be letters, digits and . _ : @ / + -');
const comment = z.string({ error: 'must be a string' }).max(10_000, 'must be at most 10000 characters').optional();
const reason = z.string({ error: 'must be a non-empty string' }).trim().min(1, 'must be a non-empty string').max(10_000, 'must be at most 10000 characters');
/** Optional in a request body (the `Idempotency-Key` header or a fresh id stands in); required in the payload. */
const requestId = z.string().min(1).max(200).optional().describe('idempotency key; a repeat returns the first result');

/** The minimum length of an override's justification. */
export const MIN_JUSTIFICATION = 10;

/** Fields of the manifest a revision may not change: a new artifact is a new version and a new promotion. */
export const IMMUTABLE_FIELDS = ['artifact', 'model', 'target'] as const;

/** States in which a promotion is still open to withdrawal and expedition (before approval). */
const BEFORE_APPROVAL = ['VALIDATING', 'CHECKS_FAILED', 'IN_REVIEW', 'CHANGES_REQUESTED'] as const satisfies readonly PromotionStatus[];

/**
 * The messages a promotion accepts, by kind (the Update and Signal name):
 * - `path`: `POST /v1/promotions/{id}/<path>`;
 * - `title`: what it does, in the OpenAPI document and the CLI's help;
 * - `body`: what a client sends (the API adds the authenticated actor and the request id);
 * - `acceptedIn`: the states that accept it (by variant where the message has variants);
 * - `who`: who may send it, as the workflow's rule decides (src/workflows/promotion-rules.ts);
 * - `refusals`: the kinds of refusal it can meet ({@link MESSAGE_REFUSAL_STATUS}).
 */
export const PROMOTION_MESSAGES = {
  decide: {
    path: 'decisions',
    title: 'Approve, reject or request changes on a gate',
    body: z.object({
      gate: name.describe('the open gate decided on'),
      decision: z.enum(['approve', 'reject', 'request_changes'], { error: 'must be one of approve, reject, request_changes' }),
      comment: comment.describe('required to reject or request changes'),
      requestId,
    }),
    acceptedIn: { any: ['IN_REVIEW'] },
    who: "a role of the gate (its escalation roles once escalated); not the submitter or the model's owner; one person once",
    refusals: ['invalid', 'forbidden', 'conflict', 'policy'],
  },
  override: {
    path: 'overrides',
    title: 'Waive a failed check or force a gate (break-glass, with justification)',
    body: z.object({
      kind: z.enum(['waive_check', 'force_gate'], { error: 'must be waive_check or force_gate' }),
      target: name.describe('a check name (waive_check) or a gate name (force_gate)'),
      justification: z
        .string({ error: `must explain the override in at least ${MIN_JUSTIFICATION} characters` })
        .trim()
        .min(MIN_JUSTIFICATION, `must explain the override in at least ${MIN_JUSTIFICATION} characters`)
        .max(10_000, 'must be at most 10000 characters'),
      comment,
      requestId,
    }),
    acceptedIn: { waive_check: ['CHECKS_FAILED'], force_gate: ['IN_REVIEW'] },
    who: "the policy's override roles (overrides.waiveCheck / overrides.forceGate); not the submitter or the model's owner",
    refusals: ['invalid', 'forbidden', 'conflict', 'policy'],
  },
  expedite: {
    path: 'expedite',
    title: 'Switch to the expedited SLAs',
    body: z.object({ reason, comment, requestId }),
    acceptedIn: { any: BEFORE_APPROVAL },
    who: "the policy's expedite roles (overrides.expedite); once per promotion",
    refusals: ['invalid', 'forbidden', 'conflict'],
  },
  revise: {
    path: 'revisions',
    title: 'Revise the evidence after failed checks or requested changes',
    body: z.object({
      changes: ManifestRevisionSchema.refine((c) => Object.keys(c).length > 0, 'must change at least one field').meta({ minProperties: 1 }),
      comment,
      requestId,
    }),
    acceptedIn: { any: ['CHECKS_FAILED', 'CHANGES_REQUESTED'] },
    who: 'the submitter only',
    refusals: ['invalid', 'forbidden', 'conflict'],
  },
  withdraw: {
    path: 'withdraw',
    title: 'Withdraw the promotion',
    body: z.object({ reason, comment, requestId }),
    acceptedIn: { any: BEFORE_APPROVAL },
    who: "the submitter, or the policy's withdraw roles (overrides.withdraw)",
    refusals: ['invalid', 'forbidden', 'conflict'],
  },
} as const satisfies Record<string, MessageSpec>;

/** One row of {@link PROMOTION_MESSAGES}. */
export interface MessageSpec {
  path: string;
  title: string;
  body: z.ZodObject;
  acceptedIn: Readonly<Record<string, readonly PromotionStatus[]>>;
  who: string;
  refusals: readonly MessageRefusalKind[];
}

/** Names of the messages a promotion accepts. */
export type MessageKind = keyof typeof PROMOTION_MESSAGES;

/** The message kinds, in the table's order. */
export const MESSAGE_KINDS = Object.keys(PROMOTION_MESSAGES) as MessageKind[];

/**
 * Why a promotion refuses a message:
 * - `invalid`: the payload is malformed (a field missing or of the wrong type);
 * - `forbidden`: the sender lacks the role, or separation of duties forbids it;
 * - `conflict`: the promotion's state does not accept the message now;
 * - `policy`: well-formed, but the policy refuses it (an unknown gate or check, …).
 */
export type MessageRefusalKind = 'invalid' | 'forbidden' | 'conflict' | 'policy';

/** For each kind of refusal: the failure type a refused Update carries and the HTTP status the API answers with. */
export const MESSAGE_REFUSAL_STATUS: Readonly<Record<MessageRefusalKind, { failureType: string; httpStatus: 400 | 403 | 409 | 422 }>> = {
  invalid: { failureType: 'MessageInvalid', httpStatus: 400 },
  forbidden: { failureType: 'MessageForbidden', httpStatus: 403 },
  conflict: { failureType: 'MessageConflict', httpStatus: 409 },
  policy: { failureType: 'MessageRefusedByPolicy', httpStatus: 422 },
};

/** The states that accept a message (any of its variants). */
export function statesAccepting(kind: MessageKind): ReadonlySet<PromotionStatus> {
  return new Set(Object.values(PROMOTION_MESSAGES[kind].acceptedIn as Record<string, readonly PromotionStatus[]>).flat());
}

/** Who sends a message: an identity and its roles (the API takes them from the verified token). */
const ActorSchema = z.object(
  {
    id: z.string({ error: 'must be a non-empty string' }).trim().min(1, 'must be a non-empty string').max(200, 'must be at most 200 characters'),
    roles: z.array(z.string(), { error: 'must be an array of strings' }).max(100, 'must list at most 100 roles'),
  },
  { error: 'must be an object { id, roles }' },
);

/** The payload of a message as the workflow receives it: the body, the actor, a required request id. */
const PAYLOAD_SCHEMAS: Record<string, z.ZodObject> = Object.fromEntries(
  MESSAGE_KINDS.map((kind) => [
    kind,
    z.object({
      actor: ActorSchema,
      ...(PROMOTION_MESSAGES[kind].body as z.ZodObject).shape,
    }).extend({
      requestId: z
        .string({ error: 'must be a non-empty string of at most 200 characters' })
        .trim()
        .min(1, 'must be a non-empty string of at most 200 characters')
        .max(200, 'must be a non-empty string of at most 200 characters'),
    }),
  ]),
);

/**
 * What is wrong with a message payload, naming the field (`decision: must be one of …`), or
 * `undefined` when its shape is right. The workflow does not trust its callers: operators send
 * Signals by hand.
 */
export function payloadProblem(kind: MessageKind, payload: unknown): string | undefined {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return 'payload: must be an object';
  const changes = (payload as { changes?: unknown }).changes;
  if (kind === 'revise' && typeof changes === 'object' && changes !== null) {
    const fixed = IMMUTABLE_FIELDS.find((field) => field in changes);
    if (fixed) return `changes.${fixed}: cannot be revised; a new artifact is a new version and a new promotion (with supersedes)`;
  }
  return firstProblem(PAYLOAD_SCHEMAS[kind]!, payload);
}

const SENDER_SCHEMA = z.object({ actor: ActorSchema });

/**
 * What is wrong with the sender (`actor { id, roles }`) of a payload, naming the field, or
 * `undefined`: the check every message to a lifecycle starts with.
 */
export function actorProblem(payload: unknown): string | undefined {
  return firstProblem(SENDER_SCHEMA, payload ?? {});
}

/** The first problem `schema` finds in `value`, as `path: message`. */
function firstProblem(schema: z.ZodType, value: unknown): string | undefined {
  const parsed = schema.safeParse(value);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.length > 0 ? issue.path.map(String).join('.') : 'payload';
  return `${path}: ${issue.message}`;
}

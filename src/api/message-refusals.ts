import { MESSAGE_REFUSAL_TYPES } from '../shared/messages';
import type { MessageRefusalKind } from '../shared/promotion';
import type { ApiErrorCode } from './errors';

const API_CODE_OF_REFUSAL: Record<MessageRefusalKind, ApiErrorCode> = {
  invalid: 'invalid_input',
  forbidden: 'forbidden',
  conflict: 'conflict',
  policy: 'refused_by_policy',
};

const API_CODE_OF_FAILURE_TYPE = new Map<string, ApiErrorCode>(
  (Object.entries(MESSAGE_REFUSAL_TYPES) as Array<[MessageRefusalKind, string]>).map(([kind, type]) => [type, API_CODE_OF_REFUSAL[kind]]),
);

/**
 * The API error code of a promotion's refusal of a message, from the failure type the
 * workflow refused the Update with ({@link MESSAGE_REFUSAL_TYPES}): `invalid` → 400,
 * `forbidden` → 403, `conflict` → 409, `policy` → 422.
 *
 * @returns `undefined` for any other failure type (not a refusal: an unexpected failure).
 */
export function apiCodeOfRefusal(failureType: string | undefined): ApiErrorCode | undefined {
  return failureType === undefined ? undefined : API_CODE_OF_FAILURE_TYPE.get(failureType);
}

import { MESSAGE_REFUSAL_STATUS } from '../shared/message-table';
import { type ApiErrorCode, ApiErrorStatus } from './errors';

/**
 * The API error code of a workflow's refusal of an Update (a promotion's message or an
 * environment's lifecycle request), from the failure type it refused with: the code of the HTTP
 * status `MESSAGE_REFUSAL_STATUS` gives it (`invalid` → 400, `forbidden` → 403, `conflict` →
 * 409, `policy` → 422).
 *
 * @returns `undefined` for any other failure type (not a refusal: an unexpected failure).
 */
export function apiCodeOfRefusal(failureType: string | undefined): ApiErrorCode | undefined {
  // Looked up when called: src/api/errors.ts imports this module (through its domain errors).
  const refusal = Object.values(MESSAGE_REFUSAL_STATUS).find((r) => r.failureType === failureType);
  return refusal && (Object.keys(ApiErrorStatus) as ApiErrorCode[]).find((code) => ApiErrorStatus[code] === refusal.httpStatus);
}

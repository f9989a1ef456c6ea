import type { ApiErrorCode } from './errors';

/**
 * Classifies a promotion's refusal of a message (the reason text of `messageRefusal` and
 * `separationOfDutiesRefusal`) into an API error code:
 * - `forbidden` (403): the caller lacks a role, or separation of duties forbids it;
 * - `conflict` (409): the promotion is not in a state that accepts the message;
 * - `refused_by_policy` (422): anything else well-formed the rules refuse (unknown gate, …).
 */
export function classifyMessageRefusal(reason: string): ApiErrorCode {
  if (
    /^separation of duties:/.test(reason) ||
    / lacks a role of gate /.test(reason) ||
    / may not (waive checks|force gates|expedite)/.test(reason) ||
    /^the policy allows no one to /.test(reason) ||
    /^only the submitter \(/.test(reason) ||
    / has already decided on gate /.test(reason)
  ) {
    return 'forbidden';
  }
  if (
    /^promotion is [A-Z_]+;/.test(reason) ||
    /^gate "[^"]+" is not open/.test(reason) ||
    /^already expedited by /.test(reason)
  ) {
    return 'conflict';
  }
  return 'refused_by_policy';
}

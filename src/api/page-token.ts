import { createHash } from 'node:crypto';
import { ApiError } from './errors';

// The `pageToken` of `GET /v1/promotions`: Temporal's opaque visibility page token, with a check
// sum that binds it to the visibility query it continues. Temporal cannot parse a token it did
// not issue and answers with an internal error (retried by the client for seconds); with the
// check sum the API refuses such a token at once with 400, and also a token of another query.

/** Check sum of a Temporal page token for one visibility query. */
function checksum(query: string, token: Uint8Array): string {
  return createHash('sha256').update(query).update('\n').update(token).digest('base64url').slice(0, 16);
}

/** The `nextPageToken` the API returns for Temporal's `token` of `query`. */
export function encodePageToken(query: string, token: Uint8Array): string {
  return `${checksum(query, token)}.${Buffer.from(token).toString('base64url')}`;
}

/**
 * Temporal's page token inside a `pageToken` the API returned for the same `query`.
 *
 * @throws {ApiError} `invalid_input` when the token is not one this list returned.
 */
export function decodePageToken(query: string, pageToken: string): Uint8Array {
  const [sum, encoded, ...rest] = pageToken.split('.');
  const token = encoded !== undefined && rest.length === 0 ? Buffer.from(encoded, 'base64url') : undefined;
  if (!token || token.length === 0 || sum !== checksum(query, token)) {
    const message = 'is not a nextPageToken of this list with the same filters';
    throw new ApiError('invalid_input', `invalid query: pageToken: ${message}`, { problems: [{ path: 'pageToken', message }] });
  }
  return token;
}

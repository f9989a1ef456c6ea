// The pieces every router's OpenAPI registration is built from: the error responses, JSON
// content, the bearer requirement, the promotion id parameter and named components. The
// document itself is assembled in src/api/openapi.ts.
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { ErrorResponseSchema, PromotionIdSchema } from './schemas';

/** The responses of an operation, by status code. */
export type Responses = Record<string, { description: string; content?: Record<string, { schema: z.ZodType }> }>;

/** The `Error` component: the shape of every failed request. */
export const ErrorComponent = ErrorResponseSchema.meta({ id: 'Error' });

/** Operations that need a bearer token. */
export const BEARER: Array<Record<string, string[]>> = [{ bearer: [] }];

/** JSON content of a body or a response. */
export const json = (schema: z.ZodType) => ({ 'application/json': { schema } });

/** What each error status of the API means. */
const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'invalid input (body, query or path); `details.problems` names each field path',
  401: 'missing, expired or wrongly signed bearer token',
  403: 'the caller lacks a role, or separation of duties forbids it',
  404: 'no such promotion or model',
  409: 'the promotion is not in a state that accepts this, or the version exists with another digest',
  413: 'the body is larger than the limit (1 MB)',
  415: 'the body is not `application/json` (or has an unsupported charset or encoding)',
  422: 'valid, but refused by the policy',
  429: 'too many refused requests (bearer tokens, deployer reports) from this address in a minute; retry after the `Retry-After` seconds',
  431: 'the request line and headers are larger than 64 KiB',
  500: 'internal error; logged, the answer carries no detail',
  503: 'Temporal or PostgreSQL is unreachable or overloaded for a moment; retry after the `Retry-After` seconds',
};

/**
 * The error responses of a `/v1` operation: every one can answer 400 (a query, path or body that
 * does not parse), 401, 429 (after too many refused tokens, src/api/rate-limits.ts), 431 (a
 * request line and headers over 64 KiB, see src/api/http-server.ts), 500 and 503; `codes` adds others.
 */
export function errorResponses(...codes: number[]): Responses {
  return Object.fromEntries(
    [...new Set([400, 401, 429, 431, ...codes, 500, 503])]
      .sort((a, b) => a - b)
      .map((code) => [String(code), { description: ERROR_DESCRIPTIONS[code]!, content: json(ErrorComponent) }]),
  );
}

/** The error responses of an operation with a JSON body (adds 413 and 415). */
export const bodyErrorResponses = (...codes: number[]): Responses => errorResponses(413, 415, ...codes);

/** Path parameter `{id}` of the promotion routes. */
export const promotionIdParams = z.object({ id: PromotionIdSchema.describe('promotion id, e.g. `promote:fraud:1.2.0:production` (URL-encoded)') });

/**
 * A schema as a named component of the document (zod's own metadata, `.meta({ id })`, which
 * the generator reads); the shared schema itself stays untouched.
 */
export function named<S extends z.ZodType>(registry: OpenAPIRegistry, id: string, schema: S): S {
  const withId = schema.meta({ id }) as S;
  registry.definitions.push({ type: 'schema', schema: withId });
  return withId;
}

// What every router reads from a request: its input parsed by a schema, the authenticated
// caller, the idempotency key. Routers import these (down), not each other (sideways).
import { randomUUID } from 'node:crypto';
import type { Request } from 'express';
import type { z } from 'zod';
import { describeIssues } from '../manifest/schema';
import { type ManifestSources, manifestSourceProblems } from '../sources/manifest';
import type { SourceRules } from '../sources/rules';
import { ApiError } from './errors';

export { actorOf } from './auth';

/**
 * Parses `input` with `schema`, or throws a 400 naming every field path that is wrong.
 * `where` prefixes the paths (`body`, `query`).
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, where: string): z.infer<S> {
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) {
    const problems = describeIssues(parsed.error);
    throw new ApiError('invalid_input', `invalid ${where}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, { problems });
  }
  return parsed.data;
}

/** The request id of a message: the body's `requestId`, else the `Idempotency-Key` header, else a fresh one. */
export function requestIdOf(req: Request, bodyRequestId: string | undefined): string {
  return bodyRequestId ?? req.get('idempotency-key') ?? randomUUID();
}

/**
 * Refuses (400) a manifest or revision naming a source the rules refuse, naming each field and
 * rule; `what` names the input (`manifest`, `revision`), `pathPrefix` prefixes its field paths.
 */
export function refuseSources(manifest: ManifestSources, rules: SourceRules, what: string, pathPrefix: string): void {
  const problems = manifestSourceProblems(manifest, rules);
  if (problems.length === 0) return;
  throw new ApiError('invalid_input', `invalid ${what}: ${problems.map((p) => `${pathPrefix}${p.message}`).join('; ')}`, {
    problems: problems.map((p) => ({ path: `${pathPrefix}${p.path}`, message: p.message, rule: p.rule })),
  });
}

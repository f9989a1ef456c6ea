import type { ErrorRequestHandler } from 'express';
import type { Pool } from 'pg';
import { logRefusedAttempt, type RefusedAttempt } from '../audit/archive';
import type { AuditSealer } from '../audit/seal';
import type { Logger } from '../logger';
import { promotionWorkflowId } from '../shared/messages';
import { MESSAGE_KINDS, type MessageKind, PROMOTION_MESSAGES } from '../shared/message-table';
import type { Actor } from '../shared/promotion';
import { asApiError } from './errors';

/** The message kind of each path of `POST /v1/promotions/{id}/<path>`. */
const MESSAGE_ACTIONS: ReadonlyMap<string, MessageKind> = new Map(MESSAGE_KINDS.map((kind) => [PROMOTION_MESSAGES[kind].path, kind]));

/** The promotion a submission is for, when its body names the model, version and target (even if the rest is invalid). */
function submittedPromotionId(body: unknown): string | undefined {
  const manifest = body as { model?: { name?: unknown; version?: unknown }; target?: unknown } | undefined;
  const parts = [manifest?.model?.name, manifest?.model?.version, manifest?.target];
  const named = (part: unknown): part is string => typeof part === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(part);
  return parts.every(named) ? promotionWorkflowId(...(parts as [string, string, string])) : undefined;
}

/** What an HTTP request attempted, for the refusal log: the action and the promotion (when known). */
export function describeAttempt(req: { method: string; path: string; body?: unknown }): { action: string; promotionId?: string } {
  const path = req.path.replace(/^\/v1/, '');
  const match = /^\/promotions\/([^/]+)(?:\/([^/]+))?\/?$/.exec(path);
  if (match) {
    let promotionId: string;
    try {
      promotionId = decodeURIComponent(match[1]!);
    } catch {
      promotionId = match[1]!;
    }
    const sub = match[2];
    if (req.method === 'POST' && sub && MESSAGE_ACTIONS.has(sub)) return { action: MESSAGE_ACTIONS.get(sub)!, promotionId };
    return { action: `${req.method.toLowerCase()}_${sub ?? 'promotion'}`, promotionId };
  }
  if (req.method === 'POST' && /^\/promotions\/?$/.test(path)) {
    const promotionId = submittedPromotionId(req.body);
    return { action: 'submit', ...(promotionId ? { promotionId } : {}) };
  }
  return { action: `${req.method.toLowerCase()} ${path}` };
}

/** Status codes of `/v1` whose refusals are logged (401 is logged by the token check itself). */
const LOGGED_STATUSES: ReadonlySet<number> = new Set([400, 403, 409, 413, 415, 422]);

/** Field problems of an invalid input kept in the log; more are counted, not kept. */
const MAX_LOGGED_PROBLEMS = 20;
/** Longest path or message of one logged field problem. */
const MAX_PROBLEM_TEXT = 200;

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** The field problems of a 400 as they are logged: the first few, each clipped, and how many there were. */
function loggedProblems(details: unknown): Record<string, unknown> {
  const problems = (details as { problems?: unknown } | undefined)?.problems;
  if (!Array.isArray(problems)) return {};
  const kept = problems.slice(0, MAX_LOGGED_PROBLEMS).map((p: { path?: unknown; message?: unknown }) => ({
    path: clip(String(p?.path ?? ''), MAX_PROBLEM_TEXT),
    message: clip(String(p?.message ?? ''), MAX_PROBLEM_TEXT),
  }));
  return { problems: kept, ...(problems.length > kept.length ? { problemCount: problems.length } : {}) };
}

/**
 * The log of refused attempts on `/v1` (PostgreSQL `refused_attempts`, shown in the promotion's
 * audit): `tokenRefused` for the token check (401), `middleware` for every later refusal —
 * invalid input (400, 413, 415, with the field paths), 403, 409 and 422. Writing never delays
 * or fails the answer; a failed write is logged as a warning.
 */
export function createRefusalLog(deps: { pool: Pool; log: Logger; sealer?: AuditSealer }) {
  // Never rejects: a refused attempt that cannot be logged is reported, and the refusal still answered.
  const write = (attempt: RefusedAttempt): Promise<void> =>
    logRefusedAttempt(deps.pool, attempt, deps.sealer).catch((err: unknown) => deps.log.warn({ err }, 'could not log a refused attempt'));
  // The refusal is answered once its record is written (or failed to be), so that a client who
  // has seen the refusal finds it in the audit record.
  const middleware: ErrorRequestHandler = (err, req, res, next) => {
    const apiError = asApiError(err);
    if (apiError && LOGGED_STATUSES.has(apiError.status)) {
      const actor = res.locals.actor as Actor | undefined;
      void write({
        ...describeAttempt(req),
        ...(actor ? { actor: actor.id } : {}),
        statusCode: apiError.status,
        reason: apiError.message,
        detail: apiError.status === 400 ? loggedProblems(apiError.details) : {},
      }).then(() => next(err));
      return;
    }
    next(err);
  };
  return {
    tokenRefused(refusal: { reason: string; method: string; path: string; claimedSubject?: string }) {
      void write({
        ...describeAttempt(refusal),
        statusCode: 401,
        reason: refusal.reason,
        detail: refusal.claimedSubject ? { claimedSubject: refusal.claimedSubject } : {},
      });
    },
    middleware,
  };
}

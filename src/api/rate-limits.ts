import type { RequestHandler } from 'express';
import { ipKeyGenerator, MemoryStore, type Options } from 'express-rate-limit';
import { errorBody } from './errors';

/**
 * How many refused requests one client address may cause per minute on the routes anyone can
 * reach: each refused bearer token and each refused deployer report costs a query and a write
 * (the refused-attempts log), so a flood of them is cut off with 429 before it reaches either.
 */
export interface RateLimits {
  /** Requests answered 401 (no, bad or expired token) per client address and minute. */
  refusedTokensPerMinute: number;
  /** Deployer reports refused (bad signature, replay, unknown deployment) per client address and minute. */
  refusedReportsPerMinute: number;
}

/** Far above what a person or a deployer produces by mistake. */
export const DEFAULT_RATE_LIMITS: RateLimits = { refusedTokensPerMinute: 120, refusedReportsPerMinute: 120 };

/** The window over which refusals are counted. */
const WINDOW_MS = 60_000;

/**
 * A limiter that counts only the requests it refuses (`counts(status)`), per client address over a
 * minute, once their answer is sent; past `limit`, it answers 429 `too_many_requests` with
 * `Retry-After` without running the route, its database reads or its logging.
 *
 * A request is counted when its answer is known (or its client hung up first), never on
 * arrival: express-rate-limit's `skipSuccessfulRequests` counts every request on arrival and
 * takes it back when it succeeds, so that more than `limit` requests in flight at once from one
 * address (an ingress, a busy client) were answered 429 with valid tokens. The counts are kept in
 * the library's `MemoryStore`.
 */
function refusalLimiter(limit: number, counts: (status: number) => boolean, what: string): RequestHandler {
  const store = new MemoryStore();
  store.init({ windowMs: WINDOW_MS } as Options);
  return (req, res, next) => {
    const key = ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown');
    store.get(key).then((seen) => {
      if (seen && seen.totalHits >= limit) {
        const seconds = Math.max(1, Math.ceil(((seen.resetTime?.getTime() ?? Date.now() + WINDOW_MS) - Date.now()) / 1000));
        res.set('Retry-After', String(seconds)).status(429).json(errorBody('too_many_requests', `too many refused ${what} from this address: at most ${limit} a minute; retry later`));
        return;
      }
      // Counted once the exchange is over: a refused answer, or a request whose client hung up
      // before its answer was sent (its refusal, if any, is still logged: hanging up does not
      // dodge the limit).
      res.once('close', () => {
        if (!res.writableFinished || counts(res.statusCode)) void store.increment(key);
      });
      next();
    }, next);
  };
}

/** Cuts off an address after too many requests refused for their bearer token (401). */
export function refusedTokenLimiter(limits: RateLimits): RequestHandler {
  return refusalLimiter(limits.refusedTokensPerMinute, (status) => status === 401, 'sign-ins');
}

/** Cuts off an address after too many refused deployer reports. */
export function refusedReportLimiter(limits: RateLimits): RequestHandler {
  return refusalLimiter(limits.refusedReportsPerMinute, (status) => status >= 400 && status !== 503, 'deployer reports');
}

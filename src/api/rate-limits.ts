import type { RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
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

/**
 * A limiter that counts only the requests it refuses (status ≥ 400 for reports, 401 for tokens) per
 * client address over a minute; past `limit`, it answers 429 `too_many_requests` with `Retry-After`
 * without running the route, its database reads or its logging.
 */
function refusalLimiter(limit: number, counts: (status: number) => boolean, what: string): RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => !counts(res.statusCode),
    handler: (_req, res, _next, options) => {
      res
        .status(429)
        .json(errorBody('too_many_requests', `too many refused ${what} from this address: at most ${options.limit} a minute; retry later`));
    },
  });
}

/** Cuts off an address after too many requests refused for their bearer token (401). */
export function refusedTokenLimiter(limits: RateLimits): RequestHandler {
  return refusalLimiter(limits.refusedTokensPerMinute, (status) => status === 401, 'sign-ins');
}

/** Cuts off an address after too many refused deployer reports. */
export function refusedReportLimiter(limits: RateLimits): RequestHandler {
  return refusalLimiter(limits.refusedReportsPerMinute, (status) => status >= 400 && status !== 503, 'deployer reports');
}

import type { RequestHandler } from 'express';
import {
  createRemoteJWKSet,
  decodeJwt,
  errors as joseErrors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  SignJWT,
} from 'jose';
import { type RoleMapping, rolesFromClaim } from '../auth/role-mapping';
import type { Actor } from '../shared/promotion';
import { ApiError } from './errors';

/** How bearer tokens are verified (from `Config.auth`). */
export interface AuthSettings {
  /** HS256 key shared with whoever issues tokens (dev tokens, a gateway). */
  jwtSecret?: string;
  /** JWKS URL of an OIDC issuer: RS256 / ES256 tokens signed by its keys. */
  jwksUrl?: string;
  /** Required `iss` claim (required with `jwksUrl`). */
  issuer?: string;
  /** Required `aud` claim (required with `jwksUrl`). */
  audience?: string;
  /** Claim that carries the roles (an array of strings, or a space-separated string). Default `roles`. */
  rolesClaim?: string;
  /** Provider groups → Modelgate roles for that claim (AUTH_ROLE_MAPPING_FILE); dev tokens carry Modelgate roles and skip it. */
  roleMapping?: RoleMapping;
  /** Longest a token may live (`exp − iat`, or `exp − now` without `iat`), in seconds. Default 12h. */
  maxTokenLifetimeSeconds?: number;
  /** Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds. Default 60. */
  clockSkewSeconds?: number;
  /**
   * Key of the dev sign-in's tokens (claim {@link DEV_TOKEN_CLAIM}); only when dev sign-in is on.
   * Without it every token carrying that claim is refused.
   */
  devSignInSecret?: string;
}

/** The claim that marks a dev token (issued by the dev sign-in or `modelgate dev-token`). */
export const DEV_TOKEN_CLAIM = 'mg_dev';
/** Default longest lifetime of a token, in seconds (12h). */
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 12 * 3600;
/** Default clock skew tolerated, in seconds. */
export const DEFAULT_CLOCK_SKEW_SECONDS = 60;

/** An authenticated caller, with the reason its token gives no role when that is so. */
export interface AuthenticatedActor extends Actor {
  /** Why the token gives no role (no roles claim, nothing mapped): shown by `GET /v1/me`. */
  rolesProblem?: string;
}

/** Turns a bearer token into the actor it authenticates. */
export interface Authenticator {
  /** @throws {ApiError} `unauthenticated` with the reason (expired, bad signature, missing claim). */
  authenticate(token: string): Promise<AuthenticatedActor>;
}

/** Algorithms accepted for each kind of key; `none` and everything else is refused. */
const HMAC_ALGORITHMS = ['HS256'];
const ISSUER_ALGORITHMS = ['RS256', 'ES256'];

/**
 * Builds the token verifier: HS256 with the shared secret, and/or RS256/ES256 with the
 * issuer's JWKS (fetched and cached by jose). With neither configured every token is refused.
 */
export function createAuthenticator(settings: AuthSettings): Authenticator {
  if (settings.jwksUrl && (!settings.issuer || !settings.audience)) {
    throw new Error(`a JWKS authenticator needs ${!settings.issuer ? 'an issuer (AUTH_ISSUER)' : 'an audience (AUTH_AUDIENCE)'}`);
  }
  const secret = settings.jwtSecret ? new TextEncoder().encode(settings.jwtSecret) : undefined;
  const devSecret = settings.devSignInSecret ? new TextEncoder().encode(settings.devSignInSecret) : undefined;
  const jwks: JWTVerifyGetKey | undefined = settings.jwksUrl ? createRemoteJWKSet(new URL(settings.jwksUrl)) : undefined;
  const rolesClaim = settings.rolesClaim ?? 'roles';
  const maxLifetime = settings.maxTokenLifetimeSeconds ?? DEFAULT_MAX_TOKEN_LIFETIME_SECONDS;
  const skew = settings.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
  const claimOptions = {
    ...(settings.issuer ? { issuer: settings.issuer } : {}),
    ...(settings.audience ? { audience: settings.audience } : {}),
    requiredClaims: ['sub', 'exp'],
    clockTolerance: skew,
  };

  const verifySignature = async (token: string): Promise<JWTPayload> => {
    const header = decodeHeaderAlgorithm(token);
    if (HMAC_ALGORITHMS.includes(header)) {
      // A dev token is checked against the dev key alone; the dev key signs nothing else.
      if (claimsDevToken(token)) {
        if (!devSecret) throw new ApiError('unauthenticated', `dev tokens (${DEV_TOKEN_CLAIM}) are not accepted by this server (dev sign-in is off)`);
        return (await jwtVerify(token, devSecret, { ...claimOptions, algorithms: HMAC_ALGORITHMS })).payload;
      }
      if (!secret) throw new ApiError('unauthenticated', 'HS256 tokens are not accepted by this server');
      return (await jwtVerify(token, secret, { ...claimOptions, algorithms: HMAC_ALGORITHMS })).payload;
    }
    if (claimsDevToken(token)) throw new ApiError('unauthenticated', `dev tokens (${DEV_TOKEN_CLAIM}) are HS256 only`);
    if (ISSUER_ALGORITHMS.includes(header)) {
      if (!jwks) throw new ApiError('unauthenticated', `${header} tokens are not accepted by this server (no JWKS configured)`);
      return (await jwtVerify(token, jwks, { ...claimOptions, algorithms: ISSUER_ALGORITHMS })).payload;
    }
    throw new ApiError('unauthenticated', `token algorithm "${header}" is not accepted (HS256, RS256, ES256)`);
  };

  // jose checks exp and nbf (with the skew); the lifetime and an iat in the future are checked here.
  const verify = async (token: string): Promise<JWTPayload> => {
    const payload = await verifySignature(token);
    const now = Math.floor(Date.now() / 1000);
    const exp = payload.exp as number;
    if (typeof payload.iat === 'number' && payload.iat > now + skew) {
      throw new ApiError('unauthenticated', 'token claim "iat" is invalid: issued in the future');
    }
    const lifetime = exp - (typeof payload.iat === 'number' ? Math.min(payload.iat, now) : now);
    if (lifetime > maxLifetime) {
      throw new ApiError('unauthenticated', `token lifetime (${lifetime}s) exceeds the maximum of ${maxLifetime}s (AUTH_MAX_TOKEN_LIFETIME)`);
    }
    return payload;
  };

  // Verified tokens are remembered until they expire (at most CACHE_TTL_MS), so a client that
  // reuses its token pays for the signature check once; a refused token is never remembered.
  const verified = new Map<string, { actor: AuthenticatedActor; until: number }>();
  const copy = (actor: AuthenticatedActor): AuthenticatedActor => ({ ...actor, roles: [...actor.roles] });

  return {
    async authenticate(token) {
      const cached = verified.get(token);
      if (cached && cached.until > Date.now()) return copy(cached.actor);
      if (cached) verified.delete(token);
      let payload: JWTPayload;
      try {
        payload = await verify(token);
      } catch (err) {
        throw toUnauthenticated(err);
      }
      const id = payload.sub;
      if (typeof id !== 'string' || id.trim() === '') throw new ApiError('unauthenticated', 'token has no subject (sub)');
      // Dev tokens carry Modelgate roles in `roles`; every other token is read through the claim and mapping.
      const claimed = payload[DEV_TOKEN_CLAIM] !== undefined ? rolesFromClaim(payload.roles, 'roles') : rolesFromClaim(payload[rolesClaim], rolesClaim, settings.roleMapping);
      const actor: AuthenticatedActor = { id, roles: claimed.roles, ...(claimed.problem ? { rolesProblem: claimed.problem } : {}) };
      const until = Math.min(typeof payload.exp === 'number' ? payload.exp * 1000 : 0, Date.now() + CACHE_TTL_MS);
      if (until > Date.now()) {
        if (verified.size >= CACHE_MAX_TOKENS) verified.clear();
        verified.set(token, { actor, until });
      }
      return copy(actor);
    },
  };
}

/** How long a verified token is remembered at most (a JWKS key rotation takes effect after this). */
const CACHE_TTL_MS = 5 * 60_000;
/** How many verified tokens are remembered at most. */
const CACHE_MAX_TOKENS = 10_000;

function decodeHeaderAlgorithm(token: string): string {
  const [encodedHeader] = token.split('.');
  try {
    const header = JSON.parse(Buffer.from(encodedHeader ?? '', 'base64url').toString('utf8')) as { alg?: unknown };
    return typeof header.alg === 'string' ? header.alg : '(none)';
  } catch {
    throw new ApiError('unauthenticated', 'token is not a JWT');
  }
}

/** Whether a token carries the dev-token claim (read before verifying, to pick the key). */
function claimsDevToken(token: string): boolean {
  try {
    return decodeJwt(token)[DEV_TOKEN_CLAIM] !== undefined;
  } catch {
    throw new ApiError('unauthenticated', 'token is not a JWT');
  }
}

/** The `sub` a refused token claims (not verified: for the refusal log only). */
function unverifiedSubject(token: string): string | undefined {
  try {
    const sub = decodeJwt(token).sub;
    return typeof sub === 'string' ? sub.slice(0, 200) : undefined;
  } catch {
    return undefined;
  }
}

function toUnauthenticated(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof joseErrors.JWTExpired) return new ApiError('unauthenticated', 'token has expired');
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return new ApiError('unauthenticated', 'token signature is invalid');
  if (err instanceof joseErrors.JWTClaimValidationFailed) return new ApiError('unauthenticated', `token claim "${err.claim}" is invalid: ${err.reason}`);
  if (err instanceof joseErrors.JOSEError) return new ApiError('unauthenticated', `token refused: ${err.code}`);
  return new ApiError('unauthenticated', 'token could not be verified');
}

/** The authenticated actor of a request, set by {@link requireActor}. */
export function actorOf(res: { locals: Record<string, unknown> }): AuthenticatedActor {
  const actor = res.locals.actor as AuthenticatedActor | undefined;
  if (!actor) throw new ApiError('unauthenticated', 'no authenticated caller');
  return actor;
}

/**
 * Middleware: requires `Authorization: Bearer <jwt>` and stores the actor in `res.locals.actor`.
 * `onRefused` is told of every refused token (the refusal log).
 */
export function requireActor(
  authenticator: Authenticator,
  onRefused: (refusal: { reason: string; method: string; path: string; claimedSubject?: string }) => void,
): RequestHandler {
  return (req, res, next) => {
    const header = req.get('authorization');
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match) {
      const error = new ApiError('unauthenticated', 'missing bearer token (Authorization: Bearer <jwt>)');
      onRefused({ reason: error.message, method: req.method, path: req.path });
      next(error);
      return;
    }
    authenticator.authenticate(match[1]!).then(
      (actor) => {
        res.locals.actor = actor;
        next();
      },
      (err: unknown) => {
        const error = err instanceof ApiError ? err : new ApiError('unauthenticated', 'token could not be verified');
        const claimedSubject = unverifiedSubject(match[1]!);
        onRefused({ reason: error.message, method: req.method, path: req.path, ...(claimedSubject ? { claimedSubject } : {}) });
        next(error);
      },
    );
  };
}

/** What {@link signDevToken} needs. */
export interface DevTokenRequest {
  secret: string;
  user: string;
  roles: string[];
  /** Lifetime, e.g. `8h` (a time span), or an absolute expiry in epoch seconds. Default `8h`. */
  expiresIn?: string | number;
  issuer?: string;
  audience?: string;
  /** Mark it as a dev token (claim {@link DEV_TOKEN_CLAIM}): only an API with dev sign-in on accepts it. */
  dev?: boolean;
}

/**
 * Signs an HS256 token: a dev token (with `dev`, for the dev sign-in and `modelgate dev-token`,
 * signed with the dev sign-in's key), or a plain one with the shared secret (tests, a gateway).
 */
export async function signDevToken(request: DevTokenRequest): Promise<string> {
  let jwt = new SignJWT({ roles: request.roles, ...(request.dev ? { [DEV_TOKEN_CLAIM]: true } : {}) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(request.user)
    .setIssuedAt()
    .setExpirationTime(request.expiresIn ?? '8h');
  if (request.issuer) jwt = jwt.setIssuer(request.issuer);
  if (request.audience) jwt = jwt.setAudience(request.audience);
  return jwt.sign(new TextEncoder().encode(request.secret));
}

// Local development only: the dashboard's sign-in page offers a fixed list of dev users and
// this issues dev tokens for them (claim mg_dev, signed with DEV_SIGN_IN_SECRET, never the
// production key). Mounted only when DASHBOARD_DEV_SIGN_IN is set, the API listens on a loopback
// address and NODE_ENV is development or test (src/config.ts), because it gives a token to anyone
// who asks.
import express, { Router } from 'express';
import { z } from 'zod';
import { type AuthSettings, signDevToken } from './auth';
import { ApiError } from './errors';
import { parseInput } from './request';

/** A local user of the dev sign-in. */
export interface DevUser {
  id: string;
  roles: string[];
  /** What the user is for, shown on the sign-in page. */
  description: string;
}

/**
 * The dev users: between them they hold every role the shipped default policy names
 * (policies/default.yaml: gates, escalations, overrides, re-certification), plus a submitter.
 */
export const DEV_USERS: ReadonlyArray<DevUser> = [
  { id: 'sam', roles: ['data-scientist'], description: 'submits promotions' },
  { id: 'rita', roles: ['ml-reviewer'], description: 'technical review' },
  { id: 'ravi', roles: ['ml-reviewer'], description: 'technical review (a second reviewer for quorum 2)' },
  { id: 'sofia', roles: ['security-reviewer'], description: 'security review' },
  { id: 'fay', roles: ['fairness-reviewer'], description: 'fairness & bias review' },
  { id: 'lee', roles: ['compliance-officer'], description: 'legal & compliance review' },
  { id: 'bo', roles: ['business-owner'], description: 'business review' },
  { id: 'max', roles: ['ml-manager'], description: 'escalations of technical and business review; may expedite and roll back' },
  { id: 'rick', roles: ['risk-manager'], description: 'waives checks and forces gates (break-glass); may expedite and roll back' },
  { id: 'mona', roles: ['model-monitor'], description: 'reports drift (asks for re-certification)' },
  { id: 'cyrus', roles: ['ciso'], description: 'escalations of security review' },
  { id: 'clara', roles: ['chief-compliance-officer'], description: 'escalations of legal & compliance review' },
  { id: 'ada', roles: ['admin'], description: 'may withdraw any promotion' },
];

/** How the dev sign-in signs its tokens: its own key, and the issuer and audience the API requires. */
export type DevSignInSettings = Required<Pick<AuthSettings, 'devSignInSecret'>> & Pick<AuthSettings, 'issuer' | 'audience'>;

/** Lifetime of a dev token. */
const DEV_TOKEN_LIFETIME = '8h';

const DevSignInRequestSchema = z.object({ user: z.string().min(1).max(200) }).strict();

/** Builds `GET /dev-users` and `POST /dev-sign-in` (mounted under `/ui`). */
export function devSignInRoutes(auth: DevSignInSettings): Router {
  const router = Router();
  router.get('/dev-users', (_req, res) => {
    res.json({ users: DEV_USERS });
  });
  router.post('/dev-sign-in', express.json({ limit: '4kb' }), async (req, res) => {
    const { user } = parseInput(DevSignInRequestSchema, req.body, 'body');
    const devUser = DEV_USERS.find((u) => u.id === user);
    if (!devUser) {
      throw new ApiError('invalid_input', `no dev user "${user}" (dev users: ${DEV_USERS.map((u) => u.id).join(', ')})`, {
        problems: [{ path: 'user', message: 'unknown dev user' }],
      });
    }
    const token = await signDevToken({
      secret: auth.devSignInSecret,
      dev: true,
      user: devUser.id,
      roles: devUser.roles,
      expiresIn: DEV_TOKEN_LIFETIME,
      ...(auth.issuer ? { issuer: auth.issuer } : {}),
      ...(auth.audience ? { audience: auth.audience } : {}),
    });
    res.json({ token, actor: { id: devUser.id, roles: devUser.roles } });
  });
  return router;
}

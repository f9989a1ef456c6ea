// Serves the reviewer dashboard (built by `npm run build` into dist/dashboard) under /ui/.
import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { Router } from 'express';
import type { OidcClientSettings } from '../auth/oidc-settings';
import { type DevSignInSettings, devSignInRoutes } from './dev-sign-in';
import { ApiError } from './errors';

/** Where the built dashboard is: `dist/dashboard` of the package (the same from `src/api` and `dist/api`). */
export const DEFAULT_DASHBOARD_DIR = path.resolve(__dirname, '..', '..', 'dist', 'dashboard');

/** How the dashboard is served. */
export interface DashboardOptions {
  /** Folder of the built assets (index.html, app.js, app.css). Default {@link DEFAULT_DASHBOARD_DIR}. */
  assetsDir?: string;
  /** When set, the sign-in page offers the dev users and dev tokens are signed with its key (local development only). */
  devSignIn?: DevSignInSettings;
  /** The OpenID Connect provider the page signs in with (its origin is added to `connect-src`). */
  oidc?: OidcClientSettings;
}

/** Directives of the dashboard's content security policy ({@link dashboardCsp}). */
const DASHBOARD_DIRECTIVES = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
];

/**
 * Content security policy of the dashboard: everything from this origin only (nothing is
 * fetched from elsewhere at run time, but the identity provider when there is one); inline
 * styles for the SVG charts. Without `issuer`: {@link DASHBOARD_CSP}.
 */
export function dashboardCsp(issuer?: string): string {
  const connect = issuer ? `connect-src 'self' ${new URL(issuer).origin}` : "connect-src 'self'";
  return DASHBOARD_DIRECTIVES.map((d) => (d.startsWith('connect-src') ? connect : d)).join('; ');
}

/** Content security policy of the dashboard without an identity provider. */
export const DASHBOARD_CSP = dashboardCsp();

/** Builds the routes of `/` (redirects to `/ui/`) and `/ui/…`. */
export function dashboardRoutes(options: DashboardOptions = {}): Router {
  const assetsDir = options.assetsDir ?? DEFAULT_DASHBOARD_DIR;
  const router = Router();
  const csp = dashboardCsp(options.oidc?.issuer);

  router.get('/', (_req, res) => {
    res.redirect(302, '/ui/');
  });
  router.use('/ui', (req, res, next) => {
    // Relative asset URLs need the trailing slash.
    if (req.originalUrl === '/ui' || req.originalUrl.startsWith('/ui?')) {
      res.redirect(301, `/ui/${req.originalUrl.slice(3)}`);
      return;
    }
    res.set({
      'Content-Security-Policy': csp,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-cache',
    });
    next();
  });
  router.get('/ui/config.json', (_req, res) => {
    res.json({ devSignIn: !!options.devSignIn, ...(options.oidc ? { oidc: options.oidc } : {}) });
  });
  if (options.devSignIn) router.use('/ui', devSignInRoutes(options.devSignIn));
  router.use('/ui', (req, _res, next) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && !existsSync(path.join(assetsDir, 'index.html'))) {
      next(new ApiError('not_ready', `the dashboard is not built (no ${path.join(assetsDir, 'index.html')}): run npm run build`));
      return;
    }
    next();
  });
  router.use('/ui', express.static(assetsDir, { index: 'index.html', redirect: false, fallthrough: true }));
  return router;
}

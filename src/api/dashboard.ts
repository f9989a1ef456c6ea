// Serves the reviewer dashboard (built by `npm run build` into dist/dashboard) under /ui/.
import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { Router } from 'express';
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
}

/**
 * Content security policy of the dashboard: everything from this origin only (nothing is
 * fetched from elsewhere at run time); inline styles for the SVG charts.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Builds the routes of `/` (redirects to `/ui/`) and `/ui/…`. */
export function dashboardRoutes(options: DashboardOptions = {}): Router {
  const assetsDir = options.assetsDir ?? DEFAULT_DASHBOARD_DIR;
  const router = Router();

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
      'Content-Security-Policy': DASHBOARD_CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-cache',
    });
    next();
  });
  router.get('/ui/config.json', (_req, res) => {
    res.json({ devSignIn: !!options.devSignIn });
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

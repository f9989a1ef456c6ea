import { loadConfigOrExit } from '../config';
import { loadProcessAuditSealer } from '../audit/seal';
import { prepareProcessDatabase } from '../database-startup';
import { createLogger } from '../logger';
import { runProcess, startupStep } from '../startup';
import { connectTemporalClient, pingTemporal } from '../temporal-client';
import { loadPolicyDir } from '../policy/load';
import { loadRoleMappingFile } from '../auth/role-mapping';
import { buildApp } from './app';
import { createAuthenticator } from './auth';
import { listenHttp } from './http-server';
import { startTracing } from '../tracing';

async function main(): Promise<void> {
  const config = loadConfigOrExit('api');
  const log = createLogger('api', config.logLevel);
  const tracing = await startTracing(config.tracing, 'modelgate-api');
  if (tracing) log.info({ exporter: config.tracing.exporter }, 'traces on');

  const pool = await prepareProcessDatabase(config, log);
  const auditSealer = await loadProcessAuditSealer(config.audit, (message) => log.warn(message));
  const temporal = await startupStep(
    `connecting to Temporal at ${config.temporal.address}`,
    'check TEMPORAL_ADDRESS, the TEMPORAL_TLS_* files and the TEMPORAL_TOKEN_* client, and that the Temporal server is running',
    () => connectTemporalClient(config, (message) => log.warn(message), tracing),
  );

  const policies = await startupStep(`loading policies from ${config.policyDir}`, 'check POLICY_DIR and the policy files', () =>
    loadPolicyDir(config.policyDir),
  );
  if (!config.auth.jwtSecret && !config.auth.jwksUrl && !config.auth.devSignInSecret) {
    log.warn('neither AUTH_JWT_SECRET nor AUTH_JWKS_URL is set: every request to /v1 is refused with 401');
  }
  const devSignIn = config.auth.devSignInSecret
    ? { devSignInSecret: config.auth.devSignInSecret, ...(config.auth.issuer ? { issuer: config.auth.issuer } : {}), ...(config.auth.audience ? { audience: config.auth.audience } : {}) }
    : undefined;
  const roleMappingFile = config.auth.roleMappingFile;
  const roleMapping = roleMappingFile
    ? await startupStep(`loading the role mapping ${roleMappingFile}`, 'check AUTH_ROLE_MAPPING_FILE', async () => loadRoleMappingFile(roleMappingFile))
    : undefined;
  if (devSignIn) log.warn('DASHBOARD_DEV_SIGN_IN is on: the dashboard issues tokens for the dev users to anyone who asks (local development only)');

  const app = buildApp({
    log,
    traceRequests: tracing !== undefined,
    services: {
      client: temporal,
      pool,
      ...(auditSealer ? { auditSealer } : {}),
      policies,
      authenticator: createAuthenticator({ ...config.auth, ...(roleMapping ? { roleMapping } : {}) }),
      taskQueue: config.temporal.taskQueue,
      temporalUiUrl: config.temporal.uiUrl,
      sources: config.sources,
      ...(config.evidenceChromium ? { evidenceChromium: config.evidenceChromium } : {}),
      ...(config.mlflowWebhook ? { mlflowIntake: config.mlflowWebhook } : {}),
      dashboard: { ...(devSignIn ? { devSignIn } : {}), ...(config.oidc ? { oidc: config.oidc } : {}) },
    },
    readinessProbes: [
      { name: 'temporal', check: () => pingTemporal(temporal) },
      { name: 'postgres', check: async () => void (await pool.query('SELECT 1')) },
    ],
  });

  const server = await startupStep(
    `listening on ${config.http.host}:${config.http.port}`,
    'is the port in use? set PORT to a free one',
    () => listenHttp(app, config.http.port, config.http.host),
  );
  log.info({ port: config.http.port }, 'API listening');

  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      log.info({ signal }, 'shutting down: no new connections, finishing requests');
      const force = setTimeout(() => server.closeAllConnections(), config.shutdownGraceMs);
      force.unref();
      server.close(() => resolve());
      server.closeIdleConnections();
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
  await temporal.connection.close();
  await pool.end();
  await tracing?.shutdown();
  log.info('API stopped');
}

if (require.main === module) runProcess('api', main);

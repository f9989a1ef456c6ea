import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_OIDC_SCOPES, type OidcClientSettings, oidcSettingsOf } from './auth/oidc-settings';
import { parseDuration } from './shared/duration';
import { DEFAULT_SOURCE_LIMITS, type SourceRules, parseHosts, parseRoots } from './sources/rules';
import { type MlflowSettings, parseTrackingUri } from './sources/mlflow';
import { ARTIFACT_FORMATS, type RiskTier, RiskTierSchema } from './manifest/schema';
import type { TemporalTlsSettings, TemporalTokenSettings } from './temporal-credentials';
import { DEFAULT_OTLP_ENDPOINT, TRACES_EXPORTERS, type TracingSettings } from './tracing';

/** Default Temporal namespace that Modelgate's promotions live in. */
export const DEFAULT_NAMESPACE = 'modelgate';
/** Default task queue polled by the Modelgate worker. */
export const DEFAULT_TASK_QUEUE = 'modelgate-promotions';

const port = z.coerce
  .number({ error: 'must be a port number' })
  .int('must be a whole number')
  .min(1, 'must be between 1 and 65535')
  .max(65535, 'must be between 1 and 65535');

const hostPort = z
  .string()
  .regex(/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/, 'must be host:port, e.g. localhost:7233');

const postgresUrl = z
  .string({ error: 'is required (e.g. postgres://user@localhost:5432/modelgate)' })
  .refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'postgres:' || url.protocol === 'postgresql:';
    } catch {
      return false;
    }
  }, 'must be a postgres:// or postgresql:// URL');

/**
 * What a worker process serves: `promotions` (the workflows and the light activities, on
 * TEMPORAL_TASK_QUEUE), `checks` (the check activities that read artifacts, on
 * `<TEMPORAL_TASK_QUEUE>-checks`) or `all` (both, in one process).
 */
export const WORKER_ROLES = ['all', 'promotions', 'checks'] as const;

/**
 * The workflow thread's heap bound for a sticky cache of `maxCachedWorkflows`: 128 MB for the
 * bundle, the SDK and one promotion being replayed (about 35 MB is in use after a collection with
 * nothing cached), and 2 MB for each cached promotion (each holds about 1.2 MB).
 */
export function defaultWorkflowHeapMb(maxCachedWorkflows: number): number {
  return 128 + 2 * maxCachedWorkflows;
}

/** One of {@link WORKER_ROLES}. */
export type WorkerRole = (typeof WORKER_ROLES)[number];

/**
 * What a versioned worker's workflows do when a newer version becomes current: `auto-upgrade`
 * (running promotions move to the new version at their next workflow task; the code keeps
 * replaying them, with `patched()` where it changed) or `pinned` (each stays on the version that
 * started it, so that version's workers keep running until its promotions are done).
 */
export const WORKER_VERSIONING_BEHAVIORS = ['auto-upgrade', 'pinned'] as const;

/** The Worker Deployment version a worker polls as (Temporal's Worker Versioning). */
export interface WorkerDeploymentSettings {
  /** WORKER_DEPLOYMENT_NAME: the same for every release of one Modelgate installation. */
  name: string;
  /** WORKER_BUILD_ID: one per release (e.g. the image tag). */
  buildId: string;
  /** WORKER_VERSIONING_BEHAVIOR. */
  versioningBehavior: (typeof WORKER_VERSIONING_BEHAVIORS)[number];
}

const absolutePath = z.string().max(4096).refine((p) => path.isAbsolute(p), 'must be an absolute path');

/** Schema of the environment variables Modelgate's processes read. */
export const EnvironmentSchema = z.object({
  TEMPORAL_ADDRESS: hostPort.default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1, 'must not be empty').default(DEFAULT_NAMESPACE),
  TEMPORAL_TASK_QUEUE: z.string().min(1, 'must not be empty').default(DEFAULT_TASK_QUEUE),
  TEMPORAL_UI_URL: z.url('must be a URL').default('http://localhost:8233'),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: absolutePath.optional(),
  TEMPORAL_TLS_CLIENT_CERT_PATH: absolutePath.optional(),
  TEMPORAL_TLS_CLIENT_KEY_PATH: absolutePath.optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/, 'must be a DNS name').optional(),
  TEMPORAL_TOKEN_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2000).optional(),
  TEMPORAL_CLIENT_ID: z.string().min(1).max(200).optional(),
  TEMPORAL_CLIENT_SECRET_FILE: absolutePath.optional(),
  TEMPORAL_TOKEN_RESOURCE: z.string().min(1).max(1000).optional(),
  TEMPORAL_TOKEN_SCOPE: z.string().min(1).max(1000).optional(),
  DATABASE_URL: postgresUrl,
  PUBLIC_URL: z.url('must be a URL').default('http://localhost:8080'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: port.default(8080),
  POLICY_DIR: z.string().min(1).default('policies'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).default(20),
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).default(16),
  WORKER_WORKFLOW_HEAP_MB: z.coerce.number().int().min(64, 'must be at least 64 (MB)').max(16_384, 'must be at most 16384 (MB)').optional(),
  WORKER_ROLE: z.enum(WORKER_ROLES, { error: `must be one of ${WORKER_ROLES.join(', ')}` }).default('all'),
  WORKER_HEALTH_PORT: port.optional(),
  WORKER_METRICS_ADDRESS: hostPort.optional(),
  WORKER_DEPLOYMENT_NAME: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'must be 1-100 letters, digits, _ or -').optional(),
  WORKER_BUILD_ID: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$/, 'must be 1-100 letters, digits, ., _, + or -, starting with a letter or digit').optional(),
  WORKER_VERSIONING_BEHAVIOR: z.enum(WORKER_VERSIONING_BEHAVIORS, { error: `must be one of ${WORKER_VERSIONING_BEHAVIORS.join(', ')}` }).default('auto-upgrade'),
  SHUTDOWN_GRACE_SECONDS: z.coerce.number().min(0).default(10),
  AUTH_JWT_SECRET: z.string().min(32, 'must be at least 32 characters (an HS256 key)').optional(),
  AUTH_JWKS_URL: z.url('must be a URL').optional(),
  AUTH_ISSUER: z.string().min(1).optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  AUTH_ROLES_CLAIM: z.string().min(1).default('roles'),
  AUTH_ROLE_MAPPING_FILE: z.string().min(1).optional(),
  OIDC_ISSUER: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  OIDC_DASHBOARD_CLIENT_ID: z.string().min(1).max(200).optional(),
  OIDC_CLI_CLIENT_ID: z.string().min(1).max(200).optional(),
  OIDC_SCOPES: z.string().min(1).max(1000).default(DEFAULT_OIDC_SCOPES),
  OIDC_RESOURCE: z.string().min(1).max(1000).optional(),
  AUTH_MAX_TOKEN_LIFETIME: z
    .string()
    .default('12h')
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined || ms < 1000) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration of at least 1s, e.g. 12h or 30m' });
        return z.NEVER;
      }
      return Math.floor(ms / 1000);
    }),
  AUTH_CLOCK_SKEW_SECONDS: z.coerce
    .number({ error: 'must be a number of seconds' })
    .int('must be a whole number of seconds')
    .min(0, 'must not be negative')
    .max(300, 'must be at most 300 (5 minutes)')
    .default(60),
  DEV_SIGN_IN_SECRET: z.string().min(32, 'must be at least 32 characters (an HS256 key)').optional(),
  DASHBOARD_DEV_SIGN_IN: z
    .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
  NODE_ENV: z.string().optional(),
  ARTIFACT_ROOTS: z.string().default('').superRefine(refineWith(parseRoots)),
  ARTIFACT_HOSTS: z.string().default('').superRefine(refineWith(parseHosts)),
  ARTIFACT_STORE_DIR: z.string().refine((p) => path.isAbsolute(p), 'must be an absolute path').default(path.join(tmpdir(), 'modelgate-artifact-store')),
  ARTIFACT_STORE_URI: z.string().regex(/^[a-z][a-z0-9+.-]*:\/\/\S+$/i, 'must be a URI such as pvc://modelgate-artifact-store').optional(),
  ARTIFACT_MAX_BYTES: z.coerce.number().int().min(1).default(DEFAULT_SOURCE_LIMITS.maxArtifactBytes),
  DOCUMENT_MAX_BYTES: z.coerce.number().int().min(1).default(DEFAULT_SOURCE_LIMITS.maxDocumentBytes),
  MLFLOW_TRACKING_URI: z.string().superRefine(refineWith(parseTrackingUri)).optional(),
  MLFLOW_TRACKING_TOKEN: z.string().max(4_096).optional(),
  MLFLOW_ALIASES: z.string().default('').superRefine(refineWith(parseMlflowAliases)),
  MLFLOW_ALIAS_RECONCILE_INTERVAL: z
    .string()
    .default('5m')
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined || ms < 1_000 || ms > 24 * 3_600_000) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration from 1s to 24h, e.g. 5m' });
        return z.NEVER;
      }
      return ms;
    }),
  MLFLOW_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  MLFLOW_PROMOTE_TAG: z.string().min(1).max(250).default('modelgate.target'),
  MLFLOW_INTAKE_RISK_TIER: RiskTierSchema.default('high'),
  MLFLOW_INTAKE_FORMAT: z.enum(ARTIFACT_FORMATS).default('other'),
  MLFLOW_INTAKE_ROLES: z.string().default('ml-engineer'),
  EVIDENCE_CHROMIUM: z.string().refine((p) => path.isAbsolute(p), 'must be an absolute path to a Chromium executable').optional(),
  AUDIT_SIGNING_KEY_FILE: z.string().refine((p) => path.isAbsolute(p), 'must be an absolute path to an ed25519 private key (PEM)').optional(),
  AUDIT_CHECKPOINT_FILE: z.string().refine((p) => path.isAbsolute(p), 'must be an absolute path to an append-only file').optional(),
  OTEL_TRACES_EXPORTER: z.enum(TRACES_EXPORTERS, { error: `must be one of ${TRACES_EXPORTERS.join(', ')}` }).default('none'),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL, e.g. http://localhost:4318' }).max(2000).default(DEFAULT_OTLP_ENDPOINT),
  OTEL_SERVICE_NAME: z
    .string()
    .max(200, 'must be at most 200 characters')
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be letters, digits, dots, dashes and underscores, e.g. modelgate-api')
    .optional(),
});

/** A zod refinement that reports the message a parser throws. */
function refineWith(parser: (value: string) => unknown) {
  return (value: string, ctx: z.RefinementCtx) => {
    try {
      parser(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
    }
  };
}

/** Parsed, validated configuration shared by the worker, the API and the CLI. */
export interface Config {
  temporal: {
    address: string;
    namespace: string;
    taskQueue: string;
    uiUrl: string;
    /** TLS towards the frontend (unset: plain gRPC, local development only). */
    tls?: TemporalTlsSettings;
    /** Where this process gets its bearer tokens for Temporal's authorizer (unset: none sent). */
    token?: TemporalTokenSettings;
  };
  /** Base URL under which users reach the API (links in notifications). */
  publicUrl: string;
  databaseUrl: string;
  http: { host: string; port: number };
  policyDir: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  worker: {
    maxCachedWorkflows: number;
    maxConcurrentActivities: number;
    /**
     * Old-generation heap of the workflow thread, in MB (WORKER_WORKFLOW_HEAP_MB; default
     * {@link defaultWorkflowHeapMb} of the cache size).
     */
    workflowHeapMb: number;
    /** Which task queues this worker serves (WORKER_ROLE). */
    role: WorkerRole;
    /** Port of the worker's `/healthz` and `/readyz` (WORKER_HEALTH_PORT); unset: none. */
    healthPort?: number;
    /** host:port the SDK's Prometheus metrics are served on (WORKER_METRICS_ADDRESS); unset: none. */
    metricsAddress?: string;
    /** The Worker Deployment version this worker belongs to (WORKER_DEPLOYMENT_NAME, WORKER_BUILD_ID); unset: unversioned. */
    deployment?: WorkerDeploymentSettings;
  };
  shutdownGraceMs: number;
  /**
   * How bearer tokens are verified: HS256 with `jwtSecret`, or RS256/ES256 from the
   * issuer's `jwksUrl`. Neither set means the API refuses every token.
   */
  auth: {
    jwtSecret?: string;
    jwksUrl?: string;
    issuer?: string;
    audience?: string;
    rolesClaim: string;
    /** YAML or JSON file mapping the provider's groups to Modelgate roles (src/auth/role-mapping.ts). */
    roleMappingFile?: string;
    /** Longest a token may live (`exp − iat`, or `exp − now` without `iat`), in seconds. */
    maxTokenLifetimeSeconds: number;
    /** Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds. */
    clockSkewSeconds: number;
    /** Key of the dev tokens (claim `mg_dev`); set only when dev sign-in is on. */
    devSignInSecret?: string;
  };
  /**
   * The reviewer dashboard. `devSignIn`: the sign-in page offers the fixed local dev users and
   * issues dev tokens for them, signed with `auth.devSignInSecret` (local development only: a
   * loopback HOST and NODE_ENV development or test).
   */
  dashboard: { devSignIn: boolean };
  /** The OpenID Connect provider the dashboard and `modelgate login` sign in with (OIDC_ISSUER). */
  oidc?: OidcClientSettings;
  /** Where manifests' sources may be read from, and how much of them (worker and API). */
  sources: SourceRules;
  /** OpenTelemetry traces (OTEL_TRACES_EXPORTER, default `none`: off; src/tracing.ts). */
  tracing: TracingSettings;
  /** Content-addressed store of verified artifacts: `<dir>/sha256/<digest>` (worker). */
  artifactStoreDir: string;
  /** How deployers reach that store, when they can (deployment requests then carry `verifiedUri`). */
  artifactStoreUri?: string;
  /** Chromium that prints evidence packs' report.pdf (API); unset: packs have no PDF. */
  evidenceChromium?: string;
  /**
   * This process's own ed25519 key that signs the heads of the audit chains it appends to, and the
   * append-only file the signed heads go to (src/audit/seal.ts). Required when NODE_ENV is production.
   */
  audit?: { signingKeyFile: string; checkpointFile: string };
  /** NODE_ENV is production (any case): settings that keep the record safe are required, not warned about. */
  production: boolean;
  /**
   * The MLflow tracking server `models:/` artifacts come from and decisions are written back to
   * (worker: MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN; `aliases`: environment → governed alias).
   */
  mlflow?: MlflowSettings & {
    aliases: Record<string, string>;
    /** Time between two reconciliations of the governed aliases by the alias guard (MLFLOW_ALIAS_RECONCILE_INTERVAL, default 5m). */
    reconcileIntervalMs?: number;
  };
  /**
   * MLflow webhook intake (API): the HMAC secret deliveries are signed with, the tag that starts a
   * promotion (its value names the target), and the manifest fields and roles of such promotions.
   */
  mlflowWebhook?: { secret: string; promoteTag: string; riskTier: RiskTier; format: (typeof ARTIFACT_FORMATS)[number]; roles: string[] };
}

/**
 * Parses MLFLOW_ALIASES: `environment=alias` pairs, comma-separated (`production=champion`); each
 * environment and each alias at most once.
 * @throws Error naming the bad entry.
 */
export function parseMlflowAliases(value: string): Record<string, string> {
  const aliases: Record<string, string> = {};
  for (const entry of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const match = /^([A-Za-z0-9][A-Za-z0-9._-]{0,127})=([A-Za-z_][A-Za-z0-9_-]{0,255})$/.exec(entry);
    if (!match) throw new Error(`'${entry.slice(0, 100)}' is not environment=alias`);
    const [environment, alias] = [match[1]!, match[2]!];
    if (environment in aliases) throw new Error(`environment ${environment} is named twice`);
    // One alias, two environments: the guard would move each environment's version away in turn.
    if (Object.values(aliases).includes(alias)) throw new Error(`alias ${alias} is named for two environments`);
    aliases[environment] = alias;
  }
  return aliases;
}

/**
 * Thrown by {@link loadConfig} when one or more variables are missing or malformed.
 * `problems` lists each variable with the reason it was refused.
 */
export class ConfigError extends Error {
  constructor(readonly problems: ReadonlyArray<{ variable: string; reason: string }>) {
    super(
      'invalid configuration:\n' +
        problems.map((p) => `  ${p.variable}: ${p.reason}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/**
 * Parses the process environment once, at start.
 * Empty strings count as unset, so `PORT=` falls back to the default.
 *
 * @throws {ConfigError} naming every variable that is missing or malformed.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = EnvironmentSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? '(environment)'),
        reason: issue.message,
      })),
    );
  }
  const e = parsed.data;
  const oidc = oidcSettingsOf(e);
  const problems = [...devSignInProblems(e), ...issuerProblems(e), ...auditSealProblems(e), ...workerDeploymentProblems(e), ...oidc.problems, ...temporalCredentialProblems(e)];
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      uiUrl: e.TEMPORAL_UI_URL.replace(/\/$/, ''),
      ...temporalCredentialsOf(e),
    },
    publicUrl: e.PUBLIC_URL.replace(/\/$/, ''),
    databaseUrl: e.DATABASE_URL,
    http: { host: e.HOST, port: e.PORT },
    policyDir: e.POLICY_DIR,
    logLevel: e.LOG_LEVEL,
    worker: {
      maxCachedWorkflows: e.WORKER_MAX_CACHED_WORKFLOWS,
      maxConcurrentActivities: e.WORKER_MAX_CONCURRENT_ACTIVITIES,
      workflowHeapMb: e.WORKER_WORKFLOW_HEAP_MB ?? defaultWorkflowHeapMb(e.WORKER_MAX_CACHED_WORKFLOWS),
      role: e.WORKER_ROLE,
      ...(e.WORKER_HEALTH_PORT !== undefined ? { healthPort: e.WORKER_HEALTH_PORT } : {}),
      ...(e.WORKER_METRICS_ADDRESS ? { metricsAddress: e.WORKER_METRICS_ADDRESS } : {}),
      ...(e.WORKER_DEPLOYMENT_NAME && e.WORKER_BUILD_ID
        ? { deployment: { name: e.WORKER_DEPLOYMENT_NAME, buildId: e.WORKER_BUILD_ID, versioningBehavior: e.WORKER_VERSIONING_BEHAVIOR } }
        : {}),
    },
    shutdownGraceMs: e.SHUTDOWN_GRACE_SECONDS * 1000,
    auth: {
      ...(e.AUTH_JWT_SECRET ? { jwtSecret: e.AUTH_JWT_SECRET } : {}),
      ...(e.AUTH_JWKS_URL ? { jwksUrl: e.AUTH_JWKS_URL } : {}),
      ...(e.AUTH_ISSUER || e.OIDC_ISSUER ? { issuer: e.AUTH_ISSUER ?? e.OIDC_ISSUER } : {}),
      ...(e.AUTH_AUDIENCE ? { audience: e.AUTH_AUDIENCE } : {}),
      rolesClaim: e.AUTH_ROLES_CLAIM,
      ...(e.AUTH_ROLE_MAPPING_FILE ? { roleMappingFile: e.AUTH_ROLE_MAPPING_FILE } : {}),
      maxTokenLifetimeSeconds: e.AUTH_MAX_TOKEN_LIFETIME,
      clockSkewSeconds: e.AUTH_CLOCK_SKEW_SECONDS,
      ...(e.DASHBOARD_DEV_SIGN_IN && e.DEV_SIGN_IN_SECRET ? { devSignInSecret: e.DEV_SIGN_IN_SECRET } : {}),
    },
    dashboard: { devSignIn: e.DASHBOARD_DEV_SIGN_IN },
    ...(oidc.settings ? { oidc: oidc.settings } : {}),
    sources: {
      ...DEFAULT_SOURCE_LIMITS,
      roots: parseRoots(e.ARTIFACT_ROOTS),
      hosts: parseHosts(e.ARTIFACT_HOSTS),
      maxArtifactBytes: e.ARTIFACT_MAX_BYTES,
      maxDocumentBytes: e.DOCUMENT_MAX_BYTES,
    },
    tracing: {
      exporter: e.OTEL_TRACES_EXPORTER,
      otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
      ...(e.OTEL_SERVICE_NAME ? { serviceName: e.OTEL_SERVICE_NAME } : {}),
    },
    artifactStoreDir: e.ARTIFACT_STORE_DIR,
    ...(e.ARTIFACT_STORE_URI ? { artifactStoreUri: e.ARTIFACT_STORE_URI } : {}),
    ...(e.EVIDENCE_CHROMIUM ? { evidenceChromium: e.EVIDENCE_CHROMIUM } : {}),
    production: isProduction(e),
    ...(e.AUDIT_SIGNING_KEY_FILE && e.AUDIT_CHECKPOINT_FILE ? { audit: { signingKeyFile: e.AUDIT_SIGNING_KEY_FILE, checkpointFile: e.AUDIT_CHECKPOINT_FILE } } : {}),
    ...(e.MLFLOW_TRACKING_URI
      ? { mlflow: { trackingUri: parseTrackingUri(e.MLFLOW_TRACKING_URI), ...(e.MLFLOW_TRACKING_TOKEN ? { token: e.MLFLOW_TRACKING_TOKEN } : {}), aliases: parseMlflowAliases(e.MLFLOW_ALIASES), reconcileIntervalMs: e.MLFLOW_ALIAS_RECONCILE_INTERVAL } }
      : {}),
    ...(e.MLFLOW_WEBHOOK_SECRET
      ? {
          mlflowWebhook: {
            secret: e.MLFLOW_WEBHOOK_SECRET,
            promoteTag: e.MLFLOW_PROMOTE_TAG,
            riskTier: e.MLFLOW_INTAKE_RISK_TIER,
            format: e.MLFLOW_INTAKE_FORMAT,
            roles: e.MLFLOW_INTAKE_ROLES.split(',').map((r) => r.trim()).filter(Boolean),
          },
        }
      : {}),
  };
}

/** A worker is versioned with both its deployment name and its build id, or with neither. */
function workerDeploymentProblems(e: Environment): Problem[] {
  if (e.WORKER_DEPLOYMENT_NAME && !e.WORKER_BUILD_ID) return [{ variable: 'WORKER_BUILD_ID', reason: 'is required with WORKER_DEPLOYMENT_NAME (the release this worker runs)' }];
  if (e.WORKER_BUILD_ID && !e.WORKER_DEPLOYMENT_NAME) return [{ variable: 'WORKER_DEPLOYMENT_NAME', reason: 'is required with WORKER_BUILD_ID (the Worker Deployment the release belongs to)' }];
  return [];
}

const isProduction = (e: Environment) => (e.NODE_ENV ?? '').trim().toLowerCase() === 'production';

/**
 * The audit seal needs both its key and its checkpoint file; a production process (NODE_ENV
 * production, any case) without them refuses to start: its audit record could be rewritten unnoticed.
 * A checks worker (WORKER_ROLE=checks) appends to no audit chain, so it needs neither (and holds no key).
 */
function auditSealProblems(e: Environment): Problem[] {
  const problems: Problem[] = [];
  if (e.AUDIT_SIGNING_KEY_FILE && !e.AUDIT_CHECKPOINT_FILE) problems.push({ variable: 'AUDIT_CHECKPOINT_FILE', reason: 'is required with AUDIT_SIGNING_KEY_FILE (where the signed chain heads are appended)' });
  if (e.AUDIT_CHECKPOINT_FILE && !e.AUDIT_SIGNING_KEY_FILE) problems.push({ variable: 'AUDIT_SIGNING_KEY_FILE', reason: 'is required with AUDIT_CHECKPOINT_FILE (the key that signs the chain heads)' });
  if (isProduction(e) && e.WORKER_ROLE !== 'checks') {
    for (const variable of ['AUDIT_SIGNING_KEY_FILE', 'AUDIT_CHECKPOINT_FILE'] as const) {
      if (!e[variable]) problems.push({ variable, reason: 'is required when NODE_ENV is production (the audit chains are signed and checkpointed outside the database)' });
    }
  }
  return problems;
}

type Environment = z.infer<typeof EnvironmentSchema>;
type Problem = { variable: string; reason: string };

/** Addresses that only this machine reaches (the dev sign-in listens on nothing else). */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);
/** NODE_ENV values under which the dev sign-in may be on (compared in lower case). */
const DEV_NODE_ENVS = new Set(['development', 'test']);

/**
 * Why the dev sign-in may not be on: it hands a token to anyone who asks, so it needs its own key
 * (never the production one), an API reachable from this machine only, and a development or test
 * NODE_ENV (an unset NODE_ENV is refused too: a production image may well leave it unset).
 */
function devSignInProblems(e: Environment): Problem[] {
  if (!e.DASHBOARD_DEV_SIGN_IN) return [];
  const problems: Problem[] = [];
  const refuse = (reason: string) => problems.push({ variable: 'DASHBOARD_DEV_SIGN_IN', reason });
  if (!e.DEV_SIGN_IN_SECRET) refuse('needs DEV_SIGN_IN_SECRET (dev tokens are signed with their own key, never AUTH_JWT_SECRET)');
  else if (e.DEV_SIGN_IN_SECRET === e.AUTH_JWT_SECRET) problems.push({ variable: 'DEV_SIGN_IN_SECRET', reason: 'must differ from AUTH_JWT_SECRET' });
  if (!LOOPBACK_HOSTS.has(e.HOST.trim().toLowerCase())) {
    refuse(`needs HOST to be a loopback address (127.0.0.1, ::1 or localhost), not "${e.HOST}": it issues tokens to anyone who asks`);
  }
  if (!DEV_NODE_ENVS.has((e.NODE_ENV ?? '').trim().toLowerCase())) {
    refuse(`needs NODE_ENV=development or NODE_ENV=test (it is ${e.NODE_ENV === undefined ? 'unset' : `"${e.NODE_ENV}"`}): it issues tokens to anyone who asks`);
  }
  return problems;
}

/** Tokens from an OIDC issuer are accepted only when they name that issuer and this API as audience. */
function issuerProblems(e: Environment): Problem[] {
  if (!e.AUTH_JWKS_URL) return [];
  return (['AUTH_ISSUER', 'AUTH_AUDIENCE'] as const)
    .filter((variable) => !e[variable] && !(variable === 'AUTH_ISSUER' && e.OIDC_ISSUER))
    .map((variable) => ({ variable, reason: 'is required with AUTH_JWKS_URL (tokens must name their issuer and this API as audience)' }));
}

/** Loopback host names and addresses, to which a token endpoint may be plain http. */
const LOOPBACK_URL_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * Why the Temporal credentials cannot work: a certificate without its key (or the reverse), a
 * token source missing a part, a token sent without TLS (anyone on the path could replay it), or
 * a token endpoint in the clear on the network.
 */
function temporalCredentialProblems(e: Environment): Problem[] {
  const problems: Problem[] = [];
  if (!!e.TEMPORAL_TLS_CLIENT_CERT_PATH !== !!e.TEMPORAL_TLS_CLIENT_KEY_PATH) {
    const missing = e.TEMPORAL_TLS_CLIENT_CERT_PATH ? 'TEMPORAL_TLS_CLIENT_KEY_PATH' : 'TEMPORAL_TLS_CLIENT_CERT_PATH';
    problems.push({ variable: missing, reason: 'is required with the other (a client certificate and its private key go together)' });
  }
  const tokenParts = ['TEMPORAL_TOKEN_URL', 'TEMPORAL_CLIENT_ID', 'TEMPORAL_CLIENT_SECRET_FILE'] as const;
  const set = tokenParts.filter((name) => e[name]);
  if (set.length > 0 && set.length < tokenParts.length) {
    for (const name of tokenParts.filter((n) => !e[n])) problems.push({ variable: name, reason: `is required with ${set.join(', ')} (the token source needs all three)` });
  }
  if (set.length > 0 && !temporalTlsOf(e)) {
    problems.push({ variable: 'TEMPORAL_TOKEN_URL', reason: 'needs TLS towards Temporal (TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_CLIENT_CERT_PATH, …): a bearer token is never sent in the clear' });
  }
  if (e.TEMPORAL_TOKEN_URL) {
    const url = new URL(e.TEMPORAL_TOKEN_URL);
    if (url.protocol === 'http:' && !LOOPBACK_URL_HOSTS.has(url.hostname)) {
      problems.push({ variable: 'TEMPORAL_TOKEN_URL', reason: 'must be https (plain http only to a loopback address): the client secret is sent to it' });
    }
  }
  return problems;
}

function temporalTlsOf(e: Environment): TemporalTlsSettings | undefined {
  if (!e.TEMPORAL_TLS_SERVER_CA_CERT_PATH && !e.TEMPORAL_TLS_CLIENT_CERT_PATH && !e.TEMPORAL_TLS_SERVER_NAME) return undefined;
  return {
    ...(e.TEMPORAL_TLS_SERVER_CA_CERT_PATH ? { serverCaFile: e.TEMPORAL_TLS_SERVER_CA_CERT_PATH } : {}),
    ...(e.TEMPORAL_TLS_CLIENT_CERT_PATH ? { clientCertFile: e.TEMPORAL_TLS_CLIENT_CERT_PATH } : {}),
    ...(e.TEMPORAL_TLS_CLIENT_KEY_PATH ? { clientKeyFile: e.TEMPORAL_TLS_CLIENT_KEY_PATH } : {}),
    ...(e.TEMPORAL_TLS_SERVER_NAME ? { serverName: e.TEMPORAL_TLS_SERVER_NAME } : {}),
  };
}

function temporalCredentialsOf(e: Environment): { tls?: TemporalTlsSettings; token?: TemporalTokenSettings } {
  const tls = temporalTlsOf(e);
  const token: TemporalTokenSettings | undefined =
    e.TEMPORAL_TOKEN_URL && e.TEMPORAL_CLIENT_ID && e.TEMPORAL_CLIENT_SECRET_FILE
      ? {
          tokenUrl: e.TEMPORAL_TOKEN_URL,
          clientId: e.TEMPORAL_CLIENT_ID,
          clientSecretFile: e.TEMPORAL_CLIENT_SECRET_FILE,
          ...(e.TEMPORAL_TOKEN_RESOURCE ? { resource: e.TEMPORAL_TOKEN_RESOURCE } : {}),
          ...(e.TEMPORAL_TOKEN_SCOPE ? { scope: e.TEMPORAL_TOKEN_SCOPE } : {}),
        }
      : undefined;
  return { ...(tls ? { tls } : {}), ...(token ? { token } : {}) };
}

/**
 * Variables only the API may hold: the keys bearer tokens are signed with (whoever holds one can
 * mint a token for any identity and role) and the switch that hands tokens out. The worker reads
 * hostile files; it must never hold them (docs/security.md, "Secrets per process").
 */
export const API_ONLY_VARIABLES = ['AUTH_JWT_SECRET', 'DASHBOARD_DEV_SIGN_IN', 'DEV_SIGN_IN_SECRET'] as const;

/** The API-only variables set in an environment (the worker refuses to start with any). */
export function heldApiOnlyVariables(env: NodeJS.ProcessEnv): string[] {
  return API_ONLY_VARIABLES.filter((name) => env[name] !== undefined && env[name] !== '');
}

/** An environment for a worker process: the given one without the API-only variables. */
export function workerEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of API_ONLY_VARIABLES) delete copy[name];
  return copy;
}

/**
 * Loads the configuration for a process entry point; on failure prints the
 * problems (no stack trace) and exits with status 78 (EX_CONFIG).
 */
export function loadConfigOrExit(processName: string, env: NodeJS.ProcessEnv = process.env): Config {
  const held = processName === 'worker' ? heldApiOnlyVariables(env) : [];
  if (held.length > 0) {
    process.stderr.write(`modelgate worker: ${held.join(', ')} belong(s) to the API only; the worker reads untrusted files and must not hold them: start it without\n`);
    process.exit(78);
  }
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`modelgate ${processName}: ${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
}

// The MLflow tracking server as a source and as a registry: its REST API (model versions, runs,
// tags, aliases, webhooks) and its artifact proxy (`--serve-artifacts`). The server's URL and
// token come from the worker's configuration, never from a manifest, so `models:/` names a model
// and version on that one server and can reach no other host.
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { openHttpSource } from './read';
import { type SourceRules, SourceRefusal, SourceUnavailable, parseHosts } from './rules';

/** How to reach the MLflow tracking server (MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN). */
export interface MlflowSettings {
  /** Base URL of the tracking server (`http(s)://host[:port][/prefix]`). */
  trackingUri: string;
  /** Bearer token sent to it, when it asks for one (the worker's secret; never the API's). */
  token?: string;
}

/** Bounds of what Modelgate reads from MLflow: far above real models, low enough to stay bounded. */
export const MLFLOW_LIMITS = {
  /** Largest JSON answer of the REST API. */
  jsonBytes: 4 * 1024 * 1024,
  /** Most files of one model version's artifacts. */
  files: 10_000,
  /** Deepest folder nesting of a model version's artifacts. */
  depth: 32,
  /** Longest an API call may take. */
  requestTimeoutMs: 30_000,
} as const;

/** Tags Modelgate sets on an MLflow model version. */
export const MLFLOW_TAGS = {
  status: 'modelgate.status',
  promotionId: 'modelgate.promotion_id',
  evidenceDigest: 'modelgate.evidence_digest',
  policy: 'modelgate.policy',
  approvedAt: 'modelgate.approved_at',
  environment: 'modelgate.environment',
  rollbackId: 'modelgate.rollback_id',
  /** The artifact digest Modelgate pinned for the version (set when an environment whose record is MLflow approves it). */
  artifactSha256: 'modelgate.artifact_sha256',
} as const;

/** A model version as MLflow describes it (the fields Modelgate reads). */
export interface MlflowModelVersion {
  name: string;
  version: string;
  runId?: string;
  status?: string;
  aliases: string[];
  tags: Record<string, string>;
}

/** What a model version's source run says: its metrics and lineage. */
export interface MlflowRun {
  runId: string;
  metrics: Record<string, number>;
  /** The `mlflow.source.git.commit` tag, when the run recorded one. */
  sourceCommit?: string;
  /** Logged dataset inputs: name, digest, source. */
  datasets: Array<{ name: string; digest: string; source: string; context?: string }>;
}

/** One file of a model version's artifacts, by its path relative to the version's artifact root. */
export interface MlflowArtifactFile {
  relativePath: string;
  size?: number;
}

const ModelVersionSchema = z.object({
  model_version: z.object({
    name: z.string().max(1_000),
    version: z.string().max(32),
    run_id: z.string().max(200).optional(),
    status: z.string().max(64).optional(),
    aliases: z.array(z.string().max(256)).max(1_000).optional(),
    tags: z.array(z.object({ key: z.string().max(1_000), value: z.string().max(10_000).optional() })).max(1_000).optional(),
  }),
});

const RunSchema = z.object({
  run: z.object({
    info: z.object({ run_id: z.string().max(200) }),
    data: z
      .object({
        metrics: z.array(z.object({ key: z.string().max(1_000), value: z.number() })).max(10_000).optional(),
        tags: z.array(z.object({ key: z.string().max(1_000), value: z.string().max(100_000).optional() })).max(10_000).optional(),
      })
      .optional(),
    inputs: z
      .object({
        dataset_inputs: z
          .array(
            z.object({
              tags: z.array(z.object({ key: z.string().max(1_000), value: z.string().max(10_000).optional() })).max(100).optional(),
              dataset: z.object({ name: z.string().max(1_000), digest: z.string().max(200), source: z.string().max(10_000).optional() }),
            }),
          )
          .max(1_000)
          .optional(),
      })
      .optional(),
  }),
});

const DownloadUriSchema = z.object({ artifact_uri: z.string().max(4_096) });

const ListingSchema = z.object({
  files: z.array(z.object({ path: z.string().max(4_096), is_dir: z.boolean().optional(), file_size: z.union([z.number(), z.string()]).optional() })).max(MLFLOW_LIMITS.files).optional(),
});

/** A failed MLflow call: `unavailable` may pass (network, 5xx, 429), the rest will not. */
/** What an MLflow `error_code` looks like (`RESOURCE_DOES_NOT_EXIST`, `INVALID_PARAMETER_VALUE`). */
const MLFLOW_ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

export class MlflowError extends Error {
  override readonly name = 'MlflowError';
  constructor(
    message: string,
    /** MLflow's error code (`RESOURCE_DOES_NOT_EXIST`, …) or `unavailable`. */
    readonly code: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The client of one MLflow tracking server. */
export interface MlflowClient {
  /** The tracking server's base URL, as configured. */
  readonly trackingUri: string;
  getModelVersion(model: string, version: string): Promise<MlflowModelVersion>;
  getRun(runId: string): Promise<MlflowRun>;
  /** Every file of the version's artifacts (recursively), bounded in count and depth, paths checked. */
  listVersionFiles(model: string, version: string): Promise<{ root: string; files: MlflowArtifactFile[] }>;
  /** Opens one artifact file through the artifact proxy, bounded by `maxBytes`. */
  openVersionFile(root: string, relativePath: string, options: { maxBytes: number; signal?: AbortSignal }): Promise<Readable>;
  setModelVersionTag(model: string, version: string, key: string, value: string): Promise<void>;
  setAlias(model: string, alias: string, version: string): Promise<void>;
  deleteAlias(model: string, alias: string): Promise<void>;
  /** The version an alias points at, or undefined when the alias is not set. */
  versionOfAlias(model: string, alias: string): Promise<string | undefined>;
  /** Creates a webhook on the tracking server (MLflow 3.x); returns its id. */
  createWebhook(webhook: { name: string; url: string; events: Array<{ entity: string; action: string }>; secret: string; description?: string }): Promise<string>;
}

/** Parses and checks MLFLOW_TRACKING_URI: an http(s) URL without credentials, query or fragment. */
export function parseTrackingUri(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error('MLFLOW_TRACKING_URI is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('MLFLOW_TRACKING_URI must be an http:// or https:// URL');
  if (url.username || url.password) throw new Error('MLFLOW_TRACKING_URI must not carry credentials (set MLFLOW_TRACKING_TOKEN)');
  if (url.search || url.hash) throw new Error('MLFLOW_TRACKING_URI must not have a query or fragment');
  return url.toString().replace(/\/+$/, '');
}

/** Checks one path segment of an artifact listing: no empty, `.`, `..`, separators or control characters. */
function checkSegment(segment: string): void {
  if (!segment || segment === '.' || segment === '..' || /[\\/]/.test(segment) || [...segment].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f) || segment.length > 255) {
    throw new SourceRefusal('dot-segments', `artifact.uri: the MLflow artifact listing names an unsafe path segment ${JSON.stringify(segment.slice(0, 100))}`, 'artifact.uri');
  }
}

/**
 * The `mlflow-artifacts:/<path>` URI of a version's files as a path under the artifact proxy.
 * Other schemes (s3://, a run's local folder) are refused: Modelgate reads only through the proxy.
 */
function proxiedRoot(artifactUri: string): string {
  const match = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.+)$/.exec(artifactUri);
  if (!match) throw new SourceRefusal('scheme', 'artifact.uri: the MLflow version\'s files are not served by the tracking server\'s artifact proxy (start mlflow server with --serve-artifacts)', 'artifact.uri');
  const root = match[1]!.replace(/\/+$/, '');
  root.split('/').forEach(checkSegment);
  return root;
}

/** Builds the client of the tracking server in `settings`; downloads obey `rules`' size and time bounds. */
export function createMlflowClient(settings: MlflowSettings, rules: SourceRules): MlflowClient {
  const base = parseTrackingUri(settings.trackingUri);
  const baseUrl = new URL(base);
  // Downloads (and their redirects) may reach the tracking server's host and no other.
  const host = baseUrl.hostname.replace(/^\[|\]$/g, '');
  const downloadRules: SourceRules = { ...rules, hosts: parseHosts(/^[0-9.]+$|:/.test(host) ? host : `${host}${baseUrl.port ? `:${baseUrl.port}` : ''}`) };
  const headers: Record<string, string> = { accept: 'application/json', ...(settings.token ? { authorization: `Bearer ${settings.token}` } : {}) };

  async function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, query: Record<string, string> | undefined, body?: unknown): Promise<unknown> {
    const url = new URL(`${base}${path}`);
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        redirect: 'error',
        signal: AbortSignal.timeout(MLFLOW_LIMITS.requestTimeoutMs),
      });
    } catch (err) {
      throw new MlflowError(`the MLflow tracking server cannot be reached (${(err as Error).name === 'TimeoutError' ? 'timeout' : ((err as { cause?: { code?: string } }).cause?.code ?? 'network error')})`, 'unavailable');
    }
    const text = await readBounded(response);
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      // Only the shape of MLflow's own codes (RESOURCE_DOES_NOT_EXIST) is kept: any other text the
      // server put there would reach messages and the audit record.
      const declared = (parsed as { error_code?: unknown })?.error_code;
      const code = typeof declared === 'string' && MLFLOW_ERROR_CODE.test(declared) ? declared : `HTTP ${response.status}`;
      const passing = response.status >= 500 || response.status === 429 || response.status === 408;
      throw new MlflowError(`the MLflow tracking server answered ${method} ${path} with HTTP ${response.status} (${code})`, passing ? 'unavailable' : code, response.status);
    }
    if (parsed === undefined) throw new MlflowError(`the MLflow tracking server answered ${path} with something that is not JSON`, 'bad_answer');
    return parsed;
  }

  async function readBounded(response: Response): Promise<string> {
    const declared = Number(response.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > MLFLOW_LIMITS.jsonBytes) throw new MlflowError('the MLflow answer is larger than the limit', 'bad_answer');
    if (!response.body) return '';
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > MLFLOW_LIMITS.jsonBytes) throw new MlflowError('the MLflow answer is larger than the limit', 'bad_answer');
      chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
    const result = schema.safeParse(value);
    if (!result.success) throw new MlflowError(`the MLflow tracking server's ${what} does not have the expected shape`, 'bad_answer');
    return result.data;
  }

  async function list(root: string, relative: string): Promise<Array<{ path: string; isDir: boolean; size?: number }>> {
    const answer = parse(ListingSchema, await call('GET', '/api/2.0/mlflow-artifacts/artifacts', { path: relative ? `${root}/${relative}` : root }), 'artifact listing');
    return (answer.files ?? []).map((f) => ({ path: f.path, isDir: f.is_dir === true, ...(f.file_size !== undefined ? { size: Number(f.file_size) } : {}) }));
  }

  return {
    trackingUri: base,
    async getModelVersion(model, version) {
      const answer = parse(ModelVersionSchema, await call('GET', '/api/2.0/mlflow/model-versions/get', { name: model, version }), 'model version');
      const v = answer.model_version;
      return {
        name: v.name,
        version: v.version,
        ...(v.run_id ? { runId: v.run_id } : {}),
        ...(v.status ? { status: v.status } : {}),
        aliases: v.aliases ?? [],
        tags: Object.fromEntries((v.tags ?? []).map((t) => [t.key, t.value ?? ''])),
      };
    },
    async getRun(runId) {
      const { run } = parse(RunSchema, await call('GET', '/api/2.0/mlflow/runs/get', { run_id: runId }), 'run');
      const tags = Object.fromEntries((run.data?.tags ?? []).map((t) => [t.key, t.value ?? '']));
      const commit = tags['mlflow.source.git.commit'];
      return {
        runId: run.info.run_id,
        metrics: Object.fromEntries((run.data?.metrics ?? []).filter((m) => Number.isFinite(m.value)).map((m) => [m.key, m.value])),
        ...(commit ? { sourceCommit: commit } : {}),
        datasets: (run.inputs?.dataset_inputs ?? []).map((input) => {
          const context = input.tags?.find((t) => t.key === 'mlflow.data.context')?.value;
          return { name: input.dataset.name, digest: input.dataset.digest, source: input.dataset.source ?? '', ...(context ? { context } : {}) };
        }),
      };
    },
    async listVersionFiles(model, version) {
      const answer = parse(DownloadUriSchema, await call('GET', '/api/2.0/mlflow/model-versions/get-download-uri', { name: model, version }), 'download URI');
      const root = proxiedRoot(answer.artifact_uri);
      const files: MlflowArtifactFile[] = [];
      const walk = async (relative: string, depth: number): Promise<void> => {
        if (depth > MLFLOW_LIMITS.depth) throw new SourceRefusal('too-large', `artifact.uri: the MLflow artifacts are nested more than ${MLFLOW_LIMITS.depth} levels deep`, 'artifact.uri');
        for (const entry of await list(root, relative)) {
          // The proxy names each entry by its base name: exactly one safe segment (no `..`, no
          // separator, no absolute path), so every file stays under the version's folder.
          checkSegment(entry.path);
          const child = relative ? `${relative}/${entry.path}` : entry.path;
          if (entry.isDir) await walk(child, depth + 1);
          else {
            files.push({ relativePath: child, ...(entry.size !== undefined && Number.isFinite(entry.size) ? { size: entry.size } : {}) });
            if (files.length > MLFLOW_LIMITS.files) throw new SourceRefusal('too-large', `artifact.uri: the MLflow version has more than ${MLFLOW_LIMITS.files} files`, 'artifact.uri');
          }
        }
      };
      await walk('', 0);
      return { root, files };
    },
    async openVersionFile(root, relativePath, options) {
      relativePath.split('/').forEach(checkSegment);
      const path = [...root.split('/'), ...relativePath.split('/')].map(encodeURIComponent).join('/');
      return openHttpSource(`${base}/api/2.0/mlflow-artifacts/artifacts/${path}`, downloadRules, 'artifact.uri', {
        maxBytes: options.maxBytes,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(settings.token ? { headers: { authorization: `Bearer ${settings.token}` } } : {}),
      });
    },
    async setModelVersionTag(model, version, key, value) {
      await call('POST', '/api/2.0/mlflow/model-versions/set-tag', undefined, { name: model, version, key, value });
    },
    async setAlias(model, alias, version) {
      await call('POST', '/api/2.0/mlflow/registered-models/alias', undefined, { name: model, alias, version });
    },
    async deleteAlias(model, alias) {
      await call('DELETE', '/api/2.0/mlflow/registered-models/alias', { name: model, alias });
    },
    async versionOfAlias(model, alias) {
      try {
        const answer = parse(ModelVersionSchema, await call('GET', '/api/2.0/mlflow/registered-models/alias', { name: model, alias }), 'model version');
        return answer.model_version.version;
      } catch (err) {
        if (err instanceof MlflowError && (err.code === 'RESOURCE_DOES_NOT_EXIST' || err.code === 'INVALID_PARAMETER_VALUE')) return undefined;
        throw err;
      }
    },
    async createWebhook(webhook) {
      const answer = parse(z.object({ webhook: z.object({ webhook_id: z.string().max(200) }) }), await call('POST', '/api/2.0/mlflow/webhooks', undefined, { ...webhook, events: webhook.events.map((e) => ({ entity: e.entity.toUpperCase(), action: e.action.toUpperCase() })), status: 'ACTIVE' }), 'webhook');
      return answer.webhook.webhook_id;
    },
  };
}

/** True when an MLflow failure may pass (network, timeout, 5xx, 429): worth a retry. */
export function isPassingMlflowError(err: unknown): boolean {
  return (err instanceof MlflowError && err.code === 'unavailable') || err instanceof SourceUnavailable;
}

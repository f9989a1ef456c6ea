// A `models:/<name>/<version>` artifact made concrete before any check runs: its files are
// downloaded once through the configured MLflow server's artifact proxy and hashed (MLflow keeps
// no digest), and its source run gives the metrics (when the manifest declares none) and lineage.
import type { LineageSchema, PromotionManifest } from '../manifest/schema';
import { mlflowModelOf } from '../manifest/schema';
import { MlflowError, isPassingMlflowError } from '../sources/mlflow';
import type { z } from 'zod';
import { openManifestArtifact } from './artifact-checks';
import type { CheckContext } from './context';
import { digestArtifact } from './digest';
import { CheckInputError, TransientCheckError } from './errors';

/** What pinning a `models:/` artifact found: the digest to hold it to, and what its run says. */
export interface PinnedMlflowSource {
  /** The directory-manifest digest of the version's files (what the integrity check verifies). */
  sha256: string;
  files: number;
  bytes: number;
  /** The source run, when the version names one. */
  runId?: string;
  /** The run's metrics; used only when the manifest declares none. */
  runMetrics: Record<string, number>;
  /** The manifest's lineage completed from the run (source commit, run id); declared fields win. */
  lineage: z.infer<typeof LineageSchema>;
  /** The run's logged dataset inputs (name, digest, source), for the timeline and the evidence. */
  datasets: Array<{ name: string; digest: string; source: string; context?: string }>;
}

/** Most metrics taken from a run (the manifest's own limit). */
const MAX_RUN_METRICS = 200;

/**
 * Downloads and hashes a `models:/` artifact and reads its source run.
 * @throws {CheckInputError} when the URI is not `models:/`, the version does not exist or its files break a source rule;
 * {@link TransientCheckError} when MLflow cannot be reached (retried).
 */
export async function pinMlflowSource(manifest: PromotionManifest, context: CheckContext): Promise<PinnedMlflowSource> {
  const named = mlflowModelOf(manifest.artifact.uri);
  if (!named) throw new CheckInputError('artifact.uri is not a models:/ URI', 'artifact.uri');
  const client = context.sources.mlflow;
  if (!client) throw new CheckInputError('models:/ artifacts need an MLflow tracking server (MLFLOW_TRACKING_URI is not set on the worker)', 'artifact.uri');
  const artifact = await openManifestArtifact(manifest, context);
  let digest;
  try {
    digest = await digestArtifact(artifact, context.progress ? { progress: context.progress } : {});
  } finally {
    await artifact.cleanup();
  }
  const version = await asCheckError(() => client.getModelVersion(named.model, named.version));
  const run = version.runId ? await asCheckError(() => client.getRun(version.runId!)) : undefined;
  const runMetrics = Object.fromEntries(Object.entries(run?.metrics ?? {}).filter(([name]) => name.length <= 128).slice(0, MAX_RUN_METRICS));
  const lineage = {
    ...(run?.sourceCommit && run.sourceCommit.length <= 1_000 ? { codeCommit: run.sourceCommit } : {}),
    ...(version.runId && version.runId.length <= 1_000 ? { runId: version.runId } : {}),
    ...manifest.lineage,
  };
  return {
    sha256: digest.sha256,
    files: digest.files.length,
    bytes: digest.bytes,
    ...(version.runId ? { runId: version.runId } : {}),
    runMetrics,
    lineage,
    datasets: (run?.datasets ?? []).slice(0, 50).map((d) => ({ ...d, name: d.name.slice(0, 200), source: d.source.slice(0, 1_000) })),
  };
}

async function asCheckError<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (isPassingMlflowError(err)) throw new TransientCheckError((err as Error).message);
    if (err instanceof MlflowError) throw new CheckInputError(err.message, 'artifact.uri');
    throw err;
  }
}

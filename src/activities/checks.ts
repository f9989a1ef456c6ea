import { Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import { type CheckName, type CheckResult } from '../shared/checks';
import type { PromotionManifest } from '../manifest/schema';
import { type CheckRun, runArtifactChecks, runNamedCheck } from '../checks';
import type { SourceRules } from '../sources/rules';
import type { CheckSettings } from '../policy/check-settings';
import { type ProgressReporter, throttleProgress } from '../checks/progress';
import { RegistryDisagreement, type RegistryOfRecord, type RegistryReader } from '../registry';
import { auditedRegistryOfRecord } from '../promotions/registry-of-record';
import { isConnectionError } from '../db/pool';
import type { TrustedKey, TrustedRoot } from '../checks/trusted-keys';
import { ApplicationFailure } from '@temporalio/common';
import { CheckInputError, TransientCheckError } from '../checks/errors';
import { MlflowError } from '../sources/mlflow';
import { type PinnedMlflowSource, pinMlflowSource } from '../checks/mlflow-source';
import { checkObservation } from '../metrics/durations';
import { recordDurationObservations } from '../metrics/store';

export type { TrustedKey } from '../checks/trusted-keys';

/** Input of every check activity: one object, so it can grow without breaking history. */
export interface CheckActivityInput {
  promotionId: string;
  manifest: PromotionManifest;
  settings: CheckSettings;
  trustedKeys: TrustedKey[];
  /** Roots for OMS certificate-based bundles; absent when the policy names none (and in older histories). */
  trustedRoots?: TrustedRoot[];
}

/** What the check activities need from the worker. */
export interface CheckActivityDeps {
  pool: Pool;
  /** Where manifests' sources may be read from (ARTIFACT_ROOTS, ARTIFACT_HOSTS and the limits). */
  sources: SourceRules;
  /** Content-addressed store of verified artifacts (ARTIFACT_STORE_DIR). */
  artifactStoreDir: string;
  /** Each environment's registry of record (absent: PostgreSQL for every environment). */
  registryOfRecord?: RegistryOfRecord;
}

/** Heartbeats when running inside an activity; does nothing elsewhere (tests calling the functions directly). */
function activityHeartbeat(): ProgressReporter {
  return throttleProgress((detail) => {
    try {
      Context.current().heartbeat(detail);
    } catch {
      // Not inside an activity.
    }
  }, 5_000);
}

/** The running activity's cancellation signal (nothing outside an activity). */
function activitySignal(): { signal?: AbortSignal } {
  try {
    return { signal: Context.current().cancellationSignal };
  } catch {
    return {};
  }
}

/**
 * Records a check run's duration for `/metrics`, keyed by the activity execution (so a retried
 * activity counts once). Outside an activity (tests calling the functions directly) it does
 * nothing; a failure to record is logged and never fails the check.
 */
async function recordCheckDuration(pool: Pool, promotionId: string, result: CheckResult): Promise<void> {
  let context: Context;
  try {
    context = Context.current();
  } catch {
    return;
  }
  const { workflowExecution, activityId } = context.info;
  const run = `${workflowExecution?.workflowId ?? promotionId}/${workflowExecution?.runId ?? ''}/${activityId}/${result.name}`;
  try {
    await recordDurationObservations(pool, [checkObservation(promotionId, run, result, new Date().toISOString())]);
  } catch (err) {
    context.log.warn('check duration not recorded for /metrics', { check: result.name, error: err instanceof Error ? err.message : String(err) });
  }
}

/**
 * The registry as the check activities read it: while PostgreSQL cannot be reached, a read waits
 * (heartbeating, backing off to 30 s, ending when the activity is cancelled) instead of failing,
 * because Modelgate's own database being down says nothing about the promotion and must never
 * become a check result. Other errors pass through.
 */
export function waitingRegistryReader(reader: RegistryReader, backoffCapMs = 30_000): RegistryReader {
  const patiently =
    <A extends unknown[], R>(read: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await read(...args);
        } catch (err) {
          if (!isConnectionError(err)) throw err;
          const context = Context.current();
          context.heartbeat({ waitingFor: 'the model registry (PostgreSQL)', error: String((err as { message?: unknown }).message) });
          await context.sleep(Math.min(backoffCapMs, 500 * 2 ** attempt));
        }
      }
    };
  return { findVersion: patiently(reader.findVersion), servingVersion: patiently(reader.servingVersion) };
}

/**
 * The registry reader of a promotion's target: its registry of record, a disagreement between
 * that record and PostgreSQL reported as the check's `error` (its message, audited already), an
 * unreachable MLflow retried like any source that may pass.
 */
function targetRegistryReader(registryOfRecord: RegistryOfRecord, target: string): RegistryReader {
  const refusing =
    <A extends unknown[], R>(read: (registry: RegistryReader, ...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await read(await registryOfRecord(target), ...args);
      } catch (err) {
        if (err instanceof RegistryDisagreement) throw new CheckInputError(`the registry of record of ${target} disagrees with Modelgate: ${err.message}`);
        // MLflow unreachable may pass (the activity is retried); another failure of it will not.
        if (err instanceof MlflowError) {
          if (err.code === 'unavailable') throw new TransientCheckError(`the registry of record of ${target} cannot be read now: ${err.message}`);
          throw new CheckInputError(`the registry of record of ${target} cannot be read: ${err.message}`);
        }
        throw err;
      }
    };
  return waitingRegistryReader({
    findVersion: refusing((registry, model: string, version: string) => registry.findVersion(model, version)),
    servingVersion: refusing((registry, model: string, environment: string) => registry.servingVersion(model, environment)),
  });
}

/**
 * Builds the check activities (docs/policy.md#checksettings). Each returns the uniform result; a problem that
 * retrying cannot fix (malformed file, missing column) is a result with status `error`; a
 * transient one (an HTTP artifact that times out or answers 5xx) throws a plain Error so that
 * Temporal retries the activity.
 */
export function createCheckActivities(deps: CheckActivityDeps) {
  const registryOfRecord = deps.registryOfRecord ?? auditedRegistryOfRecord({ pool: deps.pool });
  const checkRun = (input: CheckActivityInput): CheckRun => ({
    manifest: input.manifest,
    settings: input.settings,
    trustedKeys: input.trustedKeys,
    ...(input.trustedRoots ? { trustedRoots: input.trustedRoots } : {}),
    context: { sources: deps.sources, artifactStoreDir: deps.artifactStoreDir, registry: targetRegistryReader(registryOfRecord, input.manifest.target), progress: activityHeartbeat(), ...activitySignal() },
    rethrowTransient: true,
  });
  /** Transient failures become a plain Error (retryable by default) with the cause's message. */
  const retryable = async <T>(what: string, promotionId: string, body: () => Promise<T>): Promise<T> => {
    try {
      return await body();
    } catch (err) {
      throw new Error(`${what} for ${promotionId}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const run = (name: CheckName) => async (input: CheckActivityInput): Promise<CheckResult> => {
    const result = await retryable(`${name} check`, input.promotionId, () => runNamedCheck(name, checkRun(input)));
    await recordCheckDuration(deps.pool, input.promotionId, result);
    return result;
  };
  return {
    /**
     * Pins a `models:/` artifact before its checks: downloads its files through the MLflow
     * artifact proxy, computes their digest and reads the source run (metrics, lineage). A refused
     * or missing version fails at once; an unreachable MLflow is retried.
     */
    async pinMlflowSource(input: { promotionId: string; manifest: PromotionManifest }): Promise<PinnedMlflowSource> {
      try {
        return await pinMlflowSource(input.manifest, { sources: deps.sources, artifactStoreDir: deps.artifactStoreDir, progress: activityHeartbeat(), ...activitySignal() });
      } catch (err) {
        if (err instanceof CheckInputError) throw ApplicationFailure.nonRetryable(err.message, 'CheckInputError');
        throw new Error(`pinning the MLflow source of ${input.promotionId}: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
    /**
     * Integrity and security in one activity: fetches the artifact once into the store, hashes
     * and scans that copy in one pass and keeps it under its digest for deployment.
     * Results in the order integrity, security.
     */
    async runArtifactChecks(input: CheckActivityInput): Promise<CheckResult[]> {
      const results = await retryable('integrity and security checks', input.promotionId, () => runArtifactChecks(checkRun(input)));
      for (const result of results) await recordCheckDuration(deps.pool, input.promotionId, result);
      return results;
    },
    /** Recomputes the artifact's sha256 and verifies its signature (promotions started before `runArtifactChecks`). */
    runIntegrityCheck: run('integrity'),
    /** Statically scans the artifact (promotions started before `runArtifactChecks`). */
    runSecurityCheck: run('security'),
    /** Declared or recomputed metrics against thresholds and the version serving the target. */
    runPerformanceCheck: run('performance'),
    /** Per-group rates and Fairlearn's disparity metrics from the evaluation file. */
    runFairnessCheck: run('fairness'),
    /** Required model card fields present and substantive for the tier. */
    runModelCardCheck: run('modelCard'),
    /** Commit, training data, version immutability and parent version in the registry. */
    runLineageCheck: run('lineage'),
    /** Data classification and personal data for the target; personal-data scan. */
    runPrivacyCheck: run('privacy'),
  };
}

/** The check activities' interface, for workflows (`import type`). */
export type CheckActivities = ReturnType<typeof createCheckActivities>;

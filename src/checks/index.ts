import type { PromotionManifest } from '../manifest/schema';
import type { CheckName, CheckResult } from '../shared/checks';
import { checkIntegrityAndSecurity } from './artifact-checks';
import type { CheckContext } from './context';
import { checkFairness, checkPerformance } from './evaluation-checks';
import { checkLineage, checkModelCard, checkPrivacy } from './governance-checks';
import { type CheckOutcome, runCheck, skippedResult, toCheckResult } from './result';
import type { CheckSettings } from '../policy/check-settings';
import type { TrustedKey, TrustedRoot } from './trusted-keys';

export type { CheckContext } from './context';
export type { RegistryReader, RegisteredVersion, ServingVersion } from '../registry';
export type { TrustedKey, TrustedRoot } from './trusted-keys';
export { TrustedKeySchema, TrustedRootSchema } from './trusted-keys';
export { CheckInputError, TransientCheckError } from './errors';

/** What every check runner receives. */
export interface CheckRun {
  manifest: PromotionManifest;
  settings: CheckSettings;
  trustedKeys: TrustedKey[];
  /** Roots for OMS certificate-based bundles (the policy's `trustedRoots`). */
  trustedRoots?: TrustedRoot[];
  context: CheckContext;
  /** Rethrow transient errors (activities, so Temporal retries) instead of reporting `error`. */
  rethrowTransient: boolean;
}

type Body = (run: CheckRun) => Promise<CheckOutcome>;

/** The body of each check. */
export const CHECK_BODIES: Record<CheckName, Body> = {
  integrity: async (r) => (await checkIntegrityAndSecurity(r.manifest, r.settings, r.trustedKeys, r.context, r.trustedRoots)).integrity,
  security: async (r) => (await checkIntegrityAndSecurity(r.manifest, r.settings, r.trustedKeys, r.context, r.trustedRoots)).security,
  performance: (r) => checkPerformance(r.manifest, r.settings.performance, r.context),
  fairness: (r) => checkFairness(r.manifest, r.settings.fairness, r.context),
  modelCard: (r) => checkModelCard(r.manifest, r.settings.modelCard, r.context),
  lineage: (r) => checkLineage(r.manifest, r.settings.lineage, r.context),
  privacy: (r) => checkPrivacy(r.manifest, r.settings.privacy, r.context),
};

/** Runs one check and returns its uniform result (never throws, except transient errors when asked). */
export function runNamedCheck(name: CheckName, run: CheckRun): Promise<CheckResult> {
  return runCheck(name, run.settings[name].enforcement, () => CHECK_BODIES[name](run), { rethrowTransient: run.rethrowTransient });
}

/**
 * Runs integrity and security together on one copy of the artifact (one fetch, one pass):
 * results in the order integrity, security. Either disabled is reported as skipped; when the
 * pass cannot run, both report the same `error`.
 */
export async function runArtifactChecks(run: CheckRun): Promise<[CheckResult, CheckResult]> {
  const integrityOn = run.settings.integrity.enforcement !== 'off';
  const securityOn = run.settings.security.enforcement !== 'off';
  if (!integrityOn || !securityOn) {
    return [
      integrityOn ? await runNamedCheck('integrity', run) : skippedResult('integrity'),
      securityOn ? await runNamedCheck('security', run) : skippedResult('security'),
    ];
  }
  const startedAt = Date.now();
  let outcomes: { integrity: CheckOutcome; security: CheckOutcome } | undefined;
  const integrity = await runCheck('integrity', run.settings.integrity.enforcement, async () => {
    outcomes = await checkIntegrityAndSecurity(run.manifest, run.settings, run.trustedKeys, run.context, run.trustedRoots);
    return outcomes.integrity;
  }, { rethrowTransient: run.rethrowTransient });
  if (outcomes) return [integrity, toCheckResult('security', run.settings.security.enforcement, outcomes.security, startedAt)];
  return [integrity, { ...integrity, name: 'security', required: run.settings.security.enforcement === 'required', summary: integrity.summary.replace(/^integrity/, 'security') }];
}

/**
 * Runs every check the settings ask for, locally (the CLI): integrity and security share one
 * streaming pass over the artifact. Results come in the order of `CHECK_NAMES`.
 */
export async function runAllChecks(run: Omit<CheckRun, 'rethrowTransient'>): Promise<CheckResult[]> {
  const r: CheckRun = { ...run, rethrowTransient: false };
  const results: CheckResult[] = [...(await runArtifactChecks(r))];
  for (const name of ['performance', 'fairness', 'modelCard', 'lineage', 'privacy'] as const) results.push(await runNamedCheck(name, r));
  return results;
}

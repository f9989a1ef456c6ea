import type { PromotionManifest } from '../manifest/schema';
import type { CheckName, CheckResult } from '../shared/checks';
import { checkIntegrity, checkIntegrityAndSecurity, checkSecurity } from './artifact-checks';
import type { CheckContext } from './context';
import { checkFairness, checkPerformance } from './evaluation-checks';
import { checkLineage, checkModelCard, checkPrivacy } from './governance-checks';
import { type CheckOutcome, runCheck, skippedResult, toCheckResult } from './result';
import type { CheckSettings } from './settings';
import type { TrustedKey } from './trusted-keys';

export type { CheckContext } from './context';
export type { RegistryReader, RegisteredVersion, ServingVersion } from './registry';
export { createPgRegistryReader } from './registry';
export type { TrustedKey } from './trusted-keys';
export { TrustedKeySchema } from './trusted-keys';
export { CheckInputError, TransientCheckError } from './errors';

/** What every check runner receives. */
export interface CheckRun {
  manifest: PromotionManifest;
  settings: CheckSettings;
  trustedKeys: TrustedKey[];
  context: CheckContext;
  /** Rethrow transient errors (activities, so Temporal retries) instead of reporting `error`. */
  rethrowTransient: boolean;
}

type Body = (run: CheckRun) => Promise<CheckOutcome>;

/** The body of each check. */
export const CHECK_BODIES: Record<CheckName, Body> = {
  integrity: (r) => checkIntegrity(r.manifest, r.settings.integrity, r.trustedKeys, r.context),
  security: (r) => checkSecurity(r.manifest, r.settings.security, r.context),
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
 * Runs every check the settings ask for, locally (the CLI): integrity and security share one
 * streaming pass over the artifact. Results come in the order of `CHECK_NAMES`.
 */
export async function runAllChecks(run: Omit<CheckRun, 'rethrowTransient'>): Promise<CheckResult[]> {
  const r: CheckRun = { ...run, rethrowTransient: false };
  const results: CheckResult[] = [];
  const integrityOn = r.settings.integrity.enforcement !== 'off';
  const securityOn = r.settings.security.enforcement !== 'off';
  if (integrityOn && securityOn) {
    const startedAt = Date.now();
    let outcomes: { integrity: CheckOutcome; security: CheckOutcome } | undefined;
    const both = await runCheck('integrity', r.settings.integrity.enforcement, async () => {
      outcomes = await checkIntegrityAndSecurity(r.manifest, r.settings, r.trustedKeys, r.context);
      return outcomes.integrity;
    }, { rethrowTransient: false });
    results.push(both);
    if (outcomes) {
      results.push(toCheckResult('security', r.settings.security.enforcement, outcomes.security, startedAt));
    } else {
      results.push({ ...both, name: 'security', required: r.settings.security.enforcement === 'required', summary: both.summary.replace(/^integrity/, 'security') });
    }
  } else {
    results.push(integrityOn ? await runNamedCheck('integrity', r) : skippedResult('integrity'));
    results.push(securityOn ? await runNamedCheck('security', r) : skippedResult('security'));
  }
  for (const name of ['performance', 'fairness', 'modelCard', 'lineage', 'privacy'] as const) results.push(await runNamedCheck(name, r));
  return results;
}

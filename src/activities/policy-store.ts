// The policy store as the worker sees it: the policy files of POLICY_DIR. A promotion asks it,
// before it decides anything, whether the policy it was started with is one of them, resolved
// for its manifest exactly as the API resolves it; a workflow started directly with a forged
// policy is refused.
import type { PromotionManifest } from '../manifest/schema';
import { loadPolicyDir } from '../policy/load';
import { resolvePolicy } from '../policy/resolve';
import type { ResolvedPolicy } from '../policy/resolved';
import { canonicalJson } from '../shared/canonical-json';

/** The store's answer: the policy is its own, or why not (in words for the audit trail). */
export type PolicyVerdict = { verified: true } | { verified: false; reason: string };

/** Builds the policy-store activities over the policy folder the worker was given. */
export function createPolicyStoreActivities(deps: {
  policyDir: string;
  /** The worker's governed MLflow aliases (MLFLOW_ALIASES), absent when it has no MLflow (MLFLOW_TRACKING_URI). */
  mlflowAliases?: Readonly<Record<string, string>>;
}) {
  return {
    /**
     * Whether `policy` is the store's policy of that name and digest, resolved for `manifest`.
     * Refusals are answers, not failures: the workflow ends the promotion with the reason.
     */
    async verifyPolicy(input: { policy: ResolvedPolicy; manifest: PromotionManifest }): Promise<PolicyVerdict> {
      const { policy, manifest } = input;
      const label = `${String(policy?.name)}@${String(policy?.version)}`;
      const stored = (await loadPolicyDir(deps.policyDir)).get(String(policy?.name));
      if (!stored) return { verified: false, reason: `the policy ${label} it was started with is not in the policy store` };
      if (stored.digest !== policy.digest) {
        return { verified: false, reason: `the policy ${label} it was started with (digest ${String(policy.digest)}) is not the store's (digest ${stored.digest})` };
      }
      let resolved: ResolvedPolicy;
      try {
        resolved = resolvePolicy(stored, manifest);
      } catch (err) {
        return { verified: false, reason: `the store's policy ${label} does not govern this manifest: ${(err as Error).message}` };
      }
      if (canonicalJson(resolved) !== canonicalJson(policy)) {
        return { verified: false, reason: `the policy it was started with differs from the store's ${label} resolved for this manifest (forged or altered)` };
      }
      if (resolved.registry === 'mlflow' && !(deps.mlflowAliases && Object.hasOwn(deps.mlflowAliases, manifest.target))) {
        return { verified: false, reason: `the policy ${label} names MLflow as the registry of record of ${manifest.target}, but this worker has no MLflow tracking server or no MLFLOW_ALIASES entry for it` };
      }
      return { verified: true };
    },
  };
}

/** The policy-store activities' interface, for the workflows' proxies. */
export type PolicyStoreActivities = ReturnType<typeof createPolicyStoreActivities>;

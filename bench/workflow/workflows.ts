// Workflows of the workflow benchmark: the real PromotionWorkflow and a floor workflow that
// runs the same activities and accepts the same number of updates, stage by stage, with no
// policy logic. Their ratio is the cost of Modelgate's lifecycle code.
import { condition, defineQuery, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';
import type { CheckActivities } from '../../src/activities/checks';
import type { AuditActivities } from '../../src/activities/audit';
import type { PromotionActivities } from '../../src/activities/promotion';
import type { PromotionInput } from '../../src/shared/promotion';
import { CHECK_NAMES, checkActivityName } from '../../src/shared/checks';

export { PromotionWorkflow } from '../../src/workflows/promotion';

/** The floor's update: one approval of a gate. */
export const floorDecide = defineUpdate<{ ok: true }, [{ gate: string }]>('floorDecide');
/** Gates the floor waits on now, with how many approvals each still needs. */
export const floorPending = defineQuery<Array<{ gate: string; missing: number }>>('floorPending');

const checks = proxyActivities<CheckActivities>({ startToCloseTimeout: '1 minute' });
const records = proxyActivities<PromotionActivities>({ startToCloseTimeout: '1 minute' });
const audit = proxyActivities<AuditActivities>({ startToCloseTimeout: '1 minute' });

export async function FloorWorkflow(input: PromotionInput): Promise<void> {
  const approvals: Record<string, number> = {};
  let stage = -1;
  setHandler(floorDecide, ({ gate }) => {
    approvals[gate] = (approvals[gate] ?? 0) + 1;
    return { ok: true };
  });
  setHandler(floorPending, () =>
    stage < 0 || stage >= input.policy.stages.length
      ? []
      : input.policy.stages[stage]!.gates
          .map((g) => ({ gate: g.name, missing: g.quorum - (approvals[g.name] ?? 0) }))
          .filter((g) => g.missing > 0),
  );
  await records.registerSubmission({ promotionId: input.promotionId, manifest: input.manifest, effectiveTier: input.policy.effectiveTier });
  const results = await Promise.all(
    CHECK_NAMES.map((name) =>
      checks[checkActivityName(name)]({ promotionId: input.promotionId, manifest: input.manifest, settings: input.policy.checks, trustedKeys: [] }),
    ),
  );
  const seal = await records.sealEvidence({ manifest: input.manifest, checks: results });
  for (stage = 0; stage < input.policy.stages.length; stage++) {
    const gates = input.policy.stages[stage]!.gates;
    await condition(() => gates.every((g) => (approvals[g.name] ?? 0) >= g.quorum));
  }
  await records.recordApproval({
    promotionId: input.promotionId,
    model: input.manifest.model.name,
    version: input.manifest.model.version,
    environment: input.manifest.target,
    decidedBy: 'reviewers',
    policyVersion: input.policy.version,
    evidenceDigest: seal.evidenceDigest,
    validForMs: input.policy.approvalValidForMs,
  });
  await records.activateVersion({
    promotionId: input.promotionId,
    model: input.manifest.model.name,
    version: input.manifest.model.version,
    environment: input.manifest.target,
  });
  await audit.archiveAudit({ promotionId: input.promotionId, policyVersion: input.policy.version, timeline: [] });
}

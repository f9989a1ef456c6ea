import type { GateState, PromotionState } from '../../src/shared/promotion';

/** An open gate (or other status via `overrides`) for pure tests of what a reviewer sees. */
export function gateState(name: string, overrides: Partial<GateState> = {}): GateState {
  return {
    name,
    title: `${name[0]!.toUpperCase()}${name.slice(1)} review`,
    roles: [`${name}-reviewer`],
    quorum: 1,
    escalateTo: [],
    onTimeout: 'expire',
    status: 'open',
    signatures: [],
    escalated: false,
    ...overrides,
  };
}

/** A promotion in review with the given stages of gates, submitted by sam, owned by olivia. */
export function reviewState(stages: GateState[][], overrides: Partial<PromotionState> = {}): PromotionState {
  return {
    promotionId: 'promote:fraud:1.0.0:production',
    manifest: {
      model: { name: 'fraud', version: '1.0.0', owner: 'olivia', riskTier: 'medium', description: '' },
      target: 'production',
      artifact: { uri: 'file:///m.safetensors', sha256: 'a'.repeat(64), format: 'safetensors' },
      metrics: {},
    } as unknown as PromotionState['manifest'],
    submitter: { id: 'sam', roles: ['data-scientist'] },
    submittedAt: '2026-11-01T10:00:00.000Z',
    status: 'IN_REVIEW',
    policy: { name: 'default', version: '1', digest: 'd'.repeat(64) },
    declaredTier: 'medium',
    effectiveTier: 'medium',
    tierReasons: [],
    checks: [],
    checkRuns: 1,
    waivers: [],
    evidenceDigest: 'e'.repeat(64),
    stages: stages.map((gates, i) => ({ name: `stage-${i + 1}`, status: i === 0 ? 'active' : 'waiting', gates })),
    currentStage: 0,
    revisions: 0,
    refused: [],
    timeline: [],
    run: 1,
    ...overrides,
  };
}

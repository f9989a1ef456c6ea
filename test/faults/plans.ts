// What each promotion of a fault run is meant to go through: its tier, the messages people send
// (each with its own requestId) and the final state those messages imply.
import type { Actor, GateDecision, PromotionStatus } from '../../src/shared/promotion';
import { people } from '../support/promotions';

const { sam, rita, ravi, sec, fay, lee, bo } = people;
/** The people of a fault run (the test identities; roles as in the faults policy). */
export const faultPeople = { sam, rita, ravi, sec, fay, lee, bo };

/** One message a person sends to a promotion. */
export type PlannedMessage =
  | { kind: 'decide'; actor: Actor; gate: string; decision: GateDecision; requestId: string }
  | { kind: 'withdraw'; actor: Actor; requestId: string; reason: string };

/** A promotion of the run: what is submitted, what is sent to it, and how it must end. */
export interface PromotionPlan {
  index: number;
  model: string;
  tier: 'low' | 'medium' | 'high';
  /** Messages in the order they are sent (each once the gate it names is open). */
  messages: PlannedMessage[];
  expected: Extract<PromotionStatus, 'DEPLOYED' | 'REJECTED' | 'WITHDRAWN'>;
}

type Shape = { tier: PromotionPlan['tier']; expected: PromotionPlan['expected']; steps: Array<[keyof typeof faultPeople, string, GateDecision | 'withdraw']> };

const APPROVE_HIGH: Shape['steps'] = [
  ['rita', 'technical', 'approve'],
  ['sec', 'security', 'approve'],
  ['ravi', 'technical', 'approve'],
  ['fay', 'fairness', 'approve'],
  ['lee', 'legal', 'approve'],
  ['bo', 'business', 'approve'],
];

/** The mix, repeated: auto-approved, reviewed and deployed, rejected at several gates, withdrawn. */
const SHAPES: Shape[] = [
  { tier: 'low', expected: 'DEPLOYED', steps: [] },
  { tier: 'medium', expected: 'DEPLOYED', steps: [['rita', 'technical', 'approve'], ['bo', 'business', 'approve']] },
  { tier: 'high', expected: 'DEPLOYED', steps: APPROVE_HIGH },
  { tier: 'medium', expected: 'REJECTED', steps: [['rita', 'technical', 'approve'], ['bo', 'business', 'reject']] },
  { tier: 'high', expected: 'REJECTED', steps: [['rita', 'technical', 'approve'], ['sec', 'security', 'approve'], ['ravi', 'technical', 'approve'], ['lee', 'legal', 'reject']] },
  { tier: 'medium', expected: 'WITHDRAWN', steps: [['rita', 'technical', 'approve'], ['sam', '', 'withdraw']] },
  { tier: 'low', expected: 'DEPLOYED', steps: [] },
  { tier: 'high', expected: 'DEPLOYED', steps: APPROVE_HIGH },
  { tier: 'medium', expected: 'REJECTED', steps: [['rita', 'technical', 'reject']] },
  { tier: 'medium', expected: 'DEPLOYED', steps: [['rita', 'technical', 'approve'], ['bo', 'business', 'approve']] },
];

/** The plans of a run of `count` promotions; `runId` keeps model names apart between runs. */
export function promotionPlans(count: number, runId: string): PromotionPlan[] {
  return Array.from({ length: count }, (_, index) => {
    const shape = SHAPES[index % SHAPES.length]!;
    const model = `fault-${runId}-${index}`;
    return {
      index,
      model,
      tier: shape.tier,
      expected: shape.expected,
      messages: shape.steps.map(([person, gate, decision], step): PlannedMessage => {
        const requestId = `${model}:${step}:${person}`;
        return decision === 'withdraw'
          ? { kind: 'withdraw', actor: faultPeople[person], requestId, reason: 'superseded by a retrained model' }
          : { kind: 'decide', actor: faultPeople[person], gate, decision, requestId };
      }),
    };
  });
}

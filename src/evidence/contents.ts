// What an evidence pack says of a promotion (docs/api.md#evidence-packs): its parts, derived
// purely from the promotion's state (or its archived audit trail) and the policy it ran under.
import type { ChainedAuditRecord, ChainVerification } from '../audit/chain';
import type { ArchivedPromotion, AuditEvent } from '../audit/timeline';
import { CHECK_NAMES, type CheckFinding, type CheckName, type CheckStatus } from '../shared/checks';
import type { Actor, PromotionState } from '../shared/promotion';

/** Where the promotion's facts were read from. */
export type EvidenceSource = 'temporal' | 'archive';

/** Everything an evidence pack is built from, gathered by the API. */
export interface EvidenceInput {
  promotionId: string;
  /** The live (or completed) state when Temporal still holds the promotion. */
  state?: PromotionState;
  /** The archive's summary when Temporal no longer holds it. */
  archived?: ArchivedPromotion;
  /** The promotion's own audit events (no refusals), in order. */
  events: AuditEvent[];
  /** The hash-chained audit trail. */
  chain: ChainedAuditRecord[];
  /** `archive`: the rows of `audit_events`; `timeline`: the promotion has not been archived yet, so the chain is computed from its live timeline. */
  chainSource: 'archive' | 'timeline';
  verification: ChainVerification;
  policy: EvidencePolicy;
  exportedBy: Actor;
  exportedAt: string;
}

/** The policy the promotion ran under and what this API holds of it now. */
export interface EvidencePolicy {
  name: string;
  version: string;
  /** Digest recorded by the promotion at submission. */
  recordedDigest?: string;
  /** The policy file as this API reads it now (absent when it loads no policy of that name). */
  current?: { text: string; digest: string; file: string; version: string };
}

/** `model-card.json`: the card as submitted inline, or the URI the check loaded it from. */
export type ModelCardEvidence =
  | { kind: 'inline'; fields: Record<string, unknown> }
  | { kind: 'uri'; uri: string; presentFields?: unknown; requiredFields?: unknown; note: string }
  | { kind: 'unavailable'; note: string };

/** One check of `checks.json`. */
export interface CheckEvidence {
  name: string;
  status: CheckStatus | string;
  required?: boolean;
  summary?: string;
  findings: CheckFinding[];
  metrics?: Record<string, unknown>;
  /** Set when the findings are not known (an archived promotion keeps only each check's status). */
  note?: string;
}

/** One decision of `decisions.json`. */
export interface DecisionEvidence {
  actor: string;
  roles?: string[];
  at: string;
  action: string;
  decision: string;
  gate?: string;
  comment?: string;
  /** The evidence digest (artifact + manifest + check results) the decision was given on. */
  evidenceDigest?: string;
  /** True when the signature was voided because the evidence changed after it. */
  void?: boolean;
  policyVersion: string;
}

/** Facts of the promotion shown in the manifest and the report. */
export interface PromotionFacts {
  promotionId: string;
  source: EvidenceSource;
  status: string;
  model?: { name: string; version: string; owner: string; riskTier: string; description: string };
  target?: string;
  artifact?: { uri: string; sha256: string; format: string };
  submitter: string;
  submittedAt: string;
  declaredTier?: string;
  effectiveTier?: string;
  tierReasons: string[];
  evidenceDigest?: string;
  outcome?: { status: string; at: string; by: string; reason: string };
  deployment?: { environment: string; at: string; status?: string; previousVersion?: string };
  approval?: { at: string; validUntil: string };
  lineage?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
}

/** The promotion's facts from its state, or from its archived summary. */
export function promotionFacts(input: EvidenceInput): PromotionFacts {
  const { state, archived } = input;
  if (state) {
    const m = state.manifest;
    return {
      promotionId: input.promotionId,
      source: 'temporal',
      status: state.status,
      model: { name: m.model.name, version: m.model.version, owner: m.model.owner, riskTier: m.model.riskTier, description: m.model.description },
      target: m.target,
      artifact: { uri: m.artifact.uri, sha256: m.artifact.sha256 ?? '', format: m.artifact.format },
      submitter: state.submitter.id,
      submittedAt: state.submittedAt,
      declaredTier: state.declaredTier,
      effectiveTier: state.effectiveTier,
      tierReasons: state.tierReasons,
      ...(state.evidenceDigest ? { evidenceDigest: state.evidenceDigest } : {}),
      ...(state.outcome ? { outcome: state.outcome } : {}),
      ...(state.deployment
        ? { deployment: { environment: state.deployment.environment, at: state.deployment.at, ...(state.deployment.status ? { status: state.deployment.status } : {}), ...(state.deployment.previousVersion ? { previousVersion: state.deployment.previousVersion } : {}) } }
        : {}),
      ...(state.approval ? { approval: state.approval } : {}),
      lineage: m.lineage as Record<string, unknown>,
      metrics: m.metrics,
    };
  }
  const a = archived!;
  const lastDigest = [...input.events].reverse().find((e) => e.action === 'checks_completed' && e.evidenceDigest)?.evidenceDigest;
  return {
    promotionId: input.promotionId,
    source: 'archive',
    status: a.status,
    submitter: a.submitter.id,
    submittedAt: a.submittedAt,
    ...(a.declaredTier ? { declaredTier: a.declaredTier } : {}),
    ...(a.effectiveTier ? { effectiveTier: a.effectiveTier } : {}),
    tierReasons: a.tierReasons ?? [],
    ...(lastDigest ? { evidenceDigest: lastDigest } : {}),
    ...(a.outcome ? { outcome: a.outcome } : {}),
  };
}

/** `model-card.json`. */
export function modelCardEvidence(input: EvidenceInput): ModelCardEvidence {
  if (!input.state) return { kind: 'unavailable', note: 'the promotion is only in the audit archive, which does not keep the manifest' };
  const card = input.state.manifest.modelCard as Record<string, unknown>;
  if (typeof card.uri === 'string' && Object.keys(card).length === 1) {
    const metrics = input.state.checks.find((c) => c.name === 'modelCard')?.metrics ?? {};
    return {
      kind: 'uri',
      uri: card.uri,
      ...(metrics.presentFields !== undefined ? { presentFields: metrics.presentFields } : {}),
      ...(metrics.requiredFields !== undefined ? { requiredFields: metrics.requiredFields } : {}),
      note: 'the manifest names the model card by URI; the fields listed are those the modelCard check found in it',
    };
  }
  return { kind: 'inline', fields: card };
}

/** `checks.json`: every check of the last run with its findings (statuses only for an archived promotion). */
export function checkEvidence(input: EvidenceInput): CheckEvidence[] {
  if (input.state) {
    return input.state.checks.map((c) => ({
      name: c.name,
      status: c.status,
      required: c.required,
      summary: c.summary,
      findings: c.findings,
      metrics: c.metrics,
    }));
  }
  const completed = [...input.events].reverse().find((e) => e.action === 'checks_completed');
  const results = (completed?.detail?.results ?? {}) as Record<string, unknown>;
  // PostgreSQL (jsonb) does not keep the keys' order: the checks are listed in their usual order.
  const rank = (name: string) => {
    const index = CHECK_NAMES.indexOf(name as CheckName);
    return index < 0 ? CHECK_NAMES.length : index;
  };
  return Object.entries(results).sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : 1)).map(([name, status]) => ({
    name,
    status: String(status),
    findings: [],
    note: 'the audit archive keeps each check’s status, not its findings',
  }));
}

/** `decisions.json`: every decision (gate signatures, overrides, automatic approvals, timeouts) from the timeline. */
export function decisionEvidence(input: EvidenceInput): DecisionEvidence[] {
  const signatures = input.state?.stages.flatMap((s) => s.gates.flatMap((g) => g.signatures.map((sig) => ({ gate: g.name, sig })))) ?? [];
  return input.events
    .filter((e) => e.source === 'workflow' && e.decision)
    .map((e) => {
      const signature = signatures.find(({ gate, sig }) => gate === e.gate && sig.actorId === e.actor && sig.at === e.at)?.sig;
      return {
        actor: e.actor,
        ...(signature ? { roles: signature.roles } : {}),
        at: e.at,
        action: e.action,
        decision: e.decision!,
        ...(e.gate ? { gate: e.gate } : {}),
        ...(e.comment ? { comment: e.comment } : {}),
        ...(e.evidenceDigest ? { evidenceDigest: e.evidenceDigest } : {}),
        ...(signature?.void ? { void: true } : {}),
        policyVersion: e.policyVersion,
      };
    });
}

/** What the evidence pack says of the policy, for the manifest and the report. */
export function policyEvidence(policy: EvidencePolicy) {
  const current = policy.current;
  return {
    name: policy.name,
    version: policy.version,
    ...(policy.recordedDigest ? { recordedDigest: policy.recordedDigest } : {}),
    included: current !== undefined,
    ...(current
      ? {
          currentDigest: current.digest,
          currentVersion: current.version,
          digestMatches: policy.recordedDigest === current.digest,
          note:
            policy.recordedDigest === current.digest
              ? 'policy.yaml is the text the promotion ran under (its digest is the one recorded)'
              : 'the policy text loaded now differs from the one the promotion recorded: policy.yaml is the current text, not the one the promotion ran under',
        }
      : { note: `this API loads no policy named ${policy.name}; policy.yaml is absent` }),
  };
}

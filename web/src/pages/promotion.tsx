// A promotion: manifest, checks with findings, stages and gates with who signed what and when,
// deadlines, evidence digest, audit timeline, Temporal UI link; decisions, overrides, expedite.
import { useRef, useState } from 'preact/hooks';
import { ApiRequestError, promotionPath, request } from '../api';
import { Digest, ErrorMessage, LiveStatus, StatusBadge, TableBox, TableHead, TimeLeft, Timestamp } from '../components';
import { EvidenceLink } from '../evidence-link';
import { validApprovals } from '../../../src/policy/evaluate';
import { statusWords } from '../format';
import { type DecidableGate, decidableGates, managerActions } from '../permissions';
import { usePoll } from '../poll';
import type { Session } from '../session';
import type { AuditTimeline, CheckResult, GateState, MessageResult, PolicyList, PromotionDetail, StageState } from '../types';

type Loaded = { state?: PromotionDetail; audit?: AuditTimeline };
type Outcome = { ok: true; text: string } | { ok: false; error: Error; what: string };

/** A fresh idempotency key for one attempt (a retried request repeats the first answer). */
/** How the manifest's artifact signature reads next to the digest. */
function signatureText(signature: PromotionDetail['manifest']['artifact']['signature']): string {
  if (!signature) return ', unsigned';
  if ('format' in signature) return `, OMS signature bundle ${signature.bundle ?? 'model.sig in the directory'}`;
  return `, signed with key ${signature.keyId}`;
}

function newRequestId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function loadPromotion(promotionId: string, token: string): Promise<Loaded> {
  const [state, audit] = await Promise.allSettled([
    request<PromotionDetail>(promotionPath(promotionId), { token }),
    request<AuditTimeline>(promotionPath(promotionId, 'audit'), { token }),
  ]);
  if (state.status === 'rejected' && !(state.reason instanceof ApiRequestError && state.reason.status === 404)) throw state.reason;
  if (audit.status === 'rejected' && state.status === 'rejected') throw audit.reason;
  return {
    ...(state.status === 'fulfilled' ? { state: state.value } : {}),
    ...(audit.status === 'fulfilled' ? { audit: audit.value } : {}),
  };
}

export function PromotionPage({ session, promotionId, policies }: { session: Session; promotionId: string; policies?: PolicyList }) {
  const loaded = usePoll(() => loadPromotion(promotionId, session.token), `promotion:${promotionId}:${session.actor.id}`);
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined);
  const outcomeRef = useRef<HTMLDivElement>(null);
  const state = loaded.data?.state;
  const policy = state ? policies?.policies.find((p) => p.name === state.policy.name)?.policy : undefined;

  /** Sends a message; shows the promotion's answer or its refusal, then refreshes. */
  const send = async (what: string, sub: string, body: Record<string, unknown>): Promise<boolean> => {
    setOutcome(undefined);
    let ok = false;
    try {
      const result = await request<MessageResult>(promotionPath(promotionId, sub), {
        token: session.token,
        method: 'POST',
        body: { ...body, requestId: newRequestId() },
      });
      setOutcome({ ok: true, text: `${what}: ${result.summary} (now ${statusWords(result.status)})` });
      ok = true;
    } catch (err) {
      setOutcome({ ok: false, error: err instanceof Error ? err : new Error(String(err)), what });
    }
    // Keyboard focus moves to the answer: the form it came from may be gone after the refresh.
    requestAnimationFrame(() => outcomeRef.current?.focus());
    await loaded.refresh();
    return ok;
  };

  if (!loaded.data) {
    return (
      <main id="main" tabIndex={-1}>
        <h1>Promotion {promotionId}</h1>
        {loaded.error ? <ErrorMessage error={loaded.error} prefix="Cannot show this promotion" /> : <p>Loading…</p>}
      </main>
    );
  }

  const audit = loaded.data.audit;
  if (!state) {
    return (
      <main id="main" tabIndex={-1}>
        <h1>Promotion {promotionId}</h1>
        <LiveStatus updatedAt={loaded.updatedAt} error={loaded.error} />
        <EvidenceLink promotionId={promotionId} token={session.token} />
        <p class="notice">Temporal no longer holds this promotion (past the namespace's retention); this is its archived, hash-chained audit trail.</p>
        {audit && <Timeline audit={audit} />}
      </main>
    );
  }

  const gates = decidableGates(state, session.actor, policy);
  const manager = managerActions(state, session.actor, policy);
  const { manifest } = state;

  return (
    <main id="main" tabIndex={-1} data-promotion-id={state.promotionId} data-status={state.status}>
      <header class="promotion-header">
        <h1>
          {manifest.model.name}@{manifest.model.version} → {manifest.target} <StatusBadge status={state.status} />
        </h1>
        <LiveStatus updatedAt={loaded.updatedAt} error={loaded.error} />
        <EvidenceLink promotionId={state.promotionId} token={session.token} />
      </header>

      <div ref={outcomeRef} tabIndex={-1} class="outcome" data-testid="outcome">
        {outcome?.ok && (
          <p class="notice notice-ok" role="status">
            {outcome.text}
          </p>
        )}
        {outcome && !outcome.ok && <ErrorMessage error={outcome.error} prefix={`${outcome.what} refused`} />}
      </div>

      <Summary state={state} />

      {gates.length > 0 && (
        <section aria-labelledby="decide-title" class="panel actions">
          <h2 id="decide-title">Your decision</h2>
          {gates.map((g) => (
            <DecisionForm key={g.gate.name} decidable={g} send={send} />
          ))}
        </section>
      )}

      {manager.holdsManagerRole && (manager.canExpedite || manager.forcibleGates.length > 0 || manager.waivableChecks.length > 0) && (
        <section aria-labelledby="manager-title" class="panel actions manager">
          <h2 id="manager-title">Manager actions</h2>
          <p class="muted">Overrides are break-glass: they need a justification and are flagged in the audit.</p>
          {manager.forcibleGates.length > 0 && (
            <OverrideForm kind="force_gate" label="Force a gate" targetLabel="Gate" targets={manager.forcibleGates} send={send} />
          )}
          {manager.waivableChecks.length > 0 && (
            <OverrideForm kind="waive_check" label="Waive a failed check" targetLabel="Check" targets={manager.waivableChecks} send={send} />
          )}
          {manager.canExpedite && <ExpediteForm send={send} />}
        </section>
      )}

      <section aria-labelledby="stages-title">
        <h2 id="stages-title">Stages and gates</h2>
        {state.stages.length === 0 && <p class="muted">No review stages (the promotion has not reached review, or the policy needs none).</p>}
        {state.stages.map((stage, index) => (
          <Stage key={stage.name} stage={stage} index={index} />
        ))}
      </section>

      <section aria-labelledby="checks-title">
        <h2 id="checks-title">Automated checks</h2>
        <Checks checks={state.checks} runs={state.checkRuns} />
        {state.waivers.length > 0 && (
          <>
            <h3>Waived checks</h3>
            <ul>
              {state.waivers.map((w) => (
                <li key={`${w.check}${w.at}`}>
                  <strong>{w.check}</strong> waived by {w.by} at <Timestamp at={w.at} />: {w.justification} <Digest value={w.evidenceDigest} />
                </li>
              ))}
            </ul>
          </>
        )}
      </section>

      <section aria-labelledby="manifest-title">
        <h2 id="manifest-title">Manifest</h2>
        <dl class="facts">
          <dt>Owner</dt>
          <dd>{manifest.model.owner}</dd>
          <dt>Description</dt>
          <dd>{manifest.model.description || <span class="muted">–</span>}</dd>
          <dt>Artifact</dt>
          <dd>
            <code>{manifest.artifact.uri}</code> ({manifest.artifact.format}), sha256 <Digest value={manifest.artifact.sha256} />
            {signatureText(manifest.artifact.signature)}
          </dd>
          <dt>Declared metrics</dt>
          <dd>
            {Object.entries(manifest.metrics ?? {})
              .map(([k, v]) => `${k} ${v}`)
              .join(', ') || <span class="muted">none</span>}
          </dd>
          <dt>Lineage</dt>
          <dd>
            commit {manifest.lineage?.codeCommit ?? '–'}, run {manifest.lineage?.runId ?? '–'}
            {manifest.lineage?.trainingData ? `, training data ${manifest.lineage.trainingData.uri} (${manifest.lineage.trainingData.classification})` : ''}
          </dd>
        </dl>
        <details>
          <summary>The whole manifest (JSON)</summary>
          <pre class="json">{JSON.stringify(manifest, null, 2)}</pre>
        </details>
      </section>

      {audit && <Timeline audit={audit} />}
    </main>
  );
}

function Summary({ state }: { state: PromotionDetail }) {
  return (
    <section aria-label="Summary" class="panel summary">
      <dl class="facts">
        <dt>Promotion</dt>
        <dd>
          <code>{state.promotionId}</code> —{' '}
          <a href={state.links.temporalUi} target="_blank" rel="noopener noreferrer" data-testid="temporal-link">
            workflow in the Temporal UI<span class="visually-hidden"> (opens in a new tab)</span>
          </a>
        </dd>
        <dt>Submitted</dt>
        <dd>
          by {state.submitter.id} at <Timestamp at={state.submittedAt} />
        </dd>
        <dt>Risk tier</dt>
        <dd>
          {state.effectiveTier}
          {state.declaredTier !== state.effectiveTier && ` (declared ${state.declaredTier}; raised: ${state.tierReasons.join('; ')})`}
        </dd>
        <dt>Policy</dt>
        <dd>
          {state.policy.name}@{state.policy.version} <Digest value={state.policy.digest} />
        </dd>
        <dt>Evidence digest</dt>
        <dd>
          <code class="digest-full" data-testid="evidence-digest">
            {state.evidenceDigest ?? '(not sealed yet: checks are running)'}
          </code>
        </dd>
        {state.expedited && (
          <>
            <dt>Expedited</dt>
            <dd data-testid="expedited">
              by {state.expedited.by} at <Timestamp at={state.expedited.at} />: {state.expedited.reason}
            </dd>
          </>
        )}
        {state.remediationDeadline && (state.status === 'CHECKS_FAILED' || state.status === 'CHANGES_REQUESTED') && (
          <>
            <dt>Revision due</dt>
            <dd>
              <TimeLeft at={state.remediationDeadline} label="revision due" /> (<Timestamp at={state.remediationDeadline} />)
            </dd>
          </>
        )}
        {state.outcome && (
          <>
            <dt>Outcome</dt>
            <dd>
              <StatusBadge status={state.outcome.status} /> by {state.outcome.by} at <Timestamp at={state.outcome.at} />: {state.outcome.reason}
            </dd>
          </>
        )}
      </dl>
    </section>
  );
}

type Send = (what: string, sub: string, body: Record<string, unknown>) => Promise<boolean>;

const DECISIONS = [
  { decision: 'approve', label: 'Approve', className: 'primary' },
  { decision: 'request_changes', label: 'Request changes', className: '' },
  { decision: 'reject', label: 'Reject', className: 'danger' },
] as const;

function DecisionForm({ decidable, send }: { decidable: DecidableGate; send: Send }) {
  const { gate, separationWarning } = decidable;
  const [comment, setComment] = useState('');
  const [fieldError, setFieldError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const commentRef = useRef<HTMLTextAreaElement>(null);
  const id = `decide-${gate.name}`;
  const approvals = validApprovals(gate);

  const decide = async (decision: (typeof DECISIONS)[number]['decision'], label: string) => {
    if (decision !== 'approve' && !comment.trim()) {
      setFieldError(`A comment is required to ${label.toLowerCase()}: say what is wrong, for the submitter and the audit.`);
      commentRef.current?.focus();
      return;
    }
    setFieldError(undefined);
    setBusy(true);
    const ok = await send(`${label} on gate ${gate.name}`, 'decisions', { gate: gate.name, decision, ...(comment.trim() ? { comment: comment.trim() } : {}) });
    setBusy(false);
    if (ok) setComment('');
  };

  return (
    <form class="decision" data-gate={gate.name} onSubmit={(e) => e.preventDefault()} aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>
        {gate.title} <span class="muted">({gate.name})</span>
      </h3>
      <p class="muted">
        {approvals}/{gate.quorum} approvals · deadline <TimeLeft at={gate.deadlineAt} label="deadline" />
        {gate.escalated && ' · escalated'}
      </p>
      {separationWarning && (
        <p class="notice notice-warn">
          Separation of duties: the promotion will refuse your decision ({separationWarning}).
        </p>
      )}
      <label for={`${id}-comment`}>
        Comment <span class="muted">(required to reject or request changes)</span>
      </label>
      <textarea
        id={`${id}-comment`}
        ref={commentRef}
        rows={3}
        value={comment}
        aria-invalid={fieldError ? 'true' : 'false'}
        aria-describedby={fieldError ? `${id}-error` : undefined}
        onInput={(e) => setComment((e.target as HTMLTextAreaElement).value)}
      />
      {fieldError && (
        <p id={`${id}-error`} class="field-error" role="alert">
          {fieldError}
        </p>
      )}
      <div class="buttons">
        {DECISIONS.map((d) => (
          <button key={d.decision} type="button" class={d.className} data-action={d.decision} disabled={busy} onClick={() => void decide(d.decision, d.label)}>
            {d.label}
          </button>
        ))}
      </div>
    </form>
  );
}

function OverrideForm({ kind, label, targetLabel, targets, send }: { kind: 'force_gate' | 'waive_check'; label: string; targetLabel: string; targets: string[]; send: Send }) {
  const [target, setTarget] = useState(targets[0] ?? '');
  const [justification, setJustification] = useState('');
  const [busy, setBusy] = useState(false);
  const id = `override-${kind}`;
  const chosen = targets.includes(target) ? target : (targets[0] ?? '');
  return (
    <form
      class="override"
      data-override={kind}
      aria-labelledby={`${id}-title`}
      onSubmit={(e) => {
        e.preventDefault();
        setBusy(true);
        void send(label, 'overrides', { kind, target: chosen, justification }).then((ok) => {
          setBusy(false);
          if (ok) setJustification('');
        });
      }}
    >
      <h3 id={`${id}-title`}>{label}</h3>
      <label for={`${id}-target`}>{targetLabel}</label>
      <select id={`${id}-target`} value={chosen} onChange={(e) => setTarget((e.target as HTMLSelectElement).value)}>
        {targets.map((t) => (
          <option key={t} value={t}>
            {t}
          </option>
        ))}
      </select>
      <label for={`${id}-justification`}>Justification (at least 10 characters)</label>
      <textarea id={`${id}-justification`} rows={2} value={justification} onInput={(e) => setJustification((e.target as HTMLTextAreaElement).value)} />
      <button type="submit" class="danger" disabled={busy} data-action={kind}>
        {label}
      </button>
    </form>
  );
}

function ExpediteForm({ send }: { send: Send }) {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="expedite"
      aria-labelledby="expedite-title"
      onSubmit={(e) => {
        e.preventDefault();
        setBusy(true);
        void send('Expedite', 'expedite', { reason }).then(() => setBusy(false));
      }}
    >
      <h3 id="expedite-title">Expedite</h3>
      <label for="expedite-reason">Reason (shortens the deadlines to the policy's expedited ones and notifies the reviewers)</label>
      <input id="expedite-reason" value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
      <button type="submit" disabled={busy} data-action="expedite">
        Expedite
      </button>
    </form>
  );
}

function Stage({ stage, index }: { stage: StageState; index: number }) {
  return (
    <div class="stage" data-stage={stage.name}>
      <h3>
        Stage {index + 1}: {stage.name} <span class={`tag tag-${stage.status}`}>{stage.status}</span>
      </h3>
      <TableBox label={`Gates of stage ${stage.name}`}>
        <table class="data gates">
          <TableHead columns={['Gate', 'Status', 'Roles', 'Opened', 'SLA', 'Deadline', 'Signatures']} />
          <tbody>
            {stage.gates.map((gate) => (
              <GateRow key={gate.name} gate={gate} />
            ))}
          </tbody>
        </table>
      </TableBox>
    </div>
  );
}

function GateRow({ gate }: { gate: GateState }) {
  const open = gate.status === 'open';
  const approvals = validApprovals(gate);
  return (
    <tr data-gate={gate.name} data-gate-status={gate.status}>
      <th scope="row">
        {gate.title}
        <div class="muted small">
          {gate.name} · quorum {approvals}/{gate.quorum}
        </div>
      </th>
      <td>
        <span class={`tag tag-${gate.status}`}>{gate.status.replace(/_/g, ' ')}</span>
        {gate.escalated && <span class="tag tag-warn">escalated</span>}
        {gate.forced && (
          <div class="small">
            forced by {gate.forced.by} at <Timestamp at={gate.forced.at} />: {gate.forced.justification}
          </div>
        )}
      </td>
      <td>
        {gate.roles.join(', ')}
        {gate.escalateTo.length > 0 && <div class="muted small">escalates to {gate.escalateTo.join(', ')}</div>}
      </td>
      <td>
        <Timestamp at={gate.openedAt} />
      </td>
      <td>{open ? <TimeLeft at={gate.slaAt} label="SLA" /> : <Timestamp at={gate.slaAt} />}</td>
      <td>{open ? <TimeLeft at={gate.deadlineAt} label="deadline" /> : <Timestamp at={gate.deadlineAt} />}</td>
      <td>
        {gate.signatures.length === 0 ? (
          <span class="muted">none yet</span>
        ) : (
          <ul class="plain signatures">
            {gate.signatures.map((s) => (
              <li key={s.requestId} class={s.void ? 'void' : ''} data-actor={s.actorId} data-decision={s.decision}>
                <strong>{s.actorId}</strong> {s.decision.replace(/_/g, ' ')} at <Timestamp at={s.at} />
                {s.void && ' (void: the evidence changed)'}
                {s.comment && <q>{s.comment}</q>} <span class="muted small">evidence</span> <Digest value={s.evidenceDigest} />
              </li>
            ))}
          </ul>
        )}
      </td>
    </tr>
  );
}

function Checks({ checks, runs }: { checks: CheckResult[]; runs: number }) {
  if (checks.length === 0) return <p class="muted">{runs === 0 ? 'The checks have not run yet.' : 'Checks are running…'}</p>;
  return (
    <TableBox label="Automated checks">
      <table class="data checks">
        <caption class="visually-hidden">Results of check run {runs}</caption>
        <TableHead columns={['Check', 'Result', 'Enforcement', 'Summary and findings', 'Took']} />
        <tbody>
          {checks.map((check) => (
            <tr key={check.name} data-check={check.name} data-check-status={check.status}>
              <th scope="row">{check.name}</th>
              <td>
                <span class={`tag tag-check-${check.status}`}>{check.status}</span>
              </td>
              <td>{check.required ? 'required' : 'advisory'}</td>
              <td>
                {check.summary}
                {check.findings.length > 0 && (
                  <details>
                    <summary>
                      {check.findings.length} finding{check.findings.length === 1 ? '' : 's'}
                    </summary>
                    <ul class="findings">
                      {check.findings.map((f, i) => (
                        <li key={i}>
                          <span class={`tag tag-severity-${f.severity}`}>{f.severity}</span> <code>{f.kind}</code> {f.message}
                          {f.location && <span class="muted"> — {f.location}</span>}
                        </li>
                      ))}
                    </ul>
                  </details>
                )}
              </td>
              <td>{check.durationMs} ms</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableBox>
  );
}

function Timeline({ audit }: { audit: AuditTimeline }) {
  return (
    <section aria-labelledby="timeline-title">
      <h2 id="timeline-title">Audit timeline</h2>
      <p class="muted small">
        From {audit.source === 'temporal' ? "the promotion's workflow in Temporal" : 'the hash-chained archive in PostgreSQL'}, with refused attempts.
      </p>
      <TableBox label="Audit timeline">
        <table class="data timeline" data-testid="timeline">
          <TableHead columns={['Time', 'Actor', 'Action', 'Gate', 'Comment or reason', 'Evidence']} />
          <tbody>
            {audit.events.map((event, i) => (
              <tr key={i} class={event.source === 'refusal' ? 'refusal' : ''} data-event={event.action}>
                <td>
                  <Timestamp at={event.at} />
                </td>
                <td>
                  {event.actor}
                  {event.via === 'signal' ? (
                    <span class="badge signal" title="Sent as a Temporal Signal, not through the API; the caller's Temporal identity as Temporal recorded it" data-testid="via-signal">
                      {' '}via Temporal Signal ({event.temporalIdentity ?? 'identity not recorded'})
                    </span>
                  ) : null}
                </td>
                <td>{event.action.replace(/_/g, ' ')}</td>
                <td>{event.gate ?? ''}</td>
                <td>{event.comment ?? ''}</td>
                <td>{event.evidenceDigest ? <Digest value={event.evidenceDigest} /> : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableBox>
    </section>
  );
}

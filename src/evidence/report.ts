// report.html of an evidence pack: the promotion's evidence under the EU AI Act Annex IV
// technical-documentation headings, each naming the ISO/IEC 42001 Annex A controls it evidences.
// Every value is HTML-escaped: submitters wrote the manifest, and may be hostile.
import type { ChainVerification } from '../audit/chain';
import type { CheckEvidence, DecisionEvidence, ModelCardEvidence, PromotionFacts } from './contents';

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(value: unknown): string {
  const text = typeof value === 'string' ? value : value === undefined || value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return text.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** What the report is rendered from. */
export interface ReportInput {
  facts: PromotionFacts;
  modelCard: ModelCardEvidence;
  checks: CheckEvidence[];
  decisions: DecisionEvidence[];
  policy: { name: string; version: string; recordedDigest?: string; currentDigest?: string; digestMatches?: boolean; note: string };
  verification: ChainVerification & { source: string };
  /** The promotion's audit events as (time, actor, action) rows. */
  events: Array<{ at: string; actor: string; action: string }>;
  exportedAt: string;
  exportedBy: string;
}

/** One section of the report: an Annex IV heading and the ISO/IEC 42001 Annex A controls its content evidences. */
interface Section {
  heading: string;
  controls: string;
  body: string;
}

const table = (headers: string[], rows: unknown[][]): string =>
  rows.length === 0
    ? '<p class="none">None recorded.</p>'
    : `<table><thead><tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
        .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
        .join('')}</tbody></table>`;

const facts = (pairs: Array<[string, unknown]>): string =>
  `<dl>${pairs
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`)
    .join('')}</dl>`;

const cardField = (card: ModelCardEvidence, field: string): unknown => (card.kind === 'inline' ? card.fields[field] : undefined);

function sections(r: ReportInput): Section[] {
  const f = r.facts;
  const card = r.modelCard;
  const cardNote =
    card.kind === 'inline' ? '' : card.kind === 'uri' ? `<p>Model card by reference: <code>${escapeHtml(card.uri)}</code> (${escapeHtml(card.note)}).</p>` : `<p>${escapeHtml(card.note)}</p>`;
  const metricRows = Object.entries(f.metrics ?? {}).map(([k, v]) => [k, v]);
  const performance = r.checks.filter((c) => c.name === 'performance' || c.name === 'fairness');
  const findingRows = r.checks.flatMap((c) => c.findings.map((x) => [c.name, x.severity, x.kind, x.message, x.location]));
  const lifecycle = r.events.filter((e) => /^(submitted|revised|checks_completed|approvals_voided|override_|expedited|deploying|deployed|rejected|withdrawn|expired|superseded|deploy_failed|continued_as_new)/.test(e.action));
  return [
    {
      heading: '1. General description of the AI system',
      controls: 'A.6.2.2 AI system requirements and specification; A.8.2 system documentation and information for users',
      body:
        facts([
          ['Promotion', f.promotionId],
          ['Model', f.model ? `${f.model.name} ${f.model.version}` : undefined],
          ['Description', f.model?.description],
          ['Accountable owner', f.model?.owner],
          ['Target environment', f.target],
          ['Status', f.status],
          ['Intended use', cardField(card, 'intendedUse')],
          ['Out-of-scope use', cardField(card, 'outOfScopeUse')],
          ['Contacts', cardField(card, 'contacts')],
          ['License', cardField(card, 'license')],
        ]) + cardNote,
    },
    {
      heading: '2. Detailed description of the elements of the AI system and of the process for its development',
      controls: 'A.6.2.3 design and development; A.6.2.7 AI system technical documentation; A.7.2–A.7.6 data for AI systems (acquisition, quality, provenance, preparation)',
      body: facts([
        ['Artifact', f.artifact ? `${f.artifact.format} ${f.artifact.uri}` : undefined],
        ['Artifact sha256', f.artifact?.sha256],
        ['Code commit', f.lineage?.codeCommit],
        ['Training run', f.lineage?.runId],
        ['Parent version', f.lineage?.parentVersion],
        ['Training data', f.lineage?.trainingData],
        ['Training data (model card)', cardField(card, 'trainingData')],
        ['Evaluation data (model card)', cardField(card, 'evaluationData')],
      ]),
    },
    {
      heading: '3. Monitoring, functioning and control of the AI system',
      controls: 'A.9.2 processes for responsible use; A.9.3 objectives for responsible use; A.6.2.6 operation and monitoring',
      body:
        facts([
          ['Human oversight (model card)', cardField(card, 'humanOversight')],
          ['Limitations (model card)', cardField(card, 'limitations')],
          ['Submitted', `${f.submittedAt} by ${f.submitter}`],
          ['Evidence digest', f.evidenceDigest],
          ['Outcome', f.outcome ? `${f.outcome.status} at ${f.outcome.at} by ${f.outcome.by}: ${f.outcome.reason}` : undefined],
        ]) +
        '<h3>Decisions (human oversight of the promotion)</h3>' +
        table(
          ['time', 'actor', 'roles', 'gate', 'decision', 'comment', 'evidence digest'],
          r.decisions.map((d) => [d.at, d.actor, d.roles?.join(', '), d.gate, d.void ? `${d.decision} (void: evidence changed)` : d.decision, d.comment, d.evidenceDigest]),
        ),
    },
    {
      heading: '4. Appropriateness of the performance metrics for the specific AI system',
      controls: 'A.6.2.4 AI system verification and validation; A.7.4 quality of data for AI systems',
      body:
        '<h3>Declared metrics</h3>' +
        table(['metric', 'value'], metricRows) +
        '<h3>Performance and fairness checks</h3>' +
        table(['check', 'status', 'summary'], performance.map((c) => [c.name, c.status, c.summary ?? c.note])),
    },
    {
      heading: '5. Risk management system',
      controls: 'A.5.2 AI system impact assessment process; A.5.3 documentation of impact assessments; A.6.1.2 objectives for responsible development',
      body:
        facts([
          ['Declared risk tier', f.declaredTier],
          ['Effective risk tier', f.effectiveTier],
          ['Tier reasons', f.tierReasons.join('; ')],
          ['Risk management (model card)', cardField(card, 'riskManagement')],
          ['Ethical considerations (model card)', cardField(card, 'ethicalConsiderations')],
        ]) +
        '<h3>Automated checks</h3>' +
        table(['check', 'status', 'required', 'summary'], r.checks.map((c) => [c.name, c.status, c.required, c.summary ?? c.note])) +
        '<h3>Findings</h3>' +
        table(['check', 'severity', 'kind', 'message', 'location'], findingRows),
    },
    {
      heading: '6. Relevant changes made to the system through its lifecycle',
      controls: 'A.6.2.5 AI system deployment; A.6.2.8 AI system recording of event logs',
      body:
        facts([
          ['Deployment', f.deployment ? `${f.deployment.environment} at ${f.deployment.at}${f.deployment.status ? ` (${f.deployment.status})` : ''}` : undefined],
          ['Previous version', f.deployment?.previousVersion],
          ['Approval valid until', f.approval?.validUntil],
          [
            'Audit chain',
            r.verification.ok
              ? `intact (${r.verification.events} events, head ${r.verification.head}; from ${r.verification.source})`
              : `BROKEN at event ${r.verification.firstBrokenSeq}: ${r.verification.reason}`,
          ],
        ]) + table(['time', 'actor', 'event'], lifecycle.map((e) => [e.at, e.actor, e.action])),
    },
    {
      heading: '7. Harmonised standards and other specifications applied',
      controls: 'A.2.2 AI policy; A.6.1.3 processes for responsible AI system design and development',
      body:
        facts([
          ['Governing policy', `${r.policy.name} ${r.policy.version}`],
          ['Policy digest (recorded)', r.policy.recordedDigest],
          ['Policy digest (loaded now)', r.policy.currentDigest],
          ['Policy text', r.policy.note],
        ]) +
        '<p>No harmonised standard is claimed. This pack evidences the ISO/IEC 42001 Annex A controls named under each heading; it does not certify conformity with them.</p>',
    },
    {
      heading: '8. EU declaration of conformity',
      controls: 'A.8.5 information for interested parties',
      body: '<p>Not applicable: Modelgate does not issue an EU declaration of conformity. Where one is required, the provider keeps it and references this pack.</p>',
    },
    {
      heading: '9. Post-market monitoring',
      controls: 'A.6.2.6 AI system operation and monitoring; A.8.4 communication of incidents',
      body: facts([
        ['Post-market monitoring (model card)', cardField(card, 'postMarketMonitoring')],
        ['Approval valid until (re-certification due)', f.approval?.validUntil],
      ]),
    },
  ];
}

const STYLE = `body{font-family:sans-serif;font-size:10pt;margin:1.5em;color:#111}h1{font-size:16pt}h2{font-size:12pt;margin-top:1.6em;border-bottom:1px solid #999}
h3{font-size:10.5pt}p.controls{font-size:9pt;color:#444}table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #bbb;padding:2px 4px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
dl{display:grid;grid-template-columns:14em 1fr;gap:2px 8px}dt{font-weight:bold}dd{margin:0;overflow-wrap:anywhere;white-space:pre-wrap}code{word-break:break-all}.none{color:#666}`;

/**
 * Renders report.html: a standalone page (no script, no remote resource: its Content-Security-Policy
 * forbids fetching anything) that Chromium prints to report.pdf.
 */
export function renderReport(r: ReportInput): string {
  const title = `Evidence pack ${r.facts.promotionId}`;
  const body = sections(r)
    .map((s) => `<section><h2>${escapeHtml(s.heading)}</h2><p class="controls">ISO/IEC 42001 Annex A controls this section evidences: ${escapeHtml(s.controls)}</p>${s.body}</section>`)
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><h1>${escapeHtml(title)}</h1>
<p>Technical documentation of a model promotion, under the headings of the EU AI Act Annex IV. Exported ${escapeHtml(r.exportedAt)} by ${escapeHtml(r.exportedBy)} from ${escapeHtml(r.facts.source)}. The files of this pack are listed with their sha256 in SHA256SUMS.</p>
${body}
</body></html>
`;
}

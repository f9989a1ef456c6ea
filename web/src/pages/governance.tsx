// Governance at a glance: promotions by status, median time to decision per tier and per gate,
// the most frequent failing checks and rejection reasons — as charts, each with its data table.
import { request } from '../api';
import { type Bar, BarChart } from '../charts';
import { DataTable, LiveStatus, Timestamp } from '../components';
import { formatDuration, statusWords } from '../format';
import { usePoll } from '../poll';
import type { Session } from '../session';
import type { GovernanceStats } from '../types';

const WINDOWS = [7, 30, 90, 365];
const STATUS_COLORS: Record<string, string> = {
  VALIDATING: '#60a5fa',
  CHECKS_FAILED: '#f59e0b',
  IN_REVIEW: '#d97706',
  CHANGES_REQUESTED: '#fbbf24',
  APPROVED: '#34d399',
  DEPLOYING: '#3b82f6',
  DEPLOYED: '#059669',
  REJECTED: '#dc2626',
  EXPIRED: '#9ca3af',
  WITHDRAWN: '#6b7280',
  SUPERSEDED: '#a1a1aa',
  DEPLOY_FAILED: '#991b1b',
};

export function GovernancePage({ session, query }: { session: Session; query: URLSearchParams }) {
  const days = WINDOWS.includes(Number(query.get('days'))) ? Number(query.get('days')) : 90;
  const stats = usePoll(() => request<GovernanceStats>(`/v1/governance?days=${days}`, { token: session.token }), `governance:${days}`);
  const data = stats.data;

  return (
    <main id="main" tabIndex={-1}>
      <h1>Governance at a glance</h1>
      <form class="filters" aria-label="Period" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="governance-days">Decisions, checks and rejections of promotions submitted in the last</label>
          <select id="governance-days" value={String(days)} onChange={(e) => (location.hash = `#/governance?days=${(e.target as HTMLSelectElement).value}`)}>
            {WINDOWS.map((d) => (
              <option key={d} value={String(d)}>
                {d} days
              </option>
            ))}
          </select>
        </div>
      </form>
      <LiveStatus updatedAt={stats.updatedAt} error={stats.error} />
      {data && <GovernanceCharts data={data} />}
    </main>
  );
}

function GovernanceCharts({ data }: { data: GovernanceStats }) {
  const archive = data.archive;
  const statusBars: Bar[] = data.promotionsByStatus.map((s) => ({ label: statusWords(s.status), value: s.count, series: s.status, title: `${s.status}: ${s.count}` }));
  const tierBars: Bar[] = archive.timeToDecisionByTier.map((t) => ({
    label: t.tier,
    value: t.medianSeconds,
    tick: t.p90Seconds,
    title: `${t.tier}: median ${formatDuration(t.medianSeconds)} over ${t.count} decisions (${t.approved} approved, ${t.rejected} rejected)`,
  }));
  const gateBars: Bar[] = archive.timeToDecisionByGate.map((g) => ({
    label: g.gate,
    value: g.medianSeconds,
    tick: g.p90Seconds,
    title: `${g.gate}: median ${formatDuration(g.medianSeconds)} over ${g.count} decisions`,
  }));
  const checkBars: Bar[] = archive.failingChecks.flatMap((c) => [
    { label: c.check, value: c.failed, series: 'fail', title: `${c.check}: failed in ${c.failed} runs` },
    { label: c.check, value: c.errored, series: 'error', title: `${c.check}: could not run in ${c.errored} runs` },
  ]);
  const reasonLabel = (r: GovernanceStats['archive']['rejectionReasons'][number]) => {
    const text = r.reason.length > 32 ? `${r.reason.slice(0, 31)}…` : r.reason;
    return r.kind === 'deadline' ? `deadline: ${r.gates.join(', ')}` : text;
  };
  const reasonBars: Bar[] = archive.rejectionReasons.map((r) => ({
    label: reasonLabel(r),
    value: r.count,
    title: `${r.reason} (${r.kind}${r.gates.length ? `, gate ${r.gates.join(', ')}` : ''}): ${r.count}`,
  }));
  const total = data.promotionsByStatus.reduce((n, s) => n + s.count, 0);

  return (
    <>
      <p class="lead">
        {total} promotions known to Temporal; {archive.promotions} closed promotions submitted since <Timestamp at={archive.since} /> in the audit archive
        (figures computed at <Timestamp at={archive.computedAt} />).
      </p>
      <div class="charts">
        <BarChart
          id="by-status"
          title="Promotions by status"
          description="every promotion Temporal holds now (running, and closed ones within the namespace's retention)"
          bars={statusBars}
          valueLabel="promotions"
          counts
          colors={STATUS_COLORS}
          empty="No promotion yet."
          table={<DataTable head={['Status', 'Promotions']} rows={data.promotionsByStatus.map((s) => ({ key: s.status, cells: [statusWords(s.status), s.count] }))} />}
        />
        <BarChart
          id="decision-by-tier"
          title="Median time to decision per risk tier"
          description="submission to approval (by reviewers or the policy) or rejection; the dark tick is the 90th percentile"
          bars={tierBars}
          valueLabel="time to decision"
          formatValue={formatDuration}
          empty="No decided promotion in the archive for this period."
          table={<DurationTable rows={archive.timeToDecisionByTier.map((t) => ({ key: t.tier, ...t, extra: `${t.approved} approved, ${t.rejected} rejected` }))} head="Tier" />}
        />
        <BarChart
          id="decision-by-gate"
          title="Median time to decision per gate"
          description="a gate opening to each reviewer's decision on it; the dark tick is the 90th percentile"
          bars={gateBars}
          valueLabel="time to decision"
          formatValue={formatDuration}
          empty="No reviewer decision in the archive for this period."
          table={
            <DurationTable
              rows={archive.timeToDecisionByGate.map((g) => ({
                key: g.gate,
                ...g,
                extra: `${g.approvals} approvals, ${g.rejections} rejections, ${g.changeRequests} change requests`,
              }))}
              head="Gate"
            />
          }
        />
        <BarChart
          id="failing-checks"
          title="Most frequent failing checks"
          description="check runs that failed, or could not run, in the archived promotions"
          bars={checkBars}
          valueLabel="check runs"
          counts
          colors={{ fail: '#dc2626', error: '#f59e0b' }}
          stacked
          empty="No check failed in the archived promotions of this period."
          table={
            <DataTable
              head={['Check', 'Failed runs', 'Could not run', 'Promotions']}
              rows={archive.failingChecks.map((c) => ({ key: c.check, cells: [c.check, c.failed, c.errored, c.promotions] }))}
            />
          }
        />
        <BarChart
          id="rejection-reasons"
          title="Most frequent rejection reasons"
          description="reviewers' comments on rejection, gates whose hard deadline passed, and other reasons"
          bars={reasonBars}
          valueLabel="rejections"
          counts
          empty="No rejection in the archived promotions of this period."
          table={
            <DataTable
              head={['Reason', 'Kind', 'Gates', 'Rejections', 'Last']}
              rows={archive.rejectionReasons.map((r) => ({
                key: `${r.kind}${r.reason}`,
                cells: [r.reason, r.kind, r.gates.join(', '), r.count, <Timestamp at={r.lastAt} />],
              }))}
            />
          }
        />
      </div>
      <section aria-labelledby="coverage-title" class="coverage">
        <h2 id="coverage-title">What the figures cover</h2>
        <ul>
          <li>
            <strong>By status</strong>: counted by Temporal visibility on the <code>PromotionStatus</code> search attribute — every running promotion, and closed
            ones until the namespace's retention removes them.
          </li>
          <li>
            <strong>Decision times, failing checks, rejection reasons</strong>: computed from the hash-chained audit trail archived in PostgreSQL when a promotion
            closes, for promotions submitted in the chosen period, recomputed at most every 15 s. Promotions still running are not counted until they
            close.
          </li>
        </ul>
      </section>
    </>
  );
}

function DurationTable({ rows, head }: { rows: Array<{ key: string; count: number; medianSeconds: number; p90Seconds: number; extra: string }>; head: string }) {
  return (
    <DataTable
      head={[head, 'Median', '90th percentile', 'Decisions', 'Of which']}
      rows={rows.map((r) => ({ key: r.key, cells: [r.key, formatDuration(r.medianSeconds), formatDuration(r.p90Seconds), r.count, r.extra] }))}
    />
  );
}

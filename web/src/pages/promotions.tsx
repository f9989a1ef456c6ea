// All promotions, with filters (status, model, target, tier) kept in the address.
import { useState } from 'preact/hooks';
import { request } from '../api';
import { LiveStatus, StatusBadge, TableBox, TableHead, Timestamp } from '../components';
import { statusWords } from '../format';
import { usePoll } from '../poll';
import { promotionHref } from '../routes';
import type { Session } from '../session';
import { PROMOTION_STATUSES, type PromotionList } from '../types';

const FILTERS = ['status', 'model', 'target', 'tier'] as const;
/** The risk tiers (the manifest schema's RISK_TIERS; that module is not bundled, it carries zod). */
const TIERS = ['low', 'medium', 'high'];

export function PromotionsPage({ session, query }: { session: Session; query: URLSearchParams }) {
  const filters = Object.fromEntries(FILTERS.map((f) => [f, query.get(f) ?? ''])) as Record<(typeof FILTERS)[number], string>;
  const [pages, setPages] = useState<string[]>([]);
  const pageToken = pages[pages.length - 1];
  const apiQuery = new URLSearchParams({ pageSize: '50' });
  for (const f of FILTERS) if (filters[f]) apiQuery.set(f, filters[f]);
  if (pageToken) apiQuery.set('pageToken', pageToken);
  const list = usePoll(() => request<PromotionList>(`/v1/promotions?${apiQuery}`, { token: session.token }), `promotions:${apiQuery}`);

  const apply = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const next = new URLSearchParams();
    for (const f of FILTERS) {
      const value = String(form.get(f) ?? '').trim();
      if (value) next.set(f, value);
    }
    setPages([]);
    location.hash = `#/promotions${next.size ? `?${next}` : ''}`;
  };

  return (
    <main id="main" tabIndex={-1}>
      <h1>All promotions</h1>
      <form class="filters" onSubmit={apply} aria-label="Filter promotions" key={query.toString()}>
        <div class="field">
          <label for="filter-status">Status</label>
          <select id="filter-status" name="status" value={filters.status}>
            <option value="">any</option>
            {PROMOTION_STATUSES.map((s) => (
              <option key={s} value={s}>
                {statusWords(s)}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="filter-model">Model</label>
          <input id="filter-model" name="model" value={filters.model} autocomplete="off" />
        </div>
        <div class="field">
          <label for="filter-target">Target</label>
          <input id="filter-target" name="target" value={filters.target} autocomplete="off" placeholder="e.g. production" />
        </div>
        <div class="field">
          <label for="filter-tier">Tier</label>
          <select id="filter-tier" name="tier" value={filters.tier}>
            <option value="">any</option>
            {TIERS.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </div>
        <div class="field buttons">
          <button type="submit" class="primary">
            Apply filters
          </button>
          <a class="button" href="#/promotions">
            Clear
          </a>
        </div>
      </form>
      <LiveStatus updatedAt={list.updatedAt} error={list.error} />
      {list.data && list.data.promotions.length === 0 && <p class="empty-state">No promotion matches these filters.</p>}
      {list.data && list.data.promotions.length > 0 && (
        <TableBox label="Promotions">
          <table class="data" data-testid="promotions">
            <caption class="visually-hidden">Promotions, most recent first</caption>
            <TableHead columns={['Promotion', 'Status', 'Tier', 'Waiting on', 'Submitted by', 'Started', 'Closed']} />
            <tbody>
              {list.data.promotions.map((p) => (
                <tr key={p.promotionId} data-promotion-id={p.promotionId}>
                  <td>
                    <a href={promotionHref(p.promotionId)}>
                      {p.model}@{p.version} → {p.target}
                    </a>
                  </td>
                  <td>
                    <StatusBadge status={p.status} />
                  </td>
                  <td>{p.riskTier}</td>
                  <td>{p.pendingGates.join(', ') || <span class="muted">–</span>}</td>
                  <td>{p.submitter}</td>
                  <td>
                    <Timestamp at={p.startedAt} />
                  </td>
                  <td>
                    <Timestamp at={p.closedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableBox>
      )}
      <nav class="pager" aria-label="Pages">
        <button type="button" disabled={pages.length === 0} onClick={() => setPages(pages.slice(0, -1))}>
          Previous page
        </button>
        <button type="button" disabled={!list.data?.nextPageToken} onClick={() => list.data?.nextPageToken && setPages([...pages, list.data.nextPageToken])}>
          Next page
        </button>
      </nav>
    </main>
  );
}

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
  const filters = Object.fromEntries(FILTERS.map((f) => [f, query.get(f) ?? ''])) as Filters;
  const [pages, setPages] = useState<string[]>([]);
  const pageToken = pages[pages.length - 1];
  const apiQuery = new URLSearchParams({ pageSize: '50' });
  for (const f of FILTERS) if (filters[f]) apiQuery.set(f, filters[f]);
  if (pageToken) apiQuery.set('pageToken', pageToken);
  const list = usePoll(() => request<PromotionList>(`/v1/promotions?${apiQuery}`, { token: session.token }), `promotions:${apiQuery}`);

  return (
    <main id="main" tabIndex={-1}>
      <h1>All promotions</h1>
      <FilterForm key={query.toString()} initial={filters} onApply={() => setPages([])} />
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

type Filters = Record<(typeof FILTERS)[number], string>;

/**
 * The filter form. Its fields hold what the user types (a poll's re-render must not reset them)
 * and are applied to the address on submit; a new address mounts a new form (`key`).
 */
function FilterForm({ initial, onApply }: { initial: Filters; onApply: () => void }) {
  const [values, setValues] = useState<Filters>(initial);
  const change = (event: Event) => {
    const { name, value } = event.currentTarget as HTMLInputElement | HTMLSelectElement;
    setValues((current) => ({ ...current, [name]: value }));
  };
  const apply = (event: Event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const f of FILTERS) {
      const value = values[f].trim();
      if (value) next.set(f, value);
    }
    onApply();
    location.hash = `#/promotions${next.size ? `?${next}` : ''}`;
  };
  return (
    <form class="filters" onSubmit={apply} aria-label="Filter promotions">
      <div class="field">
        <label for="filter-status">Status</label>
        <select id="filter-status" name="status" value={values.status} onChange={change}>
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
        <input id="filter-model" name="model" value={values.model} onInput={change} autocomplete="off" />
      </div>
      <div class="field">
        <label for="filter-target">Target</label>
        <input id="filter-target" name="target" value={values.target} onInput={change} autocomplete="off" placeholder="e.g. production" />
      </div>
      <div class="field">
        <label for="filter-tier">Tier</label>
        <select id="filter-tier" name="tier" value={values.tier} onChange={change}>
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
  );
}

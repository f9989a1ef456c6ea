// Small pieces shared by the pages.
import type { ComponentChildren } from 'preact';
import { ApiRequestError } from './api';
import { formatTimestamp, statusWords, timeLeft } from './format';
import { useNow } from './poll';

const STATUS_TONE: Record<string, string> = {
  VALIDATING: 'info',
  DEPLOYING: 'info',
  IN_REVIEW: 'warn',
  CHECKS_FAILED: 'warn',
  CHANGES_REQUESTED: 'warn',
  APPROVED: 'good',
  DEPLOYED: 'good',
  REJECTED: 'bad',
  DEPLOY_FAILED: 'bad',
  EXPIRED: 'muted',
  WITHDRAWN: 'muted',
  SUPERSEDED: 'muted',
};

/** Tone (colour family) of a lifecycle status, for badges and charts. */
export const statusTone = (status: string | undefined) => STATUS_TONE[status ?? ''] ?? 'muted';

/** A lifecycle status as a badge (text, not colour alone, carries the meaning). */
export function StatusBadge({ status }: { status: string | undefined }) {
  return (
    <span class={`badge badge-${statusTone(status)}`} data-status={status}>
      {statusWords(status)}
    </span>
  );
}

/** A timestamp in a `<time>` element. */
export function Timestamp({ at }: { at: string | undefined }) {
  return at ? <time dateTime={at}>{formatTimestamp(at)}</time> : <span>–</span>;
}

/** Time left until a deadline, counting down every second; red once overdue. */
export function TimeLeft({ at, label }: { at: string | undefined; label?: string }) {
  const now = useNow(1_000);
  if (!at) return <span class="muted">no deadline</span>;
  const left = timeLeft(at, now);
  return (
    <span class={left.overdue ? 'time-left overdue' : 'time-left'} data-deadline={at} title={`${label ?? 'due'} ${formatTimestamp(at)}`}>
      {left.text}
    </span>
  );
}

/** "Live — updated 14:05:09", or the refresh's problem. */
export function LiveStatus({ updatedAt, error }: { updatedAt?: Date; error?: Error }) {
  return (
    <p class="live-status" data-updated-at={updatedAt?.toISOString()}>
      {error ? (
        <span class="error-text">Not refreshed: {error.message}</span>
      ) : updatedAt ? (
        <>
          <span class="live-dot" aria-hidden="true" /> Live, refreshed every 3 s — last at {formatTimestamp(updatedAt.toISOString()).slice(11)}
        </>
      ) : (
        'Loading…'
      )}
    </p>
  );
}

/** An error from the API as a message: what was refused and why (the API's reason). */
export function ErrorMessage({ error, prefix }: { error: Error; prefix?: string }) {
  const code = error instanceof ApiRequestError ? ` (${error.status} ${error.code})` : '';
  return (
    <p class="notice notice-error" role="alert">
      <strong>{prefix ?? 'Error'}:</strong> {error.message}
      <span class="muted">{code}</span>
    </p>
  );
}

/** A table that scrolls sideways inside its box on narrow screens, never the page. */
export function TableBox({ children, label }: { children: ComponentChildren; label: string }) {
  return (
    <div class="table-box" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

/** A short digest with the whole one in the tooltip and for copying. */
export function Digest({ value }: { value: string | undefined }) {
  if (!value) return <span class="muted">–</span>;
  return (
    <code class="digest" title={value}>
      {value.slice(0, 12)}…
    </code>
  );
}

/** A plain data table: a header row and rows of cells (the charts' data tables). */
export function DataTable({ head, rows }: { head: string[]; rows: Array<{ key: string; cells: ComponentChildren[] }> }) {
  return (
    <table class="data compact">
      <TableHead columns={head} />
      <tbody>
        {rows.map((row) => (
          <tr key={row.key}>
            {row.cells.map((cell, i) => (
              <td key={i}>{cell}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The header row of a table: one column header per name. */
export function TableHead({ columns }: { columns: string[] }) {
  return (
    <thead>
      <tr>
        {columns.map((c) => (
          <th key={c} scope="col">
            {c}
          </th>
        ))}
      </tr>
    </thead>
  );
}

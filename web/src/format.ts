// Formatting of durations and deadlines (pure; unit-tested in test/dashboard/format.test.ts).

/** A duration in seconds, readable: `45s`, `12m`, `4h 05m`, `2d 3h`. */
export function formatDuration(totalSeconds: number): string {
  if (!Number.isFinite(totalSeconds)) return '–';
  const seconds = Math.max(0, Math.round(totalSeconds));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h ${String(minutes % 60).padStart(2, '0')}m`;
  const days = Math.floor(hours / 24);
  return `${days}d ${hours % 24}h`;
}

/** How long until `at` from `nowMs`: `3h 59m left`, or `overdue by 5m`. */
export function timeLeft(at: string, nowMs: number): { text: string; overdue: boolean; seconds: number } {
  const seconds = (Date.parse(at) - nowMs) / 1000;
  if (Number.isNaN(seconds)) return { text: '–', overdue: false, seconds: Number.NaN };
  if (seconds < 0) return { text: `overdue by ${formatDuration(-seconds)}`, overdue: true, seconds };
  return { text: `${formatDuration(seconds)} left`, overdue: false, seconds };
}

/** A timestamp as `2026-11-22 14:05:09` in local time (sortable, unambiguous). */
export function formatTimestamp(iso: string | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** A lifecycle status as words: `CHANGES_REQUESTED` → `changes requested`. */
export function statusWords(status: string | undefined): string {
  return (status ?? 'unknown').toLowerCase().replace(/_/g, ' ');
}

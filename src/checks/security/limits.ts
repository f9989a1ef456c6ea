// The scan's bounds live in src/shared (the policy's check settings default to them); the
// helpers that keep scanned values safe in findings live here.
export { DEFAULT_SCAN_LIMITS, type ScanLimits, resolveScanLimits } from '../../shared/scan-limits';

/**
 * A value from a scanned file made safe for a finding's text: cut to `max` characters and
 * JSON-quoted, so control characters, quotes and terminal escapes never reach a report raw.
 */
export function quoteForFinding(value: string, max = 200): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(cut);
}

/** A value from a scanned file bounded for a finding's field (`global`, `member`): cut to `max` characters, control characters escaped. */
export function boundForField(value: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const escaped = value.slice(0, max + 1).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return escaped.length > max ? `${escaped.slice(0, max)}…` : escaped;
}

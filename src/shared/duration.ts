/** Milliseconds per unit of a policy duration string. */
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const DURATION_PATTERN = /^(?:(\d+(?:\.\d+)?)(ms|s|m|h|d|w))+$/;
const PART_PATTERN = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;

/**
 * Parses a policy duration such as `"72h"`, `"30m"`, `"1d12h"` or `"500ms"` into milliseconds.
 * Workflow-safe (no dependencies).
 *
 * @returns the duration in milliseconds, or `undefined` when the string is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!DURATION_PATTERN.test(trimmed)) return undefined;
  let total = 0;
  for (const match of trimmed.matchAll(PART_PATTERN)) {
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
  }
  return total > 0 ? Math.round(total) : undefined;
}

/** Parses a duration that is known to be valid (validated at policy load). */
export function durationMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  return ms;
}

/**
 * How text read from a submitter's file may appear in a check result. Results are shown to every
 * signed-in user and kept in the workflow history, so nothing read is echoed as is: names are
 * shown only when they look like names, values are described by type and length, parser errors
 * by the kind of problem and its position.
 */
import { EVIDENCE_LIMITS } from './limits';

/** What a column, key or field name must look like to be shown (JSON-quoted). */
const NAME_PATTERN = /^[\p{L}\p{N}_ .()-]{1,64}$/u;
/** What a cell value must look like to be shown (JSON-quoted): a short plain label. */
const LABEL_PATTERN = /^[A-Za-z0-9_.-]{1,16}$/;
/** A finite decimal number as JavaScript prints it. */
const NUMBER_PATTERN = /^-?\d{1,21}(?:\.\d{1,21})?(?:e[-+]\d{1,3})?$/;
/** Characters escaped in reported text: controls, format (bidi, zero-width), separators, private use, backslash. */
const UNSAFE_CHARACTERS = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}\\]/gu;

/**
 * A column, JSONL key or model-card field name for a location: itself when it looks like a name
 * (letters, digits, `_ .()-`, at most 64), otherwise `<what N>` (its 1-based position).
 */
export function safeName(name: string, index: number, what = 'column'): string {
  return NAME_PATTERN.test(name) ? name : `<${what} ${index + 1}>`;
}

/** A name for a message: {@link safeName}, JSON-quoted when it is the name itself. */
export function describeName(name: string, index: number, what = 'column'): string {
  return NAME_PATTERN.test(name) ? JSON.stringify(name) : `<${what} ${index + 1}>`;
}

/** The header of an evaluation file for a message: at most {@link EVIDENCE_LIMITS.listedColumns} names. */
export function describeColumns(names: readonly string[]): string {
  const shown = names.slice(0, EVIDENCE_LIMITS.listedColumns).map((n, i) => describeName(n, i));
  return boundedList(shown, names.length);
}

/**
 * A cell for a message, without its content: a number or a short plain label (at most 16 of
 * `A-Z a-z 0-9 _ . -`) is shown JSON-quoted; anything else as its type and length.
 */
export function describeValue(value: string | number | boolean | null): string {
  if (value === null) return 'an empty value';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return NUMBER_PATTERN.test(String(value)) ? String(value) : 'a non-finite number';
  if (LABEL_PATTERN.test(value)) return JSON.stringify(value);
  return `(a ${value.length}-character text)`;
}

/**
 * Text read from a file that a result must keep (a group name): control, format and separator
 * characters escaped as `\u{…}`, cut to {@link EVIDENCE_LIMITS.reportedTextChars} characters
 * (marked with `…`).
 */
export function reportedText(text: string): string {
  const max = EVIDENCE_LIMITS.reportedTextChars;
  const head = text.length > max * 2 ? text.slice(0, max * 2) : text;
  const escaped = head.replace(UNSAFE_CHARACTERS, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
  const chars = [...escaped];
  return chars.length > max || head.length < text.length ? `${chars.slice(0, max - 1).join('')}…` : escaped;
}

/** `a, b, c` or `a, b, c and 7 more` when `total` exceeds the items shown. */
export function boundedList(shown: readonly string[], total: number): string {
  const more = total - shown.length;
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ');
}

/** The first {@link EVIDENCE_LIMITS.listedItems} of `items`, described, as a bounded list. */
export function listItems<T>(items: readonly T[], describe: (item: T) => string): string {
  return boundedList(items.slice(0, EVIDENCE_LIMITS.listedItems).map(describe), items.length);
}

/** ` at line L, column C` from what a parser reports (numbers only), or `''`. */
export function position(line: unknown, column?: unknown): string {
  const ok = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  if (!ok(line)) return '';
  return ok(column) ? ` at line ${line}, column ${column}` : ` at line ${line}`;
}

/** Kinds of csv-parse errors, by code: what is wrong, never the field content. */
const CSV_PROBLEMS: Record<string, string> = {
  INVALID_OPENING_QUOTE: 'a quote inside an unquoted field',
  CSV_INVALID_CLOSING_QUOTE: 'a character right after a closing quote',
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'a character right after a closing quote',
  CSV_QUOTE_NOT_CLOSED: 'a quote that is never closed',
  CSV_RECORD_INCONSISTENT_FIELDS_LENGTH: 'a row with another number of fields than the header',
  CSV_RECORD_INCONSISTENT_COLUMNS: 'a row with another number of fields than the header',
};

/**
 * A csv-parse error as a message naming only the kind of problem and its position (line, and
 * column index when known). The parser's own message, which can quote field content, is dropped.
 */
export function csvProblem(err: unknown): string {
  const e = (err ?? {}) as { code?: unknown; lines?: unknown; column?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (code === 'CSV_MAX_RECORD_SIZE') {
    return `a record longer than ${EVIDENCE_LIMITS.csvRecordChars} characters${position(e.lines)} (limit csvRecordChars)`;
  }
  const column = typeof e.column === 'number' && code !== 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH' ? e.column + 1 : undefined;
  return `${CSV_PROBLEMS[code] ?? 'a malformed record'}${position(e.lines, column)}`;
}

/**
 * A YAML parser error as the kind of problem (the `yaml` package's error code) and its position;
 * the message, which quotes the offending line, is dropped.
 */
export function yamlProblem(err: unknown): string {
  const e = (err ?? {}) as { code?: unknown; linePos?: Array<{ line?: unknown; col?: unknown }> };
  if (e.code === 'RESOURCE_EXHAUSTION') return `it is nested more than ${EVIDENCE_LIMITS.jsonDepth} levels deep (limit jsonDepth)`;
  if (typeof e.code === 'string' && /^[A-Z_]{1,40}$/.test(e.code)) return `${e.code.toLowerCase().replace(/_/g, ' ')}${position(e.linePos?.[0]?.line, e.linePos?.[0]?.col)}`;
  if (err instanceof ReferenceError && err.message.startsWith('Excessive alias count')) return `it resolves more than ${EVIDENCE_LIMITS.yamlAliases} aliases (limit yamlAliases)`;
  return 'invalid YAML';
}

/**
 * True when JSON text nests arrays and objects more than `max` levels deep. A linear scan that
 * skips strings: exact for valid JSON, and cheap enough to run before `JSON.parse`.
 */
export function jsonNestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i += 1;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth += 1;
      if (depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth -= 1;
  }
  return false;
}

/**
 * Why a parsed document is too big to walk, or `undefined`: deeper than
 * {@link EVIDENCE_LIMITS.jsonDepth} or with more than `maxValues` values (counted each time
 * they are reached, so shared YAML aliases and cycles count too). Iterative: no recursion.
 */
export function documentShapeProblem(value: unknown, maxValues: number): string | undefined {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  let seen = 0;
  while (stack.length > 0) {
    const { value: v, depth } = stack.pop()!;
    seen += 1;
    if (seen > maxValues) return `it holds more than ${maxValues} values (limit modelCardValues)`;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= EVIDENCE_LIMITS.jsonDepth) return `it is nested more than ${EVIDENCE_LIMITS.jsonDepth} levels deep (limit jsonDepth)`;
    for (const child of Array.isArray(v) ? v : Object.values(v as object)) stack.push({ value: child, depth: depth + 1 });
  }
  return undefined;
}

/**
 * Why YAML text would make the parser recurse or work too hard, or `undefined`: a linear scan
 * run before parsing that bounds flow openings ({@link EVIDENCE_LIMITS.yamlFlowOpenings}),
 * indentation ({@link EVIDENCE_LIMITS.yamlIndent}) and compact indicators at the start of a
 * line ({@link EVIDENCE_LIMITS.yamlCompactIndicators}), which together bound the nesting.
 */
export function yamlNestingProblem(text: string): string | undefined {
  const deep = `it is nested more than ${EVIDENCE_LIMITS.jsonDepth} levels deep`;
  let openings = 0;
  let lineStart = true;
  let indent = 0;
  let compact = 0;
  let afterIndicator = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) {
      lineStart = true;
      indent = 0;
      compact = 0;
      afterIndicator = false;
      continue;
    }
    if (c === 0x5b || c === 0x7b) {
      openings += 1;
      if (openings > EVIDENCE_LIMITS.yamlFlowOpenings) return `${deep} (more than ${EVIDENCE_LIMITS.yamlFlowOpenings} flow collections, limit yamlFlowOpenings)`;
    }
    if (!lineStart) continue;
    if (c === 0x20) {
      if (afterIndicator) continue;
      indent += 1;
      if (indent > EVIDENCE_LIMITS.yamlIndent) return `${deep} (a line indented more than ${EVIDENCE_LIMITS.yamlIndent} spaces, limit yamlIndent)`;
      continue;
    }
    const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0x20;
    if ((c === 0x2d || c === 0x3f || c === 0x3a) && (next === 0x20 || next === 0x0a || next === 0x0d)) {
      compact += 1;
      afterIndicator = true;
      if (compact > EVIDENCE_LIMITS.yamlCompactIndicators) return `${deep} (more than ${EVIDENCE_LIMITS.yamlCompactIndicators} block indicators on a line, limit yamlCompactIndicators)`;
      continue;
    }
    lineStart = false;
  }
  return undefined;
}

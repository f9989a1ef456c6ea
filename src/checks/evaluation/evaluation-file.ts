import path from 'node:path';
import type { Readable } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import { SourceRefusal, SourceUnavailable } from '../../sources/rules';
import { type SourceOptions, asCheckErrors, openDocumentStream } from '../artifact-source';
import { CheckInputError, TransientCheckError } from '../errors';
import { noProgress } from '../progress';
import { EVIDENCE_LIMITS } from './limits';
import { csvProblem, describeColumns, jsonNestedDeeperThan } from './report-text';

/** A cell of an evaluation file: CSV cells are strings, JSONL values keep their JSON type. */
export type Cell = string | number | boolean | null;

/** Options of {@link readEvaluationColumns}. */
export interface EvaluationReadOptions extends SourceOptions {
  /** Stop after this many data rows (a sample). */
  maxRows?: number;
  /** `csv`, `tsv` or `jsonl`; by default decided from the file name (`.jsonl`, `.ndjson`, `.json` → JSONL). */
  format?: 'csv' | 'tsv' | 'jsonl';
}

function formatOf(uri: string, explicit?: EvaluationReadOptions['format']): 'csv' | 'tsv' | 'jsonl' {
  if (explicit) return explicit;
  const ext = path.extname(new URL(uri, 'file:///').pathname).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return 'jsonl';
  if (ext === '.tsv') return 'tsv';
  return 'csv';
}

const tooManyColumns = (where: string) =>
  new CheckInputError(`evaluation file has more than ${EVIDENCE_LIMITS.columns} columns (${where}; limit columns)`);

/**
 * The lines of a JSONL stream, parsed. Each line is bounded ({@link EVIDENCE_LIMITS.jsonlLineChars})
 * and its nesting checked before `JSON.parse`; a parse error names the line only (V8's message
 * quotes the text).
 */
async function* jsonlRecords(stream: Readable): AsyncGenerator<{ line: number; value: unknown }> {
  const max = EVIDENCE_LIMITS.jsonlLineChars;
  let carry = '';
  let line = 0;
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const searchFrom = carry.length;
    carry += decoder.decode(chunk, { stream: true });
    let start = 0;
    let nl = carry.indexOf('\n', searchFrom);
    while (nl >= 0) {
      line += 1;
      if (nl - start > max) throw lineTooLong(line);
      const text = carry.slice(start, nl).trim();
      if (text) yield { line, value: parseJsonLine(text, line) };
      start = nl + 1;
      nl = carry.indexOf('\n', start);
    }
    carry = carry.slice(start);
    if (carry.length > max) throw lineTooLong(line + 1);
  }
  carry += decoder.decode();
  if (carry.length > max) throw lineTooLong(line + 1);
  if (carry.trim()) yield { line: line + 1, value: parseJsonLine(carry.trim(), line + 1) };
}

function lineTooLong(line: number): CheckInputError {
  return new CheckInputError(`JSONL line ${line} is longer than ${EVIDENCE_LIMITS.jsonlLineChars} characters (limit jsonlLineChars)`);
}

function parseJsonLine(text: string, line: number): unknown {
  if (jsonNestedDeeperThan(text, EVIDENCE_LIMITS.jsonDepth)) {
    throw new CheckInputError(`JSONL line ${line} is nested more than ${EVIDENCE_LIMITS.jsonDepth} levels deep (limit jsonDepth)`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new CheckInputError(`JSONL line ${line} is not valid JSON`);
  }
}

/** The values of `names` in a JSONL object (own keys only), nested values as JSON text. */
function jsonlValues(record: Record<string, unknown>, names: readonly string[], line: number): Cell[] {
  return names.map((c) => {
    if (!Object.hasOwn(record, c)) throw new CheckInputError(`evaluation file has no column '${c}' (JSONL line ${line})`, c);
    const v = record[c];
    return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : JSON.stringify(v);
  });
}

/**
 * Streams an evaluation file (CSV through a real CSV parser, or JSONL) and hands the values of
 * `columns`, in that order, to `onRow` for every data row. Memory stays flat whatever the file
 * size, and every record is bounded ({@link EVIDENCE_LIMITS}). A missing column, a ragged CSV
 * row, a malformed JSON line or a bound exceeded throws {@link CheckInputError} naming it, never
 * quoting the file (column names are listed only when they look like names). Resolves to the
 * number of data rows read.
 */
export async function readEvaluationColumns(
  uri: string,
  columns: readonly string[] | 'all',
  onRow: (values: Cell[], row: number, names: readonly string[]) => void,
  options: EvaluationReadOptions,
): Promise<number> {
  const stream = await openDocumentStream(uri, 'evaluation.uri', options);
  try {
    const format = formatOf(uri, options.format);
    return await asCheckErrors(() => (format === 'jsonl' ? readJsonl(stream, columns, onRow, options) : readCsv(stream, format, columns, onRow, options)));
  } finally {
    stream.destroy();
  }
}

type RowHandler = Parameters<typeof readEvaluationColumns>[2];

/** Counts a row, reports progress; true when the sample is complete. */
function rowDone(rows: number, options: EvaluationReadOptions): boolean {
  if (rows % 10_000 === 0) (options.progress ?? noProgress)({ stage: 'evaluation', rows });
  return rows >= (options.maxRows ?? Number.POSITIVE_INFINITY);
}

async function readJsonl(stream: Readable, columns: readonly string[] | 'all', onRow: RowHandler, options: EvaluationReadOptions): Promise<number> {
  let rows = 0;
  for await (const { line, value } of jsonlRecords(stream)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CheckInputError(`JSONL line ${line} is not a JSON object`);
    const record = value as Record<string, unknown>;
    const names = columns === 'all' ? Object.keys(record) : columns;
    if (names.length > EVIDENCE_LIMITS.columns) throw tooManyColumns(`JSONL line ${line}`);
    rows += 1;
    onRow(jsonlValues(record, names, line), rows, names);
    if (rowDone(rows, options)) break;
  }
  return rows;
}

async function readCsv(stream: Readable, format: 'csv' | 'tsv', columns: readonly string[] | 'all', onRow: RowHandler, options: EvaluationReadOptions): Promise<number> {
  const parser = stream.pipe(
    parse({
      bom: true,
      delimiter: format === 'tsv' ? '\t' : ',',
      skip_empty_lines: true,
      trim: false,
      max_record_size: EVIDENCE_LIMITS.csvRecordChars,
    }),
  );
  stream.on('error', (err) => parser.destroy(err));
  let rows = 0;
  let indexes: number[] | undefined;
  let names: readonly string[] = [];
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      if (record.length > EVIDENCE_LIMITS.columns) throw tooManyColumns(indexes ? `row ${rows + 1}` : 'header');
      if (!indexes) {
        const header = record.map((h) => h.trim());
        names = columns === 'all' ? header : columns;
        indexes = names.map((c) => {
          const i = header.indexOf(c);
          if (i < 0) throw new CheckInputError(`evaluation file has no column '${c}' (columns: ${describeColumns(header)})`, c);
          return i;
        });
        continue;
      }
      rows += 1;
      onRow(indexes.map((i) => record[i] ?? null), rows, names);
      if (rowDone(rows, options)) break;
    }
  } catch (err) {
    if (err instanceof CheckInputError || err instanceof TransientCheckError || err instanceof SourceRefusal || err instanceof SourceUnavailable) throw err;
    if (err instanceof CsvError) throw new CheckInputError(`evaluation file is not valid CSV: ${csvProblem(err)}`);
    throw err;
  } finally {
    parser.destroy();
  }
  if (!indexes) throw new CheckInputError('evaluation file is empty: no header row');
  return rows;
}

/** A decimal number: no nested or overlapping quantifiers, so linear on any input. */
export const NUMBER_TEXT = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

/** The number a text cell spells, or `undefined` (texts longer than {@link EVIDENCE_LIMITS.numericChars} are not numbers). */
function numberText(s: string): number | undefined {
  if (s === '' || s.length > EVIDENCE_LIMITS.numericChars || !NUMBER_TEXT.test(s)) return undefined;
  return Number(s);
}

/** Canonical text of a label or group value, so that `1`, `"1"` and `1.0` compare equal. */
export function canonicalLabel(value: Cell): string {
  if (value === null) return '';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return String(value);
  const s = value.trim();
  const n = numberText(s);
  if (n !== undefined) return String(n);
  const lower = s.toLowerCase();
  if (lower === 'true' || lower === 'false') return lower;
  return s;
}

/** The number in a cell, or `undefined` when it is not numeric. */
export function numericCell(value: Cell): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value === null) return undefined;
  return numberText(value.trim());
}

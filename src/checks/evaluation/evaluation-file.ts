import path from 'node:path';
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { type SourceOptions, openDocumentStream } from '../artifact-source';
import { CheckInputError, TransientCheckError, errorMessage } from '../errors';
import { noProgress } from '../progress';

/** A cell of an evaluation file: CSV cells are strings, JSONL values keep their JSON type. */
export type Cell = string | number | boolean | null;

/** Options of {@link readEvaluationColumns}. */
export interface EvaluationReadOptions extends SourceOptions {
  /** Stop after this many data rows (a sample). */
  maxRows?: number;
  /** `csv`, `tsv` or `jsonl`; by default decided from the file name (`.jsonl`, `.ndjson`, `.json` → JSONL). */
  format?: 'csv' | 'tsv' | 'jsonl';
}

const MAX_JSONL_LINE_BYTES = 16 * 1024 * 1024;

function formatOf(uri: string, explicit?: EvaluationReadOptions['format']): 'csv' | 'tsv' | 'jsonl' {
  if (explicit) return explicit;
  const ext = path.extname(new URL(uri, 'file:///').pathname).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return 'jsonl';
  if (ext === '.tsv') return 'tsv';
  return 'csv';
}

async function* jsonlRecords(stream: Readable): AsyncGenerator<{ line: number; value: unknown }> {
  let carry = '';
  let line = 0;
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    carry += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = carry.indexOf('\n')) >= 0) {
      const text = carry.slice(0, nl).trim();
      carry = carry.slice(nl + 1);
      line += 1;
      if (text) yield { line, value: parseJsonLine(text, line) };
    }
    if (carry.length > MAX_JSONL_LINE_BYTES) throw new CheckInputError(`JSONL line ${line + 1} is longer than ${MAX_JSONL_LINE_BYTES} bytes`);
  }
  carry += decoder.decode();
  if (carry.trim()) yield { line: line + 1, value: parseJsonLine(carry.trim(), line + 1) };
}

function parseJsonLine(text: string, line: number): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CheckInputError(`JSONL line ${line} is not valid JSON: ${errorMessage(err)}`);
  }
}

/**
 * Streams an evaluation file (CSV through a real CSV parser, or JSONL) and hands the values of
 * `columns`, in that order, to `onRow` for every data row. Memory stays flat whatever the file
 * size. A missing column, a ragged CSV row or a malformed JSON line throws
 * {@link CheckInputError} naming it. Resolves to the number of data rows read.
 */
export async function readEvaluationColumns(
  uri: string,
  columns: readonly string[] | 'all',
  onRow: (values: Cell[], row: number, names: readonly string[]) => void,
  options: EvaluationReadOptions,
): Promise<number> {
  const progress = options.progress ?? noProgress;
  const stream = await openDocumentStream(uri, 'evaluation.uri', options);
  const format = formatOf(uri, options.format);
  let rows = 0;
  const limit = options.maxRows ?? Number.POSITIVE_INFINITY;
  try {
    if (format === 'jsonl') {
      for await (const { line, value } of jsonlRecords(stream)) {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CheckInputError(`JSONL line ${line} is not a JSON object`);
        const record = value as Record<string, unknown>;
        const names = columns === 'all' ? Object.keys(record) : columns;
        const values = names.map((c) => {
          if (!(c in record)) throw new CheckInputError(`evaluation file has no column '${c}' (JSONL line ${line})`, c);
          const v = record[c];
          return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : JSON.stringify(v);
        });
        rows += 1;
        onRow(values, rows, names);
        if (rows % 10_000 === 0) progress({ stage: 'evaluation', rows });
        if (rows >= limit) break;
      }
      return rows;
    }
    const parser = stream.pipe(parse({ bom: true, delimiter: format === 'tsv' ? '\t' : ',', skip_empty_lines: true, trim: false }));
    stream.on('error', (err) => parser.destroy(err));
    let indexes: number[] | undefined;
    let names: readonly string[] = [];
    try {
      for await (const record of parser as AsyncIterable<string[]>) {
        if (!indexes) {
          const header = record.map((h) => h.trim());
          names = columns === 'all' ? header : columns;
          indexes = names.map((c) => {
            const i = header.indexOf(c);
            if (i < 0) throw new CheckInputError(`evaluation file has no column '${c}' (columns: ${header.slice(0, 30).join(', ')})`, c);
            return i;
          });
          continue;
        }
        rows += 1;
        onRow(indexes.map((i) => record[i] ?? null), rows, names);
        if (rows % 10_000 === 0) progress({ stage: 'evaluation', rows });
        if (rows >= limit) break;
      }
    } catch (err) {
      if (err instanceof CheckInputError || err instanceof TransientCheckError) throw err;
      throw new CheckInputError(`evaluation file is not valid CSV: ${errorMessage(err)}`);
    } finally {
      parser.destroy();
    }
    if (!indexes) throw new CheckInputError('evaluation file is empty: no header row');
    return rows;
  } finally {
    stream.destroy();
  }
}

/** Canonical text of a label or group value, so that `1`, `"1"` and `1.0` compare equal. */
export function canonicalLabel(value: Cell): string {
  if (value === null) return '';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return String(value);
  const s = value.trim();
  if (s !== '' && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return String(Number(s));
  const lower = s.toLowerCase();
  if (lower === 'true' || lower === 'false') return lower;
  return s;
}

/** The number in a cell, or `undefined` when it is not numeric. */
export function numericCell(value: Cell): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value === null) return undefined;
  const s = value.trim();
  if (s === '' || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

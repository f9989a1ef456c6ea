/**
 * Bounds on what the evidence checks (performance, fairness, model card, privacy) read from a
 * submitter's evaluation file and model card. Each is far above what a real file needs and low
 * enough that one hostile file cannot stall the worker, exhaust its memory or bloat a check
 * result (which every signed-in user sees and the workflow history stores). Exceeding one gives
 * a named error or finding that states the limit, never a stack trace.
 */
export const EVIDENCE_LIMITS = {
  /** Characters of one CSV record (all its cells, so also of one cell and of one line). */
  csvRecordChars: 1_048_576,
  /** Columns of an evaluation file (CSV header fields, keys of a JSONL object). */
  columns: 10_000,
  /** Characters of one JSONL line. */
  jsonlLineChars: 1_048_576,
  /** Nesting of JSON values (JSONL values, JSON and YAML model cards): arrays and objects. */
  jsonDepth: 64,
  /** Characters of a label, prediction or sensitive (group) value: classes are short names. */
  labelChars: 1_024,
  /** Characters of a cell still considered as a number (longer ones are text). */
  numericChars: 4_096,
  /** Distinct groups (combinations of sensitive values) the fairness check follows. */
  groups: 1_000,
  /** Characters of a group name, field name or label shown in a result (escaped, then cut). */
  reportedTextChars: 64,
  /** Column names listed in an error about a missing column. */
  listedColumns: 30,
  /** Labels, groups or columns listed in one message before "and N more". */
  listedItems: 20,
  /** Characters of an evaluation cell scanned for personal data (its start). */
  scanCellChars: 4_096,
  /** Characters of a model card field scanned for personal data (its start). */
  scanFieldChars: 65_536,
  /** Rows of the evaluation file the privacy check samples, whatever the policy asks. */
  privacySampleRows: 100_000,
  /** Characters of evaluation cells the privacy check scans in all (the sample stops there). */
  privacySampleChars: 64 * 1_048_576,
  /** Columns with personal data reported one by one (the rest are counted). */
  privacyFindings: 50,
  /** Bytes of a model card file. */
  modelCardBytes: 1_048_576,
  /** Values (scalars and collections, aliases counted each time) of a parsed model card. */
  modelCardValues: 100_000,
  /** YAML aliases a model card may resolve (the `yaml` package's `maxAliasCount`). */
  yamlAliases: 100,
  /** Flow collection openings (`[`, `{`) in a YAML model card: bounds flow nesting before parsing. */
  yamlFlowOpenings: 10_000,
  /** Indentation (spaces) of a line of a YAML model card: bounds block nesting before parsing. */
  yamlIndent: 256,
  /** Compact block indicators (`- - - x`, `? ? x`) at the start of one YAML line. */
  yamlCompactIndicators: 16,
} as const;

import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { MODEL_CARD_FIELDS, type PromotionManifest, type RiskTier } from '../manifest/schema';
import type { CheckFinding } from '../shared/checks';
import { asCheckErrors, openDocumentStream } from './artifact-source';
import { type CheckContext, sourceReadOptions } from './context';
import { CheckInputError } from './errors';
import { readEvaluationColumns } from './evaluation/evaluation-file';
import { EVIDENCE_LIMITS } from './evaluation/limits';
import { findPersonalData } from './evaluation/personal-data';
import { describeName, documentShapeProblem, jsonNestedDeeperThan, safeName, yamlNestingProblem, yamlProblem } from './evaluation/report-text';
import type { CheckOutcome } from './result';
import type { CheckSettings } from '../policy/check-settings';

type ModelCardField = (typeof MODEL_CARD_FIELDS)[number];

/** Model card fields required by tier when the policy names none. */
export const TIER_MODEL_CARD_FIELDS: Record<RiskTier, ModelCardField[]> = {
  low: ['intendedUse', 'limitations'],
  medium: ['intendedUse', 'limitations', 'outOfScopeUse', 'ethicalConsiderations', 'trainingData', 'evaluationData', 'license', 'contacts'],
  high: [
    'intendedUse', 'limitations', 'outOfScopeUse', 'ethicalConsiderations', 'trainingData', 'evaluationData', 'license', 'contacts',
    'humanOversight', 'riskManagement', 'postMarketMonitoring',
  ],
};

const PLACEHOLDER = /^(tbd|todo|tba|n\/?a|none|null|nil|-+|\.+|\?+|lorem ipsum.*|see above|coming soon|placeholder|fill (this )?in|to be (defined|determined|added))\.?$/i;
/** Characters of a field compared with {@link PLACEHOLDER} (its start: enough to tell). */
const PLACEHOLDER_CHARS = 4_096;

/** Turns a heading ("Intended use", "Out-of-scope use") into a field name (`intendedUse`). */
function headingToField(heading: string): string {
  const words = heading.toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim().split(' ');
  return words.map((w, i) => (i === 0 ? w : w.charAt(0).toUpperCase() + w.slice(1))).join('');
}

/** The text of an ATX heading line (`# Title`: one to six `#`, then white space), or `undefined`. */
function headingText(line: string): string | undefined {
  let hashes = 0;
  while (hashes < line.length && hashes < 7 && line.charCodeAt(hashes) === 0x23) hashes += 1;
  if (hashes === 0 || hashes > 6 || !/\s/.test(line.charAt(hashes))) return undefined;
  return line.slice(hashes + 1);
}

/** YAML front matter (`---` lines around it) and the rest, found by plain search (linear). */
function splitFrontMatter(text: string): { meta?: string; body: string } {
  const open = /^---\r?\n/.exec(text);
  if (!open) return { body: text };
  const close = text.indexOf('\n---', open[0].length);
  if (close < 0) return { body: text };
  const meta = text.slice(open[0].length, text.charCodeAt(close - 1) === 0x0d && close > open[0].length ? close - 1 : close);
  let end = close + 4;
  if (text.charCodeAt(end) === 0x0d) end += 1;
  if (text.charCodeAt(end) === 0x0a) end += 1;
  return { meta, body: text.slice(end) };
}

/** Parses a Markdown model card: YAML front matter plus one field per `#` heading. */
function parseMarkdownCard(text: string): Record<string, unknown> {
  const card: Record<string, unknown> = {};
  const { meta, body } = splitFrontMatter(text);
  if (meta !== undefined) {
    const parsed = parseYamlCard(meta);
    if (parsed && typeof parsed === 'object') Object.assign(card, parsed);
  }
  const known = new Set<string>(MODEL_CARD_FIELDS);
  let current: string | undefined;
  let lines: string[] = [];
  const flush = (): void => {
    if (current && known.has(current) && lines.join('\n').trim()) card[current] = lines.join('\n').trim();
    lines = [];
  };
  for (const line of body.split(/\r?\n/)) {
    const heading = headingText(line);
    if (heading !== undefined) {
      flush();
      current = headingToField(heading);
    } else lines.push(line);
  }
  flush();
  return card;
}

/** Raised for a model card that cannot be parsed: the kind of problem, never the card's text. */
class CardSyntaxError extends Error {}

/** Parses YAML after bounding its nesting, with aliases bounded and no quadratic duplicate-key check. */
function parseYamlCard(text: string): unknown {
  const deep = yamlNestingProblem(text);
  if (deep) throw new CardSyntaxError(deep);
  try {
    return parseYaml(text, { maxAliasCount: EVIDENCE_LIMITS.yamlAliases, uniqueKeys: false });
  } catch (err) {
    throw new CardSyntaxError(yamlProblem(err));
  }
}

/**
 * Parses the text of a model card file by its extension: `.json` (nesting bounded before
 * parsing), `.md`/`.markdown` (front matter and headings, scanned in linear time) or YAML
 * (nesting, aliases bounded). Throws {@link CheckInputError} naming the kind of problem and its
 * position only: parser messages, which quote the text, are never passed on.
 */
export function parseModelCardText(text: string, ext: string): Record<string, unknown> {
  try {
    let parsed: unknown;
    if (ext === '.md' || ext === '.markdown') parsed = parseMarkdownCard(text);
    else if (ext === '.json') {
      if (jsonNestedDeeperThan(text, EVIDENCE_LIMITS.jsonDepth)) throw new CardSyntaxError(`it is nested more than ${EVIDENCE_LIMITS.jsonDepth} levels deep (limit jsonDepth)`);
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new CardSyntaxError('invalid JSON');
      }
    } else parsed = parseYamlCard(text);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new CardSyntaxError('not an object of fields');
    return checkedCard(parsed as Record<string, unknown>);
  } catch (err) {
    if (err instanceof CardSyntaxError) throw new CheckInputError(`the model card cannot be parsed: ${err.message}`);
    throw err;
  }
}

/** The card, once its shape is known to be bounded (nesting, values: see {@link EVIDENCE_LIMITS}). */
function checkedCard(card: Record<string, unknown>): Record<string, unknown> {
  const problem = documentShapeProblem(card, EVIDENCE_LIMITS.modelCardValues);
  if (problem) throw new CardSyntaxError(problem);
  return card;
}

/** The model card of a manifest: inline, or loaded from its URI (JSON, YAML or Markdown, at most 1 MiB). */
export async function loadModelCard(manifest: PromotionManifest, context: CheckContext): Promise<Record<string, unknown>> {
  const card = manifest.modelCard as Record<string, unknown>;
  if (typeof card.uri !== 'string' || Object.keys(card).length !== 1) {
    const problem = documentShapeProblem(card, EVIDENCE_LIMITS.modelCardValues);
    if (problem) throw new CheckInputError(`the model card cannot be used: ${problem}`);
    return card;
  }
  const uri = card.uri;
  const stream = await openDocumentStream(uri, 'modelCard.uri', sourceReadOptions(context));
  const parts: Buffer[] = [];
  let size = 0;
  try {
    await asCheckErrors(async () => {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > EVIDENCE_LIMITS.modelCardBytes) throw new CheckInputError(`model card ${uri} is larger than ${EVIDENCE_LIMITS.modelCardBytes} bytes (limit modelCardBytes)`, uri);
        parts.push(chunk);
      }
    });
  } finally {
    stream.destroy();
  }
  const text = Buffer.concat(parts).toString('utf8');
  const ext = path.extname(new URL(uri, 'file:///').pathname).toLowerCase();
  return parseModelCardText(text, ext);
}

/** Text of a model-card field, flattened (arrays and objects joined). */
function fieldText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value.trim();
  if (Array.isArray(value)) return value.map(fieldText).filter(Boolean).join('; ');
  if (typeof value === 'object') return Object.values(value).map(fieldText).filter(Boolean).join('; ');
  return String(value);
}

/** The model-card check body: required fields present and non-trivial for the tier. */
export async function checkModelCard(manifest: PromotionManifest, settings: CheckSettings['modelCard'], context: CheckContext): Promise<CheckOutcome> {
  const card = await loadModelCard(manifest, context);
  const required: string[] = settings.requiredFields.length > 0 ? settings.requiredFields : settings.tierDefaults ? TIER_MODEL_CARD_FIELDS[manifest.model.riskTier] : [];
  const findings: CheckFinding[] = [];
  const shortAllowed = new Set(['license', 'contacts']);
  for (const field of required) {
    const text = fieldText(card[field]);
    if (!text) {
      findings.push({ kind: 'field_missing', severity: 'high', message: `model card field '${field}' is missing or empty`, location: field });
    } else if (PLACEHOLDER.test(text.slice(0, PLACEHOLDER_CHARS))) {
      findings.push({ kind: 'field_placeholder', severity: 'high', message: `model card field '${field}' is a placeholder (TBD, lorem ipsum, …)`, location: field });
    } else if (!shortAllowed.has(field) && text.length < settings.minFieldLength) {
      findings.push({ kind: 'field_trivial', severity: 'medium', message: `model card field '${field}' has ${text.length} characters, fewer than the ${settings.minFieldLength} required`, location: field });
    }
  }
  if (manifest.model.riskTier === 'high' && Array.isArray(card.ethicalConsiderations)) {
    (card.ethicalConsiderations as Array<{ name?: unknown; mitigation?: unknown } | null>).forEach((item, i) => {
      if (!fieldText(item?.mitigation)) {
        const name = describeName(typeof item?.name === 'string' ? item.name : '', i, 'consideration');
        findings.push({ kind: 'mitigation_missing', severity: 'medium', message: `ethical consideration ${name} has no mitigation (required for high risk)`, location: 'ethicalConsiderations' });
      }
    });
  }
  const metrics = { requiredFields: required, presentFields: MODEL_CARD_FIELDS.filter((f) => fieldText(card[f]) !== '') };
  if (findings.length > 0) return { outcome: 'fail', summary: findings.map((f) => f.message).join('; '), findings, metrics };
  return { outcome: 'pass', summary: `${required.length} required model card field(s) present and substantive`, findings, metrics };
}

/** The lineage check body: commit, training data, version immutability and parent version. */
export async function checkLineage(manifest: PromotionManifest, settings: CheckSettings['lineage'], context: CheckContext): Promise<CheckOutcome> {
  const findings: CheckFinding[] = [];
  const lineage = manifest.lineage;
  if (!lineage.codeCommit) {
    if (settings.requireCodeCommit) findings.push({ kind: 'code_commit_missing', severity: 'high', message: 'lineage.codeCommit is missing', location: 'lineage.codeCommit' });
  } else if (!/^[0-9a-f]{7,64}$/i.test(lineage.codeCommit)) {
    findings.push({ kind: 'code_commit_not_a_hash', severity: 'low', message: `lineage.codeCommit '${lineage.codeCommit}' is not a commit hash`, location: 'lineage.codeCommit' });
  }
  if (!lineage.trainingData) {
    if (settings.requireTrainingData) findings.push({ kind: 'training_data_missing', severity: 'high', message: 'lineage.trainingData is missing', location: 'lineage.trainingData' });
  } else if (!lineage.trainingData.sha256 && settings.requireTrainingDataDigest) {
    findings.push({ kind: 'training_data_digest_missing', severity: 'high', message: 'lineage.trainingData.sha256 is missing', location: 'lineage.trainingData.sha256' });
  }
  if (lineage.parentVersion === manifest.model.version) {
    findings.push({ kind: 'parent_is_self', severity: 'high', message: `parent version ${lineage.parentVersion} is this version`, location: 'lineage.parentVersion' });
  }
  const metrics: Record<string, unknown> = {};
  if (!context.registry) {
    findings.push({ kind: 'registry_unavailable', severity: 'info', message: 'no registry here: version reuse and parent existence were not checked' });
  } else {
    const existing = await context.registry.findVersion(manifest.model.name, manifest.model.version);
    metrics.versionRegistered = existing !== undefined;
    if (existing && existing.sha256 !== manifest.artifact.sha256?.toLowerCase()) {
      findings.push({
        kind: 'version_digest_conflict',
        severity: 'critical',
        message: `${manifest.model.name}@${manifest.model.version} is registered with digest ${existing.sha256}; a version's artifact never changes (publish a new version)`,
        location: 'model.version',
      });
    }
    if (lineage.parentVersion && lineage.parentVersion !== manifest.model.version && settings.requireParentInRegistry) {
      const parent = await context.registry.findVersion(manifest.model.name, lineage.parentVersion);
      metrics.parentRegistered = parent !== undefined;
      if (!parent) findings.push({ kind: 'parent_not_found', severity: 'high', message: `parent version ${lineage.parentVersion} of ${manifest.model.name} is not in the registry`, location: 'lineage.parentVersion' });
    }
  }
  const failures = findings.filter((f) => f.severity !== 'info' && f.severity !== 'low');
  if (failures.length > 0) return { outcome: 'fail', summary: failures.map((f) => f.message).join('; '), findings, metrics };
  const low = findings.filter((f) => f.severity === 'low');
  return { outcome: low.length ? 'warn' : 'pass', summary: low.length ? low.map((f) => f.message).join('; ') : 'lineage complete', findings, metrics };
}

/** The privacy check body: data classification and personal data for the target, and a personal-data scan. */
export async function checkPrivacy(manifest: PromotionManifest, settings: CheckSettings['privacy'], context: CheckContext): Promise<CheckOutcome> {
  const findings: CheckFinding[] = [];
  const training = manifest.lineage.trainingData;
  const metrics: Record<string, unknown> = { requiresLegalReview: false };
  if (!training) {
    findings.push({ kind: 'training_data_undeclared', severity: 'low', message: 'no training data declared: its classification cannot be checked' });
  } else {
    metrics.classification = training.classification;
    metrics.containsPersonalData = training.containsPersonalData;
    if (!settings.allowedClassifications.includes(training.classification)) {
      findings.push({
        kind: 'classification_not_allowed',
        severity: 'high',
        message: `training data classified '${training.classification}' is not allowed for ${manifest.target} (allowed: ${settings.allowedClassifications.join(', ')})`,
        location: 'lineage.trainingData.classification',
      });
    }
    if (training.containsPersonalData) {
      if (settings.personalData === 'deny') {
        findings.push({ kind: 'personal_data_denied', severity: 'high', message: `training data contains personal data, which the policy refuses for ${manifest.target}`, location: 'lineage.trainingData.containsPersonalData' });
      } else if (settings.personalData === 'require_legal_review') {
        metrics.requiresLegalReview = true;
        findings.push({ kind: 'legal_review_required', severity: 'low', message: 'training data contains personal data: the legal & compliance gate must review this promotion', location: 'lineage.trainingData.containsPersonalData' });
      }
    }
  }
  if (settings.scanForPersonalData) {
    const card = await loadModelCard(manifest, context);
    Object.entries(card).forEach(([field, value], index) => {
      if (field === 'contacts' || field === 'uri') return;
      const name = safeName(field, index, 'field');
      for (const hit of findPersonalData(fieldText(value), EVIDENCE_LIMITS.scanFieldChars)) {
        findings.push({
          kind: 'personal_data_in_model_card',
          severity: hit.severity,
          message: `model card field ${describeName(field, index, 'field')} contains what looks like a ${hit.kind} (${hit.sample})`,
          location: `modelCard.${name}`,
          dataKind: hit.kind,
        });
      }
    });
    if (manifest.evaluation && settings.sampleRows > 0) {
      const sample = await scanEvaluationSample(manifest.evaluation.uri, Math.min(settings.sampleRows, EVIDENCE_LIMITS.privacySampleRows), context);
      metrics.sampledRows = sample.rows;
      if (sample.truncated) {
        findings.push({ kind: 'sample_truncated', severity: 'info', message: `the personal-data scan stopped after ${sample.rows} rows: ${EVIDENCE_LIMITS.privacySampleChars} characters scanned (limit privacySampleChars)` });
      }
      for (const h of sample.hits.values()) {
        findings.push({
          kind: 'personal_data_in_evaluation',
          severity: h.severity,
          message: `evaluation column ${h.column} holds what looks like ${h.kind} values in ${h.rows} of the first ${sample.rows} rows (first at row ${h.first}: ${h.sample})`,
          location: `evaluation.${h.location}`,
          dataKind: h.kind,
        });
      }
      if (sample.unreported > 0) {
        findings.push({ kind: 'personal_data_in_evaluation', severity: 'high', message: `${sample.unreported} more column(s) of the evaluation file hold what looks like personal data (limit privacyFindings)`, location: 'evaluation' });
      }
    }
  }
  const failures = findings.filter((f) => f.severity === 'medium' || f.severity === 'high' || f.severity === 'critical');
  if (failures.length > 0) return { outcome: 'fail', summary: failures.map((f) => f.message).join('; '), findings, metrics };
  const low = findings.filter((f) => f.severity === 'low');
  return { outcome: low.length ? 'warn' : 'pass', summary: low.length ? low.map((f) => f.message).join('; ') : 'no privacy concerns found', findings, metrics };
}

/** What the privacy check found in one column for one kind of personal data. */
interface EvaluationHit {
  kind: string;
  severity: 'medium' | 'high';
  /** The column for a message ({@link describeName}) and for a location ({@link safeName}). */
  column: string;
  location: string;
  rows: number;
  first: number;
  sample: string;
}

/** Thrown inside the row handler to end the sample once enough text was scanned. */
class SampleComplete extends Error {}

/**
 * Scans the first `maxRows` rows of the evaluation file for personal data: each cell's start
 * ({@link EVIDENCE_LIMITS.scanCellChars}), at most {@link EVIDENCE_LIMITS.privacySampleChars}
 * in all, hits kept for at most {@link EVIDENCE_LIMITS.privacyFindings} column/kind pairs.
 */
async function scanEvaluationSample(uri: string, maxRows: number, context: CheckContext): Promise<{ rows: number; truncated: boolean; hits: Map<string, EvaluationHit>; unreported: number }> {
  const hits = new Map<string, EvaluationHit>();
  const unreported = new Set<string>();
  let rows = 0;
  let scannedChars = 0;
  try {
    await readEvaluationColumns(
      uri,
      'all',
      (values, row, names) => {
        rows = row;
        values.forEach((v, i) => {
          if (typeof v !== 'string' || v.length < 6) return;
          scannedChars += Math.min(v.length, EVIDENCE_LIMITS.scanCellChars);
          for (const hit of findPersonalData(v, EVIDENCE_LIMITS.scanCellChars)) {
            const name = names[i] ?? '';
            const key = `${name}\u0000${hit.kind}`;
            const h = hits.get(key);
            if (h) h.rows += 1;
            else if (hits.size < EVIDENCE_LIMITS.privacyFindings) {
              hits.set(key, { kind: hit.kind, severity: hit.severity, column: describeName(name, i), location: safeName(name, i), rows: 1, first: row, sample: hit.sample });
            } else if (unreported.size < EVIDENCE_LIMITS.columns) unreported.add(key);
          }
        });
        if (scannedChars > EVIDENCE_LIMITS.privacySampleChars) throw new SampleComplete();
      },
      { ...sourceReadOptions(context), maxRows },
    );
  } catch (err) {
    if (!(err instanceof SampleComplete)) throw err;
    return { rows, truncated: true, hits, unreported: unreported.size };
  }
  return { rows, truncated: false, hits, unreported: unreported.size };
}

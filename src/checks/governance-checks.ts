import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { MODEL_CARD_FIELDS, type PromotionManifest, type RiskTier } from '../manifest/schema';
import type { CheckFinding } from '../shared/checks';
import { openDocumentStream } from './artifact-source';
import type { CheckContext } from './context';
import { CheckInputError, errorMessage } from './errors';
import { readEvaluationColumns } from './evaluation/evaluation-file';
import type { CheckOutcome } from './result';
import type { CheckSettings } from './settings';

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

const MAX_MODEL_CARD_BYTES = 1024 * 1024;
const PLACEHOLDER = /^(tbd|todo|tba|n\/?a|none|null|nil|-+|\.+|\?+|lorem ipsum.*|see above|coming soon|placeholder|fill (this )?in|to be (defined|determined|added))\.?$/i;

/** Turns a heading ("Intended use", "Out-of-scope use") into a field name (`intendedUse`). */
function headingToField(heading: string): string {
  const words = heading.toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim().split(' ');
  return words.map((w, i) => (i === 0 ? w : w.charAt(0).toUpperCase() + w.slice(1))).join('');
}

/** Parses a Markdown model card: YAML front matter plus one field per `#` heading. */
function parseMarkdownCard(text: string): Record<string, unknown> {
  const card: Record<string, unknown> = {};
  let body = text;
  const front = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(text);
  if (front) {
    const meta: unknown = parseYaml(front[1]!);
    if (meta && typeof meta === 'object') Object.assign(card, meta);
    body = text.slice(front[0].length);
  }
  const known = new Set<string>(MODEL_CARD_FIELDS);
  let current: string | undefined;
  let lines: string[] = [];
  const flush = (): void => {
    if (current && known.has(current) && lines.join('\n').trim()) card[current] = lines.join('\n').trim();
    lines = [];
  };
  for (const line of body.split(/\r?\n/)) {
    const h = /^#{1,6}\s+(.*)$/.exec(line);
    if (h) {
      flush();
      current = headingToField(h[1]!);
    } else lines.push(line);
  }
  flush();
  return card;
}

/** The model card of a manifest: inline, or loaded from its URI (JSON, YAML or Markdown, at most 1 MiB). */
export async function loadModelCard(manifest: PromotionManifest, context: CheckContext): Promise<Record<string, unknown>> {
  const card = manifest.modelCard as Record<string, unknown>;
  if (typeof card.uri !== 'string' || Object.keys(card).length !== 1) return card;
  const uri = card.uri;
  const stream = await openDocumentStream(uri, 'modelCard.uri', { sources: context.sources });
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_MODEL_CARD_BYTES) throw new CheckInputError(`model card ${uri} is larger than ${MAX_MODEL_CARD_BYTES} bytes`, uri);
      parts.push(chunk);
    }
  } finally {
    stream.destroy();
  }
  const text = Buffer.concat(parts).toString('utf8');
  const ext = path.extname(new URL(uri, 'file:///').pathname).toLowerCase();
  try {
    if (ext === '.md' || ext === '.markdown') return parseMarkdownCard(text);
    const parsed: unknown = ext === '.json' ? JSON.parse(text) : parseYaml(text);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object of fields');
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new CheckInputError(`model card ${uri} cannot be parsed: ${errorMessage(err)}`, uri);
  }
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
    } else if (PLACEHOLDER.test(text)) {
      findings.push({ kind: 'field_placeholder', severity: 'high', message: `model card field '${field}' is a placeholder ('${text.slice(0, 40)}')`, location: field });
    } else if (!shortAllowed.has(field) && text.length < settings.minFieldLength) {
      findings.push({ kind: 'field_trivial', severity: 'medium', message: `model card field '${field}' has ${text.length} characters, fewer than the ${settings.minFieldLength} required`, location: field });
    }
  }
  if (manifest.model.riskTier === 'high' && Array.isArray(card.ethicalConsiderations)) {
    for (const item of card.ethicalConsiderations as Array<{ name?: string; mitigation?: string }>) {
      if (!item?.mitigation || !String(item.mitigation).trim()) {
        findings.push({ kind: 'mitigation_missing', severity: 'medium', message: `ethical consideration '${item?.name ?? '?'}' has no mitigation (required for high risk)`, location: 'ethicalConsiderations' });
      }
    }
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
    if (existing && existing.sha256 !== manifest.artifact.sha256.toLowerCase()) {
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

/** Kinds of personal data the privacy check recognises, with their patterns. */
const PERSONAL_DATA_PATTERNS: Array<{ kind: string; severity: 'medium' | 'high'; pattern: RegExp; validate?: (m: string) => boolean }> = [
  { kind: 'email', severity: 'medium', pattern: /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/ },
  { kind: 'phone', severity: 'medium', pattern: /(?<![\w.])(?:\+\d{1,3}[ .-]?\(?\d{1,4}\)?(?:[ .-]?\d{2,4}){2,4}|\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4})(?![\w.])/ },
  { kind: 'us_ssn', severity: 'high', pattern: /(?<!\d)(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?!\d)/ },
  { kind: 'uk_nino', severity: 'high', pattern: /\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b/ },
  { kind: 'payment_card', severity: 'high', pattern: /(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)/, validate: luhn },
];

function luhn(candidate: string): boolean {
  const digits = candidate.replace(/\D/g, '');
  if (digits.length < 13 || digits.length > 19) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Kinds of personal data found in a text (first match of each kind, masked). */
export function findPersonalData(text: string): Array<{ kind: string; severity: 'medium' | 'high'; sample: string }> {
  const found: Array<{ kind: string; severity: 'medium' | 'high'; sample: string }> = [];
  for (const p of PERSONAL_DATA_PATTERNS) {
    const m = p.pattern.exec(text);
    if (m && (!p.validate || p.validate(m[0]))) found.push({ kind: p.kind, severity: p.severity, sample: mask(m[0]) });
  }
  return found;
}

function mask(value: string): string {
  return value.length <= 4 ? '****' : `${value.slice(0, 2)}${'*'.repeat(Math.min(12, value.length - 4))}${value.slice(-2)}`;
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
    for (const [field, value] of Object.entries(card)) {
      if (field === 'contacts' || field === 'uri') continue;
      for (const hit of findPersonalData(fieldText(value))) {
        findings.push({ kind: 'personal_data_in_model_card', severity: hit.severity, message: `model card field '${field}' contains what looks like a ${hit.kind} (${hit.sample})`, location: `modelCard.${field}`, dataKind: hit.kind });
      }
    }
    if (manifest.evaluation && settings.sampleRows > 0) {
      const hits = new Map<string, { kind: string; severity: 'medium' | 'high'; rows: number; first: number; sample: string }>();
      const scanned = await readEvaluationColumns(
        manifest.evaluation.uri,
        'all',
        (values, row, names) => {
          values.forEach((v, i) => {
            if (typeof v !== 'string' || v.length < 6) return;
            for (const hit of findPersonalData(v)) {
              const key = `${names[i]}\u0000${hit.kind}`;
              const h = hits.get(key);
              if (h) h.rows += 1;
              else hits.set(key, { kind: hit.kind, severity: hit.severity, rows: 1, first: row, sample: hit.sample });
            }
          });
        },
        { sources: context.sources, maxRows: settings.sampleRows },
      );
      metrics.sampledRows = scanned;
      for (const [key, h] of hits) {
        const column = key.split('\u0000')[0]!;
        findings.push({
          kind: 'personal_data_in_evaluation',
          severity: h.severity,
          message: `evaluation column '${column}' holds what looks like ${h.kind} values in ${h.rows} of the first ${scanned} rows (first at row ${h.first}: ${h.sample})`,
          location: `evaluation.${column}`,
          dataKind: h.kind,
        });
      }
    }
  }
  const failures = findings.filter((f) => f.severity === 'medium' || f.severity === 'high' || f.severity === 'critical');
  if (failures.length > 0) return { outcome: 'fail', summary: failures.map((f) => f.message).join('; '), findings, metrics };
  const low = findings.filter((f) => f.severity === 'low');
  return { outcome: low.length ? 'warn' : 'pass', summary: low.length ? low.map((f) => f.message).join('; ') : 'no privacy concerns found', findings, metrics };
}

import { z } from 'zod';

/** Risk tiers, lowest first. A policy may raise a tier, never lower it. */
export const RISK_TIERS = ['low', 'medium', 'high'] as const;
export const RiskTierSchema = z.enum(RISK_TIERS);
/** A model's risk tier. */
export type RiskTier = z.infer<typeof RiskTierSchema>;

/** Artifact serialization formats Modelgate knows how to inspect. */
export const ARTIFACT_FORMATS = ['pickle', 'pytorch', 'safetensors', 'onnx', 'joblib', 'keras', 'other'] as const;

/** Classification of training data, least sensitive first. */
export const DATA_CLASSIFICATIONS = ['public', 'internal', 'confidential', 'restricted'] as const;

/**
 * Bounds of a manifest's fields: far above any real manifest, low enough that a promotion's
 * state (which carries the manifest through every continue-as-new) stays well under Temporal's
 * payload limits. Longer documents belong behind `modelCard.uri`.
 */
export const MANIFEST_LIMITS = {
  /** Free text: descriptions, model card sections. */
  text: 50_000,
  /** Names, ids, column names, commits. */
  shortText: 1_000,
  uri: 4_096,
  /** Entries of `metrics`; items of a list; extra model card fields. */
  entries: 200,
} as const;

const text = (max: number = MANIFEST_LIMITS.text) => z.string().max(max, `must be at most ${max} characters`);
const shortText = () => text(MANIFEST_LIMITS.shortText).min(1, 'must not be empty');
/** A list of at most {@link MANIFEST_LIMITS.entries} items. */
const list = <T extends z.ZodType>(item: T) =>
  z.array(item).max(MANIFEST_LIMITS.entries, `must have at most ${MANIFEST_LIMITS.entries} items`);
/** Metric name → value, at most {@link MANIFEST_LIMITS.entries} of them. */
const metricValues = (numberMessage?: string) =>
  z
    .record(text(128), z.number(numberMessage ? { error: numberMessage } : undefined))
    .refine((m) => Object.keys(m).length <= MANIFEST_LIMITS.entries, `must have at most ${MANIFEST_LIMITS.entries} metrics`)
    .meta({ maxProperties: MANIFEST_LIMITS.entries });

const sha256Hex = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hexadecimal characters (a sha256 digest)')
  .transform((s) => s.toLowerCase());

const artifactUri = text(MANIFEST_LIMITS.uri).regex(/^(file|https?):\/\//, 'must be a file://, http:// or https:// URI');

/**
 * A version in an MLflow Model Registry: `models:/<registered model>/<version number>`. The
 * tracking server is the worker's configured one (MLFLOW_TRACKING_URI), never named here.
 */
export const MLFLOW_MODEL_URI = /^models:\/([A-Za-z0-9][A-Za-z0-9._-]{0,127})\/([1-9][0-9]{0,9})$/;

/** The registered model and version a `models:/` URI names, or undefined for any other URI. */
export function mlflowModelOf(uri: string): { model: string; version: string } | undefined {
  const parts = MLFLOW_MODEL_URI.exec(uri);
  return parts ? { model: parts[1]!, version: parts[2]! } : undefined;
}

/** Where a model's artifact comes from: a file or HTTP source, or a version in the MLflow registry. */
const modelArtifactUri = text(MANIFEST_LIMITS.uri).refine(
  (uri) => /^(file|https?):\/\//.test(uri) || MLFLOW_MODEL_URI.test(uri),
  'must be a file://, http:// or https:// URI, or models:/<name>/<version> (a version in the MLflow Model Registry)',
);

/** Name of a model or environment: readable in workflow ids and URLs. */
const identifier = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'may contain letters, digits, ".", "_" and "-", starting with a letter or digit');

/** An Ed25519 signature over the artifact's digest by a key the policy trusts. */
export const DigestSignatureSchema = z.object({
  keyId: shortText(),
  algorithm: z.literal('ed25519'),
  /** Base64 signature over the artifact digest (the 64-character lowercase hex string). */
  value: shortText(),
});

/**
 * An OpenSSF model signing (OMS) signature: a Sigstore bundle holding a DSSE envelope around an
 * in-toto statement that lists every file's digest, as the `model-signing` package writes it.
 */
export const OmsSignatureSchema = z
  .object({
    format: z.literal('oms'),
    /** Where the bundle is (`file://`, `http(s)://`); default: `model.sig` inside the artifact directory. */
    bundle: artifactUri.optional(),
    /** The root digest the signed statement's subject must carry (sha256 over the listed file digests), when pinned. */
    rootDigest: sha256Hex.optional(),
  })
  .strict();

/** The artifact's signature: an OMS bundle, or an Ed25519 signature over the digest. */
export const ArtifactSignatureSchema = z.union([OmsSignatureSchema, DigestSignatureSchema]);
/** An OMS signature as the manifest names it. */
export type OmsSignature = z.infer<typeof OmsSignatureSchema>;

export const TrainingDataSchema = z.object({
  uri: text(MANIFEST_LIMITS.uri).min(1, 'must not be empty'),
  sha256: sha256Hex.optional(),
  classification: z.enum(DATA_CLASSIFICATIONS),
  containsPersonalData: z.boolean(),
});

export const LineageSchema = z.object({
  codeCommit: shortText().optional(),
  trainingData: TrainingDataSchema.optional(),
  parentVersion: shortText().optional(),
  runId: shortText().optional(),
});

export const EvaluationSchema = z.object({
  /** Predictions file (CSV or JSONL). */
  uri: artifactUri,
  labelColumn: shortText(),
  predictionColumn: shortText(),
  scoreColumn: shortText().optional(),
  sensitiveColumns: list(shortText()).default([]),
  positiveLabel: z.union([text(MANIFEST_LIMITS.shortText), z.number(), z.boolean()]).default(1),
});

/** Model card fields (Model Card Toolkit / Hugging Face / EU AI Act Annex IV inspired). */
export const ModelCardFieldsSchema = z
  .object({
    intendedUse: text(),
    outOfScopeUse: text(),
    limitations: text(),
    ethicalConsiderations: z.union([text(), list(z.object({ name: text(), mitigation: text().optional() }).passthrough())]),
    trainingData: text(),
    evaluationData: text(),
    license: text(),
    contacts: z.union([text(), list(text(MANIFEST_LIMITS.shortText))]),
    humanOversight: text(),
    riskManagement: text(),
    postMarketMonitoring: text(),
  })
  .partial()
  .passthrough()
  .refine((card) => Object.keys(card).length <= MANIFEST_LIMITS.entries, `must have at most ${MANIFEST_LIMITS.entries} fields`)
  .meta({ maxProperties: MANIFEST_LIMITS.entries });

/** Names of the model card fields a policy may require. */
export const MODEL_CARD_FIELDS = Object.keys(ModelCardFieldsSchema.shape) as Array<
  keyof z.infer<typeof ModelCardFieldsSchema>
>;

export const ModelCardSchema = z.union([
  z.object({ uri: artifactUri }).strict(),
  ModelCardFieldsSchema,
]);

/**
 * The promotion request (docs/manifest.md): the single definition of a manifest,
 * for the API, the CLI and the checks. The submitter is never a manifest field.
 */
export const PromotionManifestSchema = z
  .object({
    model: z.object({
      name: identifier,
      version: identifier,
      owner: text(200).min(1, 'must name the accountable owner'),
      riskTier: RiskTierSchema,
      description: text(10_000).default(''),
    }),
    target: identifier,
    artifact: z
      .object({
        uri: modelArtifactUri,
        /**
         * The artifact's digest. Optional only for a `models:/` artifact: MLflow keeps no digest, so
         * the worker computes it from the downloaded files and pins it (the `source_pinned` event).
         */
        sha256: sha256Hex.optional(),
        format: z.enum(ARTIFACT_FORMATS),
        signature: ArtifactSignatureSchema.optional(),
      })
      .refine((a) => a.sha256 !== undefined || MLFLOW_MODEL_URI.test(a.uri), { message: 'must be a sha256 digest (only a models:/ artifact may leave it out)', path: ['sha256'] }),
    lineage: LineageSchema.default({}),
    metrics: metricValues('must be a number').default({}),
    evaluation: EvaluationSchema.optional(),
    modelCard: ModelCardSchema.default({}),
    supersedes: shortText().optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    // Approvals, the registry of record and the alias guard key on model.name@model.version; the
    // artifact, checks and write-backs on the URI's. They must be one and the same version.
    const source = mlflowModelOf(m.artifact.uri);
    if (source && (source.model !== m.model.name || source.version !== m.model.version)) {
      ctx.addIssue({ code: 'custom', path: ['artifact', 'uri'], message: 'a models:/<name>/<version> artifact must name the manifest\'s own model.name and model.version' });
    }
  });

/** A validated promotion manifest (defaults applied, digests lowercase). */
export type PromotionManifest = z.infer<typeof PromotionManifestSchema>;
/** A manifest as written by a user, before defaults. */
export type PromotionManifestInput = z.input<typeof PromotionManifestSchema>;

/** The fields a revision may change: evidence, never the artifact or identity. */
export const ManifestRevisionSchema = z
  .object({
    lineage: LineageSchema.optional(),
    metrics: metricValues().optional(),
    evaluation: EvaluationSchema.optional(),
    modelCard: ModelCardSchema.optional(),
    description: text(10_000).optional(),
  })
  .strict();

/** Changes carried by a `revise` message. */
export type ManifestRevision = z.infer<typeof ManifestRevisionSchema>;

/** One problem found in an input: where (dotted path) and why. */
export interface InputProblem {
  path: string;
  message: string;
}

/** Turns zod issues into `{ path, message }` pairs with dotted paths (`model.version`). */
export function describeIssues(error: z.ZodError): InputProblem[] {
  return error.issues.flatMap((issue) => problemsOf(issue, []));
}

type Issue = z.ZodError['issues'][number];

/** Issues that say an alternative of a union does not fit the value's shape at all. */
const shapeMismatches = (issues: Issue[]) => issues.filter((i) => i.code === 'invalid_type' || i.code === 'unrecognized_keys').length;

function problemsOf(issue: Issue, prefix: PropertyKey[]): InputProblem[] {
  const path = [...prefix, ...issue.path];
  const where = path.length === 0 ? '(root)' : path.map(String).join('.');
  // A refused record key (a metric name) says why, not only "Invalid key in record".
  if (issue.code === 'invalid_key') return [{ path: where, message: `invalid key: ${issue.issues.map((i) => i.message).join('; ')}` }];
  // A union (a model card inline or by URI; contacts as text or a list) reports the problems of
  // the alternative that fits the value's shape, not only "Invalid input".
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    const [best] = [...issue.errors].sort((a, b) => shapeMismatches(a) - shapeMismatches(b) || a.length - b.length);
    if (best && shapeMismatches(best) === 0) return best.flatMap((i) => problemsOf(i, path));
    const expected = issue.errors.flat().flatMap((i) => (i.code === 'invalid_type' && i.path.length === 0 ? [i.expected] : []));
    if (expected.length === issue.errors.length) return [{ path: where, message: `Invalid input: expected ${expected.join(' or ')}` }];
  }
  return [{ path: where, message: issue.message }];
}

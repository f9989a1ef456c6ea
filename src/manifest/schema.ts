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

const sha256Hex = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hexadecimal characters (a sha256 digest)')
  .transform((s) => s.toLowerCase());

const artifactUri = z
  .string()
  .min(1, 'must not be empty')
  .refine((uri) => /^(file|https?):\/\//.test(uri), 'must be a file://, http:// or https:// URI');

/** Name of a model or environment: readable in workflow ids and URLs. */
const identifier = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'may contain letters, digits, ".", "_" and "-", starting with a letter or digit');

export const ArtifactSignatureSchema = z.object({
  keyId: z.string().min(1),
  algorithm: z.literal('ed25519'),
  /** Base64 signature over the artifact digest (the 64-character lowercase hex string). */
  value: z.string().min(1),
});

export const TrainingDataSchema = z.object({
  uri: z.string().min(1),
  sha256: sha256Hex.optional(),
  classification: z.enum(DATA_CLASSIFICATIONS),
  containsPersonalData: z.boolean(),
});

export const LineageSchema = z.object({
  codeCommit: z.string().min(1).optional(),
  trainingData: TrainingDataSchema.optional(),
  parentVersion: z.string().min(1).optional(),
  runId: z.string().min(1).optional(),
});

export const EvaluationSchema = z.object({
  /** Predictions file (CSV or JSONL). */
  uri: artifactUri,
  labelColumn: z.string().min(1),
  predictionColumn: z.string().min(1),
  scoreColumn: z.string().min(1).optional(),
  sensitiveColumns: z.array(z.string().min(1)).default([]),
  positiveLabel: z.union([z.string(), z.number(), z.boolean()]).default(1),
});

/** Model card fields (Model Card Toolkit / Hugging Face / EU AI Act Annex IV inspired). */
export const ModelCardFieldsSchema = z
  .object({
    intendedUse: z.string(),
    outOfScopeUse: z.string(),
    limitations: z.string(),
    ethicalConsiderations: z.union([
      z.string(),
      z.array(z.object({ name: z.string(), mitigation: z.string().optional() }).passthrough()),
    ]),
    trainingData: z.string(),
    evaluationData: z.string(),
    license: z.string(),
    contacts: z.union([z.string(), z.array(z.string())]),
    humanOversight: z.string(),
    riskManagement: z.string(),
    postMarketMonitoring: z.string(),
  })
  .partial()
  .passthrough();

/** Names of the model card fields a policy may require. */
export const MODEL_CARD_FIELDS = Object.keys(ModelCardFieldsSchema.shape) as Array<
  keyof z.infer<typeof ModelCardFieldsSchema>
>;

export const ModelCardSchema = z.union([
  z.object({ uri: artifactUri }).strict(),
  ModelCardFieldsSchema,
]);

/**
 * The promotion request (DESIGN.md §2): the single definition of a manifest,
 * for the API, the CLI and the checks. The submitter is never a manifest field.
 */
export const PromotionManifestSchema = z
  .object({
    model: z.object({
      name: identifier,
      version: identifier,
      owner: z.string().min(1, 'must name the accountable owner'),
      riskTier: RiskTierSchema,
      description: z.string().default(''),
    }),
    target: identifier,
    artifact: z.object({
      uri: artifactUri,
      sha256: sha256Hex,
      format: z.enum(ARTIFACT_FORMATS),
      signature: ArtifactSignatureSchema.optional(),
    }),
    lineage: LineageSchema.default({}),
    metrics: z.record(z.string(), z.number({ error: 'must be a number' })).default({}),
    evaluation: EvaluationSchema.optional(),
    modelCard: ModelCardSchema.default({}),
    supersedes: z.string().min(1).optional(),
  })
  .strict();

/** A validated promotion manifest (defaults applied, digests lowercase). */
export type PromotionManifest = z.infer<typeof PromotionManifestSchema>;
/** A manifest as written by a user, before defaults. */
export type PromotionManifestInput = z.input<typeof PromotionManifestSchema>;

/** The fields a revision may change: evidence, never the artifact or identity. */
export const ManifestRevisionSchema = z
  .object({
    lineage: LineageSchema.optional(),
    metrics: z.record(z.string(), z.number()).optional(),
    evaluation: EvaluationSchema.optional(),
    modelCard: ModelCardSchema.optional(),
    description: z.string().optional(),
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
  return error.issues.map((issue) => ({
    path: issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.'),
    message: issue.message,
  }));
}

import { z } from 'zod';
import { DATA_CLASSIFICATIONS, MODEL_CARD_FIELDS } from '../manifest/schema';
import { DEFAULT_SCAN_LIMITS } from '../shared/scan-limits';

/**
 * How a check counts: `required` (a fail blocks the promotion), `advisory`
 * (a fail is a warning) or `off` (not run).
 */
export const EnforcementSchema = z.enum(['required', 'advisory', 'off']);
export type Enforcement = z.infer<typeof EnforcementSchema>;

const metricThresholds = z.record(z.string(), z.number());
const bound = z.object({ min: z.number().optional(), max: z.number().optional() }).strict();

/** Settings of the `integrity` check. */
export const IntegritySettingsSchema = z
  .object({
    enforcement: EnforcementSchema.default('required'),
    /** Refuse artifacts without a valid signature from a trusted key. */
    requireSignature: z.boolean().default(false),
  })
  .strict();

/** Settings of the `security` check (static artifact scan). */
export const SecuritySettingsSchema = z
  .object({
    enforcement: EnforcementSchema.default('required'),
    /** Extra `module.name` globals allowed in pickles beyond the built-in allowlist. */
    allowGlobals: z.array(z.string()).default([]),
    /** Formats refused outright (e.g. `pickle` for high tier). */
    denyFormats: z.array(z.string()).default([]),
    /** Upper bound on the total uncompressed size of archive members, bytes (the scanner's default). */
    maxUncompressedBytes: z.number().int().positive().default(DEFAULT_SCAN_LIMITS.maxUncompressedBytes),
  })
  .strict();

/** Settings of the `performance` check. */
export const PerformanceSettingsSchema = z
  .object({
    enforcement: EnforcementSchema.default('required'),
    /** Metrics that must be at least this value (accuracy, f1, rocAuc, r2, …). */
    min: metricThresholds.default({}),
    /** Metrics that must be at most this value (logLoss, mse, mae, …). */
    max: metricThresholds.default({}),
    /** Largest allowed drop against the version serving the target (for lower-is-better metrics: rise). */
    maxRegression: metricThresholds.default({}),
    /** Recompute metrics from the evaluation file when it is given (declared metrics otherwise). */
    recompute: z.boolean().default(true),
    /** Largest allowed gap between a declared and a recomputed metric. */
    declaredTolerance: z.number().min(0).default(0.005),
    /**
     * What the evaluation file holds: `auto` treats numeric labels with fractions or more than 20
     * distinct values as regression, everything else as classification.
     */
    task: z.enum(['auto', 'classification', 'regression']).default('auto'),
  })
  .strict();

/** Settings of the `fairness` check (Fairlearn's between-group definitions). */
export const FairnessSettingsSchema = z
  .object({
    enforcement: EnforcementSchema.default('advisory'),
    demographicParityDifference: bound.optional(),
    demographicParityRatio: bound.optional(),
    equalizedOddsDifference: bound.optional(),
    equalizedOddsRatio: bound.optional(),
    equalOpportunityDifference: bound.optional(),
    /** Apply the four-fifths rule to selection rates. */
    fourFifthsRule: z.boolean().default(true),
    /** Groups smaller than this are reported as too small (never silently dropped). */
    minGroupSize: z.number().int().min(1).default(30),
    /**
     * Whether groups below `minGroupSize` take part in the disparity metrics (`include`, as
     * Fairlearn computes them) or are left out of them (`exclude`); either way they are reported.
     */
    smallGroups: z.enum(['include', 'exclude']).default('include'),
    /** Fail when the manifest gives no evaluation file with sensitive columns. */
    requireEvaluation: z.boolean().default(false),
  })
  .strict();

/** Settings of the `modelCard` check. */
export const ModelCardSettingsSchema = z
  .object({
    enforcement: EnforcementSchema.default('required'),
    requiredFields: z.array(z.enum(MODEL_CARD_FIELDS as [string, ...string[]])).default([]),
    /**
     * When `requiredFields` is empty, require the built-in fields for the model's risk tier
     * (low: intendedUse, limitations; medium adds outOfScopeUse, ethicalConsiderations,
     * trainingData, evaluationData, license, contacts; high adds humanOversight, riskManagement,
     * postMarketMonitoring).
     */
    tierDefaults: z.boolean().default(true),
    /** A field shorter than this (after trimming) counts as trivial. */
    minFieldLength: z.number().int().min(0).default(20),
  })
  .strict();

/** Settings of the `lineage` check. */
export const LineageSettingsSchema = z
  .object({
    enforcement: EnforcementSchema.default('required'),
    requireCodeCommit: z.boolean().default(true),
    requireTrainingData: z.boolean().default(true),
    requireTrainingDataDigest: z.boolean().default(false),
    requireParentInRegistry: z.boolean().default(true),
  })
  .strict();

/** Settings of the `privacy` check. */
export const PrivacySettingsSchema = z
  .object({
    enforcement: EnforcementSchema.default('required'),
    /** Training-data classifications allowed for the target. */
    allowedClassifications: z.array(z.enum(DATA_CLASSIFICATIONS)).default([...DATA_CLASSIFICATIONS]),
    /** What personal data in training data means: allowed, needs the legal gate, or refused. */
    personalData: z.enum(['allow', 'require_legal_review', 'deny']).default('require_legal_review'),
    /** Scan the model card and evaluation sample for e-mails, phone numbers, national ids. */
    scanForPersonalData: z.boolean().default(true),
    /** Rows of the evaluation file sampled by the personal-data scan. */
    sampleRows: z.number().int().min(0).default(1000),
  })
  .strict();

/** Settings of every check; the policy merges defaults, tier and target overrides into one. */
export const CheckSettingsSchema = z
  .object({
    integrity: IntegritySettingsSchema.default(IntegritySettingsSchema.parse({})),
    security: SecuritySettingsSchema.default(SecuritySettingsSchema.parse({})),
    performance: PerformanceSettingsSchema.default(PerformanceSettingsSchema.parse({})),
    fairness: FairnessSettingsSchema.default(FairnessSettingsSchema.parse({})),
    modelCard: ModelCardSettingsSchema.default(ModelCardSettingsSchema.parse({})),
    lineage: LineageSettingsSchema.default(LineageSettingsSchema.parse({})),
    privacy: PrivacySettingsSchema.default(PrivacySettingsSchema.parse({})),
  })
  .strict();

/** Resolved settings of every check for one promotion. */
export type CheckSettings = z.infer<typeof CheckSettingsSchema>;
/** Check settings as written in a policy file (every field optional). */
export type CheckSettingsInput = z.input<typeof CheckSettingsSchema>;

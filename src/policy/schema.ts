import { z } from 'zod';
import { CheckSettingsSchema } from './check-settings';
import { DATA_CLASSIFICATIONS, RISK_TIERS } from '../manifest/schema';
import { parseDuration } from '../shared/duration';

/** A duration string such as `"72h"`, `"30m"`, `"14d"`. */
export const DurationSchema = z
  .string()
  .refine((s) => parseDuration(s) !== undefined, 'must be a duration such as "30m", "72h" or "14d"');

const role = z.string().min(1, 'must not be empty');
const roles = z.array(role).min(1, 'must name at least one role');
const name = z
  .string()
  .min(1)
  .regex(/^[a-z0-9][a-z0-9_-]*$/, 'must be lowercase letters, digits, "-" or "_"');

/**
 * A check's settings as an override writes them: any subset, each field WITHOUT its default, so an
 * override that sets one field leaves the others as the layers below set them (a tier that only
 * says `fairness: { requireEvaluation: true }` must not reset the fairness check to advisory).
 */
function overrideOf(settings: z.ZodObject): z.ZodObject {
  const fields = Object.entries(settings.shape).map(([field, schema]) => {
    const inner = schema instanceof z.ZodDefault ? (schema.unwrap() as z.ZodType) : (schema as z.ZodType);
    return [field, inner.optional()] as const;
  });
  return z.object(Object.fromEntries(fields)).strict();
}

/** Check settings as a policy writes them: any subset of any check's settings. */
const CheckOverridesSchema = z
  .object(
    Object.fromEntries(
      Object.entries(CheckSettingsSchema.shape).map(([key, schema]) => [key, overrideOf((schema as z.ZodDefault<z.ZodObject>).unwrap()).optional()]),
    ) as {
      [K in keyof typeof CheckSettingsSchema.shape]: z.ZodOptional<z.ZodObject>;
    },
  )
  .strict();

/** A review gate: who may sign, how many, and by when. */
export const GateSchema = z
  .object({
    name,
    /** Title shown to reviewers, e.g. "Fairness & bias review". */
    title: z.string().optional(),
    /** Any of these roles may sign the gate. */
    roles,
    /** Distinct approvers needed. */
    quorum: z.number().int().min(1).default(1),
    /** After this long: a reminder, and escalation to `escalateTo`. */
    sla: DurationSchema.optional(),
    /** Roles the gate escalates to after its SLA; they may then sign it too. */
    escalateTo: z.array(role).default([]),
    /** Hard deadline from the gate's opening. */
    timeout: DurationSchema.optional(),
    /** What a passed hard deadline means. */
    onTimeout: z.enum(['reject', 'expire']).default('expire'),
  })
  .strict();

/** A stage: gates that run in parallel; stages run in order. */
export const StageSchema = z
  .object({
    name,
    gates: z.array(GateSchema).min(1, 'a stage needs at least one gate'),
  })
  .strict();

/** When no human gate is needed. */
export const AutoApproveSchema = z
  .object({
    /** Every check that ran passed (no fail, error or warn; waived checks do not count as passed). */
    allChecksPass: z.boolean().default(true),
    /** Metrics (from the performance check, else declared) that must reach these values. */
    minMetrics: z.record(z.string(), z.number()).default({}),
  })
  .strict();

/** Review of one tier, possibly specialised per target. */
export const TierRulesSchema = z
  .object({
    checks: CheckOverridesSchema.optional(),
    autoApprove: AutoApproveSchema.optional(),
    /** Used whenever auto-approval does not apply. */
    stages: z.array(StageSchema).min(1, 'a tier needs at least one stage (used when auto-approval does not apply)'),
  })
  .strict();

/** A rule that raises the risk tier (never lowers it). */
export const TierRaiseSchema = z
  .object({
    when: z
      .object({
        containsPersonalData: z.boolean().optional(),
        classificationAtLeast: z.enum(DATA_CLASSIFICATIONS).optional(),
        targets: z.array(z.string()).optional(),
      })
      .strict()
      .refine((w) => Object.keys(w).length > 0, 'must state at least one condition'),
    raiseTo: z.enum(RISK_TIERS),
    reason: z.string().min(1),
  })
  .strict();

/** Where notifications of promotion events go. */
export const NotificationTargetSchema = z
  .object({
    url: z.url('must be an http(s) URL'),
    /** Event kinds delivered to this URL; `["*"]` for all. */
    events: z.array(z.string().min(1)).min(1).default(['*']),
  })
  .strict();

/** Algorithms of trusted keys: Ed25519 (digest signatures) and the ECDSA curves OMS key-based bundles use. */
export const TRUSTED_KEY_ALGORITHMS = ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'ecdsa-p521'] as const;

/** Bounds of the policy's trust material: far above real use, low enough to bound verification work. */
export const TRUST_LIMITS = { keys: 50, roots: 20, pemCharacters: 8_000 } as const;

/** A trusted signing key for artifact signatures. */
export const TrustedKeySchema = z
  .object({
    keyId: z.string().min(1).max(200),
    algorithm: z.enum(TRUSTED_KEY_ALGORITHMS),
    /** Ed25519: base64 of the raw 32-byte public key, or a PEM (SPKI) block; ECDSA: a PEM (SPKI) block. */
    publicKey: z.string().min(1).max(TRUST_LIMITS.pemCharacters),
  })
  .strict();

/** A certificate authority trusted to issue the signing certificates of OMS certificate-based bundles. */
export const TrustedRootSchema = z
  .object({
    name: z.string().min(1).max(200),
    /** The CA certificate, PEM. */
    certificate: z.string().min(1).max(TRUST_LIMITS.pemCharacters).regex(/-----BEGIN CERTIFICATE-----/, 'must be a PEM certificate'),
  })
  .strict();

/** How often and how patiently a deployment provider is retried before the deployment is rolled back. */
export const DeploymentRetrySchema = z
  .object({
    maximumAttempts: z.number().int().min(1).max(100).default(5),
    initialInterval: DurationSchema.default('2s'),
    backoffCoefficient: z.number().min(1).max(10).default(2),
    maximumInterval: DurationSchema.default('1m'),
  })
  .strict();

const environmentVariableName = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name (A-Z, 0-9, _)');

/**
 * Provisioning through an HTTP deployer: a signed POST per deployment
 * (`Idempotency-Key`, `X-Modelgate-Signature: sha256=<HMAC of the body>`).
 */
export const WebhookDeploymentSchema = z
  .object({
    provider: z.literal('webhook'),
    url: z.url('must be an http(s) URL'),
    /** Environment variable (of the worker and the API) holding the HMAC key; never the key itself. */
    secretEnv: environmentVariableName.default('MODELGATE_DEPLOY_WEBHOOK_SECRET'),
    /** `sync`: a 2xx answer means deployed. `callback`: a 202 means accepted, completion comes later through the API. */
    completion: z.enum(['sync', 'callback']).default('sync'),
    /** How long a `callback` deployment may take before it is rolled back. */
    callbackTimeout: DurationSchema.default('30m'),
    /** Time limit of one request. */
    requestTimeout: DurationSchema.default('30s'),
    retry: DeploymentRetrySchema.default(DeploymentRetrySchema.parse({})),
  })
  .strict();

/** Provisioning by GitOps: a KServe InferenceService committed to a git working copy (pushed when it has the remote). */
export const GitOpsDeploymentSchema = z
  .object({
    provider: z.literal('gitops'),
    /** Path of the git working copy on the worker (relative paths from the worker's working directory). */
    repository: z.string().min(1),
    /** File of the manifest inside the repository; `{model}` and `{environment}` are replaced. */
    path: z.string().min(1).default('models/{model}/{environment}.yaml'),
    /** Remote to push to, when the working copy has it. */
    remote: z.string().min(1).default('origin'),
    /** Branch to push to. */
    branch: z.string().min(1).default('main'),
    /** Kubernetes namespace of the InferenceService. */
    namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a Kubernetes namespace name').default('models'),
    /** Time limit of one attempt (write, commit, push). */
    requestTimeout: DurationSchema.default('2m'),
    retry: DeploymentRetrySchema.default(DeploymentRetrySchema.parse({})),
  })
  .strict();

/** How an approved version reaches an environment's serving infrastructure. */
export const DeploymentSchema = z.discriminatedUnion('provider', [WebhookDeploymentSchema, GitOpsDeploymentSchema]);

/**
 * Which registry is the record of an environment: `builtin` (PostgreSQL) or `mlflow` (the MLflow
 * Model Registry's alias, cross-checked with the approvals in PostgreSQL; docs/policy.md#registry).
 */
export const REGISTRY_KINDS = ['builtin', 'mlflow'] as const;

/** One of {@link REGISTRY_KINDS}. */
export type RegistryKind = (typeof REGISTRY_KINDS)[number];

/** A target environment the policy governs. */
export const EnvironmentSchema = z
  .object({
    description: z.string().optional(),
    /** Check overrides for this environment (applied after the tier's). */
    checks: CheckOverridesSchema.optional(),
    /** Per-tier replacements of review rules in this environment. */
    tiers: z.partialRecord(z.enum(RISK_TIERS), TierRulesSchema).optional(),
    /** Provisioning on approval; without it an approval moves the registry only. */
    deployment: DeploymentSchema.optional(),
    /** The environment's registry of record (default `builtin`). */
    registry: z.enum(REGISTRY_KINDS, { error: `must be one of ${REGISTRY_KINDS.join(', ')}` }).default('builtin'),
  })
  .strict();

/** A policy file (docs/policy.md): policy as code, versioned, validated at load. */
export const PolicySchema = z
  .object({
    apiVersion: z.literal('modelgate/v1'),
    kind: z.literal('PromotionPolicy'),
    name,
    version: z.string().min(1, 'a policy must carry a version'),
    description: z.string().default(''),
    environments: z.record(name, EnvironmentSchema).refine((e) => Object.keys(e).length > 0, 'must define at least one environment'),
    tierRaise: z.array(TierRaiseSchema).default([]),
    /** Check defaults for every tier and environment. */
    checks: CheckOverridesSchema.default({}),
    tiers: z.object({ low: TierRulesSchema, medium: TierRulesSchema, high: TierRulesSchema }).strict(),
    /**
     * Roles that may submit a promotion under this policy. A policy that names none accepts no
     * submission (re-certifications, started by Modelgate itself, need no role).
     */
    submitters: z.array(role).default([]),
    /**
     * Roles whose messages are accepted as Temporal Signals: operators acting on Temporal directly
     * (the Temporal CLI or UI), for example while the API is down. A Signal whose actor holds none
     * is refused and recorded; an accepted one is recorded `via: signal` with the caller's Temporal
     * identity. A policy that names none accepts no Signal.
     */
    operatorSignals: z.array(role).default([]),
    separationOfDuties: z
      .object({
        /** One person may sign several gates of one promotion. */
        allowSamePersonOnMultipleGates: z.boolean().default(false),
      })
      .strict()
      .default({ allowSamePersonOnMultipleGates: false }),
    overrides: z
      .object({
        /** Roles that may waive a failed check (with a justification). */
        waiveCheck: z.array(role).default([]),
        /** Roles that may pass a gate by force (break-glass, with a justification). */
        forceGate: z.array(role).default([]),
        /** Roles that may expedite a promotion. */
        expedite: z.array(role).default([]),
        /** Roles that may withdraw any promotion (the submitter always may). */
        withdraw: z.array(role).default([]),
        /** Roles that may roll an environment back to its previous approved version (with a justification). */
        rollback: z.array(role).default([]),
      })
      .strict()
      .default({ waiveCheck: [], forceGate: [], expedite: [], withdraw: [], rollback: [] }),
    expedite: z
      .object({ sla: DurationSchema.optional(), timeout: DurationSchema.optional() })
      .strict()
      .default({}),
    remediationWindow: DurationSchema.default('14d'),
    approvalValidFor: DurationSchema.default('365d'),
    recertification: z
      .object({
        /** How long before an approval expires the owner and reviewers are told. */
        notifyBefore: DurationSchema.default('14d'),
        /** Roles that may ask for re-certification at once (drift from monitoring, a policy change). */
        requestRoles: z.array(role).default([]),
      })
      .strict()
      .default({ notifyBefore: '14d', requestRoles: [] }),
    notifications: z.array(NotificationTargetSchema).default([]),
    trustedKeys: z.array(TrustedKeySchema).max(TRUST_LIMITS.keys).default([]),
    trustedRoots: z.array(TrustedRootSchema).max(TRUST_LIMITS.roots).default([]),
  })
  .strict()
  .superRefine((policy, ctx) => {
    const allTiers: Array<[string[], z.infer<typeof TierRulesSchema>]> = [
      ...RISK_TIERS.map((t) => [['tiers', t], policy.tiers[t]] as [string[], z.infer<typeof TierRulesSchema>]),
      ...Object.entries(policy.environments).flatMap(([env, e]) =>
        Object.entries(e.tiers ?? {}).map(
          ([t, rules]) => [['environments', env, 'tiers', t], rules] as [string[], z.infer<typeof TierRulesSchema>],
        ),
      ),
    ];
    for (const [at, rules] of allTiers) {
      const seen = new Set<string>();
      rules.stages.forEach((stage, s) =>
        stage.gates.forEach((gate, g) => {
          if (seen.has(gate.name)) {
            ctx.addIssue({
              code: 'custom',
              path: [...at, 'stages', s, 'gates', g, 'name'],
              message: `gate "${gate.name}" appears twice in this tier`,
            });
          }
          seen.add(gate.name);
          if (gate.sla && gate.timeout && parseDuration(gate.sla)! >= parseDuration(gate.timeout)!) {
            ctx.addIssue({
              code: 'custom',
              path: [...at, 'stages', s, 'gates', g, 'sla'],
              message: 'the SLA must be shorter than the hard timeout',
            });
          }
        }),
      );
    }
    policy.tierRaise.forEach((rule, i) =>
      (rule.when.targets ?? []).forEach((target, j) => {
        if (!(target in policy.environments)) {
          ctx.addIssue({ code: 'custom', path: ['tierRaise', i, 'when', 'targets', j], message: `unknown environment "${target}"` });
        }
      }),
    );
    if (parseDuration(policy.recertification.notifyBefore)! >= parseDuration(policy.approvalValidFor)!) {
      ctx.addIssue({
        code: 'custom',
        path: ['recertification', 'notifyBefore'],
        message: 'must be shorter than approvalValidFor',
      });
    }
  });

/** A validated policy. */
export type Policy = z.infer<typeof PolicySchema>;
/** A review gate as the policy defines it. */
export type GateDefinition = z.infer<typeof GateSchema>;
/** A stage as the policy defines it. */
export type StageDefinition = z.infer<typeof StageSchema>;
/** An auto-approval condition. */
export type AutoApproveCondition = z.infer<typeof AutoApproveSchema>;
/** A notification target. */
export type NotificationTarget = z.infer<typeof NotificationTargetSchema>;
/** A trusted signing key. */
export type PolicyTrustedKey = z.infer<typeof TrustedKeySchema>;
/** A trusted root certificate authority. */
export type PolicyTrustedRoot = z.infer<typeof TrustedRootSchema>;
/** An environment's deployment provider as the policy defines it. */
export type DeploymentDefinition = z.infer<typeof DeploymentSchema>;

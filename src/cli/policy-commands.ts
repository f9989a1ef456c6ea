// `modelgate init | policy check | policy explain`: tools that run locally, without a server,
// to write a first manifest and to read a policy before anything is submitted.
import { execFile } from 'node:child_process';
import { open, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { type Command, Option } from 'commander';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { localArtifact } from '../checks/artifact-source';
import { digestArtifact } from '../checks/digest';
import { errorMessage } from '../checks/errors';
import { TIER_MODEL_CARD_FIELDS } from '../checks/governance-checks';
import { detectFormat } from '../checks/security/scanner';
import { DATA_CLASSIFICATIONS, MODEL_CARD_FIELDS, type PromotionManifest, PromotionManifestSchema, RISK_TIERS, type RiskTier, describeIssues } from '../manifest/schema';
import { PolicyLoadError, loadPolicyFile, resolvePolicy } from '../policy';
import { explainPolicy, renderPolicyExplanation } from '../policy/explain';
import { DEFAULT_POLICY_FILE } from './check-commands';

const EXIT_OK = 0;
const EXIT_USAGE = 2;

/** A problem with the command's input: printed as `modelgate: <message>`, exit code 2. */
class PolicyToolProblem extends Error {}

const print = (text: string) => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
const complain = (message: string) => void process.stderr.write(`modelgate: ${message}\n`);

/** What a starter manifest's model card says for a field until its owner writes it. */
const MODEL_CARD_PROMPTS: Record<(typeof MODEL_CARD_FIELDS)[number], string> = {
  intendedUse: 'TODO: who uses this model, for which decision, and who stays responsible for it.',
  outOfScopeUse: 'TODO: uses this model must not be put to, and populations it was not built for.',
  limitations: 'TODO: known weaknesses, inputs it was not trained on, conditions where it degrades.',
  ethicalConsiderations: 'TODO: groups that could be harmed, and how that risk is measured and reduced.',
  trainingData: 'TODO: what the training data is, where it comes from, its period and its size.',
  evaluationData: 'TODO: what the evaluation data is, how it was held out, and its size.',
  license: 'TODO: the license under which the model and its weights may be used.',
  contacts: 'TODO: the team answerable for this model and how to reach it (not a personal address).',
  humanOversight: 'TODO: which decisions a person confirms, and how they can override the model.',
  riskManagement: 'TODO: the risks identified, their controls, and what triggers a rollback.',
  postMarketMonitoring: 'TODO: what is monitored in production, how often, and what triggers re-certification.',
};

/** Column names `init` recognises in an evaluation file's header. */
const EVALUATION_COLUMNS = {
  label: ['label', 'y', 'y_true', 'target', 'actual'],
  prediction: ['prediction', 'pred', 'y_pred', 'predicted'],
  score: ['score', 'proba', 'probability', 'y_score'],
  sensitive: ['group', 'gender', 'sex', 'age_group', 'race', 'ethnicity', 'region'],
};

/** The manifest format of an artifact, from its first bytes and its name (as the scanner reads it). */
export async function detectArtifactFormat(file: string): Promise<PromotionManifest['artifact']['format']> {
  const info = await stat(file);
  const ext = path.extname(file).toLowerCase();
  if (info.isDirectory()) return 'other';
  const handle = await open(file, 'r');
  let head: Buffer;
  try {
    const buffer = Buffer.alloc(64);
    const { bytesRead } = await handle.read(buffer, 0, 64, 0);
    head = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const detected = detectFormat(head, path.basename(file), info.size);
  switch (detected) {
    case 'safetensors':
      return 'safetensors';
    case 'onnx':
      return 'onnx';
    case 'hdf5':
      return 'keras';
    case 'pickle':
    case 'gzip':
    case 'zlib':
      if (ext === '.joblib') return 'joblib';
      if (['.pt', '.pth', '.ckpt'].includes(ext)) return 'pytorch';
      return 'pickle';
    case 'zip':
      if (['.pt', '.pth', '.bin', '.ckpt'].includes(ext)) return 'pytorch';
      if (ext === '.keras') return 'keras';
      return 'other';
    default:
      return 'other';
  }
}

/** The `file://` URI of `target` as written in a manifest kept in `manifestDir`: relative inside it, absolute outside. */
export function fileUriFor(target: string, manifestDir: string): string {
  const relative = path.relative(manifestDir, target);
  if (relative && !relative.startsWith('..') && !path.isAbsolute(relative)) return `file://${relative.split(path.sep).join('/')}`;
  return pathToFileURL(target).href;
}

async function gitCommitOf(dir: string): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)('git', ['rev-parse', 'HEAD'], { cwd: dir, timeout: 5_000 });
    const commit = stdout.trim();
    return /^[0-9a-f]{40}$/.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

/** Options of `modelgate init`. */
export interface StarterManifestOptions {
  artifact: string;
  tier: RiskTier;
  target: string;
  policyFile: string;
  /** Folder the manifest will be kept in: relative URIs are written against it. */
  manifestDir: string;
  name?: string;
  version?: string;
  owner?: string;
  evaluation?: string;
  sensitive?: string[];
  trainingData?: string;
  /** Commit of the training code (default: HEAD of the git repository holding the artifact). */
  codeCommit?: string;
  classification?: (typeof DATA_CLASSIFICATIONS)[number];
  personalData?: boolean;
}

const yamlValue = (value: unknown) => stringifyYaml(value, { lineWidth: 0, collectionStyle: 'flow' }).trimEnd();

/**
 * Writes a starter manifest for an artifact: its digest and format computed from the file, the
 * model card fields and lineage the policy asks for at the effective tier and target, an
 * evaluation section when an evaluation file is given, and comments saying what to fill in.
 * The text is validated against the manifest schema before it is returned.
 */
export async function starterManifest(options: StarterManifestOptions): Promise<string> {
  const artifactPath = path.resolve(options.artifact);
  const artifact = await localArtifact(artifactPath).catch((err: unknown) => {
    throw new PolicyToolProblem(errorMessage(err));
  });
  const digest = await digestArtifact(artifact);
  const format = await detectArtifactFormat(artifactPath);
  const loaded = await loadPolicyFile(options.policyFile);
  const base = path.basename(artifactPath).replace(/\.[^.]*$/, '');
  const name = options.name ?? (base.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'model');
  const commit = options.codeCommit ?? (await gitCommitOf(path.dirname(artifactPath)));
  const trainingData = {
    uri: options.trainingData ?? 's3://TODO-bucket/TODO-training-data',
    classification: options.classification ?? 'internal',
    containsPersonalData: options.personalData ?? false,
  };

  let evaluation: Record<string, unknown> | undefined;
  if (options.evaluation) {
    const evaluationPath = path.resolve(options.evaluation);
    const header = (await readFile(evaluationPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new PolicyToolProblem(`cannot read evaluation file ${options.evaluation}: ${err.code ?? err.message}`);
    })).split(/\r?\n/, 1)[0]!;
    const columns = header.split(',').map((c) => c.trim().replace(/^"|"$/g, ''));
    const pick = (names: string[]) => columns.find((c) => names.includes(c.toLowerCase()));
    const label = pick(EVALUATION_COLUMNS.label);
    const prediction = pick(EVALUATION_COLUMNS.prediction);
    if (!label || !prediction) {
      throw new PolicyToolProblem(`evaluation file ${options.evaluation}: no label or prediction column among ${columns.join(', ')} (expected one of ${EVALUATION_COLUMNS.label.join('/')} and ${EVALUATION_COLUMNS.prediction.join('/')})`);
    }
    const score = pick(EVALUATION_COLUMNS.score);
    const sensitive = options.sensitive ?? columns.filter((c) => EVALUATION_COLUMNS.sensitive.includes(c.toLowerCase()));
    evaluation = {
      uri: fileUriFor(evaluationPath, options.manifestDir),
      labelColumn: label,
      predictionColumn: prediction,
      ...(score ? { scoreColumn: score } : {}),
      sensitiveColumns: sensitive,
      positiveLabel: 1,
    };
  }

  // A draft with every model card field, to resolve what the policy asks for at the effective tier.
  const draft = PromotionManifestSchema.parse({
    model: { name, version: options.version ?? '0.1.0', owner: options.owner ?? 'TODO-owner', riskTier: options.tier },
    target: options.target,
    artifact: { uri: fileUriFor(artifactPath, options.manifestDir), sha256: digest.sha256, format },
    lineage: { trainingData },
  });
  let resolved;
  try {
    resolved = resolvePolicy(loaded, draft);
  } catch (err) {
    throw new PolicyToolProblem(errorMessage(err));
  }
  const cardSettings = resolved.checks.modelCard;
  const requiredFields = cardSettings.enforcement === 'off'
    ? []
    : cardSettings.requiredFields.length > 0
      ? cardSettings.requiredFields
      : cardSettings.tierDefaults
        ? TIER_MODEL_CARD_FIELDS[draft.model.riskTier]
        : [];
  const lineageSettings = resolved.checks.lineage;
  const fairness = resolved.checks.fairness;

  const lines: string[] = [
    `# Starter manifest written by \`modelgate init\` for policy ${loaded.policy.name}@${loaded.policy.version}.`,
    `# Effective risk tier: ${resolved.effectiveTier}${resolved.tierReasons.length > 0 ? ` (declared ${options.tier}; raised: ${resolved.tierReasons.join('; ')})` : ''}; target: ${options.target}.`,
    '# Replace every TODO before submitting: the checks count characters, reviewers read the text.',
    '# Check it locally:  npx modelgate check <this file>',
    '# See what the policy will ask: npx modelgate policy explain <this file>',
    'model:',
    `  name: ${yamlValue(name)}`,
    `  version: ${yamlValue(options.version ?? '0.1.0')}`,
    `  owner: ${yamlValue(options.owner ?? 'TODO-owner')}   # the accountable owner; never a reviewer of this promotion`,
    `  riskTier: ${options.tier}`,
    `  description: ${yamlValue(`TODO: what ${name} predicts, for whom.`)}`,
    `target: ${yamlValue(options.target)}`,
    'artifact:',
    `  uri: ${yamlValue(draft.artifact.uri)}   # relative URIs are resolved against this file's folder by the CLI`,
    `  sha256: ${digest.sha256}   # ${digest.kind === 'file' ? 'of the file' : `root digest of the ${digest.files.length} files of the folder`}`,
    `  format: ${format}   # detected from the content`,
    'lineage:',
    `  codeCommit: ${yamlValue(commit ?? 'TODO-commit-of-the-training-code')}   # ${commit && !options.codeCommit ? 'HEAD of the git repository holding the artifact: is it the commit of the training code?' : 'the commit of the training code'}${lineageSettings.requireCodeCommit ? ' (required by the policy)' : ''}`,
    `  trainingData:${lineageSettings.requireTrainingData ? '   # required by the policy' : ''}`,
    `    uri: ${yamlValue(trainingData.uri)}   # a reference (s3://, gs://, …) is recorded, never read`,
    `    classification: ${trainingData.classification}   # ${DATA_CLASSIFICATIONS.join(' | ')}; allowed here: ${resolved.checks.privacy.allowedClassifications.join(', ')}`,
    `    containsPersonalData: ${trainingData.containsPersonalData}   # personal data: ${resolved.checks.privacy.personalData}`,
    ...(lineageSettings.requireTrainingDataDigest ? ['    # sha256: the policy requires the training data digest (64 hex characters)'] : []),
  ];
  if (evaluation) {
    lines.push(`evaluation:${fairness.requireEvaluation ? '   # required by the policy (fairness evidence)' : ''}`);
    for (const [key, value] of Object.entries(evaluation)) lines.push(`  ${key}: ${yamlValue(value)}`);
  } else {
    lines.push(
      `# evaluation:   # ${fairness.requireEvaluation ? 'REQUIRED by the policy at this tier (fairness evidence): ' : ''}a CSV or JSONL of predictions (modelgate init --evaluation <file>)`,
      '#   uri: file://evaluation.csv',
      '#   labelColumn: label',
      '#   predictionColumn: prediction',
      '#   sensitiveColumns: [group]',
    );
  }
  const thresholds = Object.entries(resolved.checks.performance.min).map(([m, v]) => `${m} ≥ ${v}`);
  lines.push(`metrics: {}   # declared metrics; recomputed from the evaluation file when there is one${thresholds.length ? ` (policy: ${thresholds.join(', ')})` : ''}`);
  if (requiredFields.length === 0) lines.push('modelCard: {}   # the policy requires no model card field here');
  else {
    lines.push(`modelCard:   # fields the policy requires at this tier and target (each at least ${cardSettings.minFieldLength} characters)`);
    for (const field of requiredFields) lines.push(`  ${field}: ${yamlValue(MODEL_CARD_PROMPTS[field as keyof typeof MODEL_CARD_PROMPTS])}`);
  }
  const text = `${lines.join('\n')}\n`;
  const parsed = PromotionManifestSchema.safeParse(parseYaml(text));
  if (!parsed.success) {
    throw new PolicyToolProblem(`the starter manifest would be invalid:\n${describeIssues(parsed.error).map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
  }
  return text;
}

async function readManifestFile(file: string): Promise<PromotionManifest> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new PolicyToolProblem(`cannot read manifest ${file}: ${err.code ?? err.message}`);
  });
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new PolicyToolProblem(`manifest ${file} is not YAML or JSON: ${errorMessage(err).split('\n')[0]}`);
  }
  const parsed = PromotionManifestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new PolicyToolProblem(`manifest ${file} is invalid:\n${describeIssues(parsed.error).map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
  }
  return parsed.data;
}

/** Runs a command body: a {@link PolicyToolProblem} or {@link PolicyLoadError} is printed and exits 2. */
function runTool(setExitCode: (code: number) => void, body: () => Promise<void>): Promise<void> {
  return body().then(
    () => setExitCode(EXIT_OK),
    (err: unknown) => {
      if (!(err instanceof PolicyToolProblem || err instanceof PolicyLoadError || (err instanceof Error && err.name === 'PolicyRefusal'))) throw err;
      complain(err.message);
      setExitCode(EXIT_USAGE);
    },
  );
}

/**
 * Adds `init` (a starter manifest for an artifact) and `policy check` / `policy explain` to the
 * `modelgate` program. They run locally; `setExitCode` receives 0 or 2 (invalid input or policy).
 */
export function registerPolicyCommands(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('init')
    .description('write a starter manifest for a model file or folder: digest, format, and what the policy requires at its tier and target')
    .argument('<artifact>', 'the model file or folder')
    .addOption(new Option('--tier <tier>', 'declared risk tier').choices([...RISK_TIERS]).default('medium'))
    .option('--target <environment>', 'target environment', 'production')
    .option('--policy <file>', 'policy file (default: the shipped policies/default.yaml)')
    .option('--name <name>', 'model name (default: from the file name)')
    .option('--model-version <version>', 'model version', '0.1.0')
    .option('--owner <id>', 'accountable owner')
    .option('--evaluation <file>', 'evaluation CSV (label, prediction, score and sensitive columns are recognised by name)')
    .option('--sensitive <columns>', 'comma-separated sensitive columns of the evaluation file (default: recognised by name)')
    .option('--training-data <uri>', 'where the training data is (a reference such as s3://… is fine)')
    .option('--code-commit <commit>', 'commit of the training code (default: HEAD of the git repository holding the artifact)')
    .addOption(new Option('--classification <classification>', 'training data classification').choices([...DATA_CLASSIFICATIONS]))
    .option('--personal-data', 'the training data contains personal data')
    .option('-o, --output <file>', 'write the manifest to this file (default: standard output); relative URIs are written against its folder')
    .action((artifact: string, flags: {
      tier: RiskTier; target: string; policy?: string; name?: string; modelVersion: string; owner?: string; evaluation?: string;
      sensitive?: string; trainingData?: string; codeCommit?: string; classification?: (typeof DATA_CLASSIFICATIONS)[number]; personalData?: boolean; output?: string;
    }) =>
      runTool(setExitCode, async () => {
        const text = await starterManifest({
          artifact,
          tier: flags.tier,
          target: flags.target,
          policyFile: flags.policy ?? DEFAULT_POLICY_FILE,
          manifestDir: path.resolve(flags.output ? path.dirname(flags.output) : '.'),
          version: flags.modelVersion,
          ...(flags.name ? { name: flags.name } : {}),
          ...(flags.owner ? { owner: flags.owner } : {}),
          ...(flags.evaluation ? { evaluation: flags.evaluation } : {}),
          ...(flags.sensitive ? { sensitive: flags.sensitive.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
          ...(flags.trainingData ? { trainingData: flags.trainingData } : {}),
          ...(flags.codeCommit ? { codeCommit: flags.codeCommit } : {}),
          ...(flags.classification ? { classification: flags.classification } : {}),
          ...(flags.personalData ? { personalData: true } : {}),
        });
        if (flags.output) {
          await writeFile(flags.output, text, { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
            throw new PolicyToolProblem(`cannot write ${flags.output}: ${err.code === 'EEXIST' ? 'it exists (not overwritten)' : (err.code ?? err.message)}`);
          });
          process.stderr.write(`wrote ${flags.output}\n`);
        } else print(text);
      }),
    );

  const policy = program.command('policy').description('validate a policy file, or explain what it decides for a manifest');

  policy
    .command('check')
    .description('validate a policy file as the worker and the API load it (exit 0 valid, 2 invalid)')
    .argument('<file>', 'policy file (.yaml)')
    .option('--json', 'print { valid, name, version, digest } or { valid: false, file, problems } as JSON')
    .action(async (file: string, flags: { json?: boolean }) => {
      try {
        const loaded = await loadPolicyFile(file);
        print(
          flags.json
            ? JSON.stringify({ valid: true, file, name: loaded.policy.name, version: loaded.policy.version, digest: loaded.digest })
            : `${file}: valid policy ${loaded.policy.name}@${loaded.policy.version} (sha256 ${loaded.digest}); environments: ${Object.keys(loaded.policy.environments).join(', ')}`,
        );
        setExitCode(EXIT_OK);
      } catch (err) {
        if (!(err instanceof PolicyLoadError)) throw err;
        if (flags.json) print(JSON.stringify({ valid: false, file: err.file, problems: err.problems }));
        else complain(err.message);
        setExitCode(EXIT_USAGE);
      }
    });

  policy
    .command('explain')
    .description('explain what a policy decides for a manifest: effective tier and why, checks, stages, gates, roles, deadlines, separation of duties')
    .argument('<manifest>', 'promotion manifest (.yaml, .yml or .json)')
    .option('--policy <file>', 'policy file (default: the shipped policies/default.yaml)')
    .option('--json', 'print the explanation as JSON')
    .action((manifestFile: string, flags: { policy?: string; json?: boolean }) =>
      runTool(setExitCode, async () => {
        const manifest = await readManifestFile(manifestFile);
        const loaded = await loadPolicyFile(flags.policy ?? DEFAULT_POLICY_FILE);
        const explanation = explainPolicy(loaded, manifest);
        print(flags.json ? JSON.stringify(explanation, null, 2) : renderPolicyExplanation(explanation));
      }),
    );
}

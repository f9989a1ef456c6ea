import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { runAllChecks } from '../checks';
import { localArtifact } from '../checks/artifact-source';
import { errorMessage } from '../checks/errors';
import { type SecurityFinding, isDangerous } from '../checks/security/findings';
import { scanArtifact } from '../checks/security/scanner';
import { type CheckSettings, CheckSettingsSchema } from '../policy/check-settings';
import type { TrustedKey, TrustedRoot } from '../checks/trusted-keys';
import { type PromotionManifest, PromotionManifestSchema, describeIssues } from '../manifest/schema';
import { loadPolicyFile, resolveCheckSettings } from '../policy';
import type { CheckResult } from '../shared/checks';
import { type SourceRules, sourceRules } from '../sources/rules';

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

/** The shipped default policy, used by `check` when no `--policy` is given. */
export const DEFAULT_POLICY_FILE = path.resolve(__dirname, '..', '..', 'policies', 'default.yaml');

/** A problem with the command's input (exit code 2, a plain message, never a stack trace). */
class UsageProblem extends Error {}

function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function complain(message: string): void {
  process.stderr.write(`modelgate: ${message}\n`);
}

/** Verdict of a scan: fail on any dangerous finding, warn on low ones. */
/**
 * The sources `modelgate check` may read on the user's own machine: ARTIFACT_ROOTS and
 * ARTIFACT_HOSTS when set (as the worker reads them), else the manifest's folder and no host;
 * relative `file://name` URIs resolve against the manifest's folder.
 */
function cliSourceRules(manifestDir: string): SourceRules {
  return sourceRules(process.env.ARTIFACT_ROOTS || [manifestDir], process.env.ARTIFACT_HOSTS ?? '', { relativeBase: manifestDir });
}

export function scanStatus(findings: SecurityFinding[]): 'pass' | 'warn' | 'fail' {
  if (findings.some(isDangerous)) return 'fail';
  return findings.some((f) => f.severity === 'low') ? 'warn' : 'pass';
}

/** Overall verdict of `check`: fail when a required check fails or errors. */
export function checkStatus(results: CheckResult[]): 'pass' | 'warn' | 'fail' {
  if (results.some((r) => r.required && (r.status === 'fail' || r.status === 'error'))) return 'fail';
  return results.some((r) => r.status !== 'pass') ? 'warn' : 'pass';
}

async function readManifest(file: string): Promise<PromotionManifest> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageProblem(`cannot read manifest ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
  let raw: unknown;
  try {
    raw = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new UsageProblem(`manifest ${file} is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${errorMessage(err).split('\n')[0]}`);
  }
  const parsed = PromotionManifestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new UsageProblem(`manifest ${file} is invalid:\n${describeIssues(parsed.error).map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
  }
  return parsed.data;
}

async function settingsFor(manifest: PromotionManifest, policyFile: string | undefined): Promise<{ settings: CheckSettings; trustedKeys: TrustedKey[]; trustedRoots: TrustedRoot[]; policy: string }> {
  const file = policyFile ?? (existsSync(DEFAULT_POLICY_FILE) ? DEFAULT_POLICY_FILE : undefined);
  if (!file) return { settings: CheckSettingsSchema.parse({}), trustedKeys: [], trustedRoots: [], policy: '(built-in defaults)' };
  try {
    const loaded = await loadPolicyFile(file);
    const resolved = resolveCheckSettings(loaded, manifest);
    return { settings: resolved.settings, trustedKeys: resolved.trustedKeys, trustedRoots: resolved.trustedRoots, policy: file };
  } catch (err) {
    throw new UsageProblem(`policy ${file} cannot be used: ${errorMessage(err)}`);
  }
}

const SYMBOL: Record<CheckResult['status'], string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', error: 'ERROR' };

/**
 * Adds `scan` (the security check alone) and `check` (every check the policy asks for) to the
 * `modelgate` program. Both run locally, without a server; `setExitCode` receives 0 (passed),
 * 1 (something dangerous / a required check failed or errored) or 2 (usage error).
 */
export function registerCheckCommands(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('scan')
    .description('statically scan a model file or directory for dangerous content (nothing is loaded or executed)')
    .argument('<file-or-dir>', 'model file or directory')
    .option('--json', 'print { status, findings } as JSON')
    .option('--allow-global <module.name...>', 'extra pickle globals to allow (module.name or module.*)')
    .option('--format <format>', 'how to read files whose format cannot be sniffed (pickle, pytorch, safetensors, onnx, …)')
    .action(async (target: string, opts: { json?: boolean; allowGlobal?: string[]; format?: string }) => {
      let artifact;
      try {
        artifact = await localArtifact(path.resolve(target));
      } catch (err) {
        complain(errorMessage(err));
        setExitCode(EXIT_USAGE);
        return;
      }
      try {
        const scan = await scanArtifact(artifact, { allowGlobals: opts.allowGlobal ?? [], declaredFormat: opts.format });
        const findings = scan.files.flatMap((f) => f.findings);
        const status = scanStatus(findings);
        if (opts.json) print(JSON.stringify({ status, findings }, null, 2));
        else {
          for (const f of findings.filter((x) => x.severity !== 'info')) {
            print(`${f.severity.toUpperCase().padEnd(8)} ${f.file}${f.member ? `!${f.member}` : ''}  ${f.kind}${f.global ? ` ${f.global}` : ''}: ${f.detail}`);
          }
          const dangerous = findings.filter(isDangerous).length;
          print(`${status === 'fail' ? 'DANGEROUS' : 'OK'}: ${scan.files.length} file(s) scanned, ${dangerous} dangerous finding(s)`);
        }
        setExitCode(status === 'fail' ? EXIT_FAILED : EXIT_OK);
      } catch (err) {
        complain(`scan failed: ${errorMessage(err)}`);
        setExitCode(EXIT_USAGE);
      }
    });

  program
    .command('check')
    .description('run the automated checks of a promotion manifest locally (no server; registry comparisons are skipped)')
    .argument('<manifest>', 'promotion manifest (.yaml, .yml or .json)')
    .option('--policy <file>', 'policy file (default: the shipped policies/default.yaml)')
    .option('--json', 'print { status, checks } as JSON')
    .action(async (manifestFile: string, opts: { policy?: string; json?: boolean }) => {
      try {
        const manifest = await readManifest(manifestFile);
        const { settings, trustedKeys, trustedRoots, policy } = await settingsFor(manifest, opts.policy);
        const checks = await runAllChecks({ manifest, settings, trustedKeys, trustedRoots, context: { sources: cliSourceRules(path.dirname(path.resolve(manifestFile))) } });
        const status = checkStatus(checks);
        if (opts.json) print(JSON.stringify({ status, checks }, null, 2));
        else {
          print(`policy: ${policy}`);
          for (const r of checks) print(`${SYMBOL[r.status].padEnd(5)} ${r.name.padEnd(11)} ${r.required ? 'required' : 'advisory'}  ${r.summary}`);
          print(status === 'fail' ? 'FAILED: a required check failed or could not run' : `PASSED${status === 'warn' ? ' with warnings' : ''}`);
        }
        setExitCode(status === 'fail' ? EXIT_FAILED : EXIT_OK);
      } catch (err) {
        complain(errorMessage(err));
        setExitCode(EXIT_USAGE);
      }
    });
}

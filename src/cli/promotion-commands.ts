// `modelgate submit | status | list | approve | reject | request-changes | override | expedite |
// revise | withdraw | audit | dev-token`: the API's commands for CI pipelines and reviewers
// (`rollback | drift`: environment-commands.ts).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { signDevToken } from '../api/auth';
import type { ArchivedPromotion } from '../audit/timeline';
import { MESSAGE_KINDS, type MessageKind, PROMOTION_MESSAGES } from '../shared/message-table';
import { PROMOTION_STATUSES, type PromotionState } from '../shared/promotion';
import { ApiCallError, ApiExitCode, type ApiTarget, apiTarget, callApi, promotionApiPath, table } from './api-client';
import { type CommonFlags, err, out, runCommand, withCommon } from './api-command';
import { registerEnvironmentCommands } from './environment-commands';
import { runAuditVerify, type VerifyFlags } from './audit-commands';

/** Statuses at which `submit --wait` (and `--wait-for`) stops: a decision, or the submitter must act. */
const WAIT_STOPS = new Set(['DEPLOYED', 'REJECTED', 'EXPIRED', 'WITHDRAWN', 'SUPERSEDED', 'DEPLOY_FAILED', 'CHECKS_FAILED', 'CHANGES_REQUESTED']);

/** Reads a YAML or JSON file (YAML is a superset of JSON). */
async function readDocument(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8').catch((e: Error) => {
    throw new ApiCallError(`cannot read ${file}: ${e.message}`, 400, 'usage');
  });
  try {
    return parseYaml(text);
  } catch (e) {
    throw new ApiCallError(`${file} is not YAML or JSON: ${(e as Error).message}`, 400, 'usage');
  }
}

/** The source fields of a manifest or a revision's changes that may hold a relative `file://` URI. */
const SOURCE_FIELDS: ReadonlyArray<readonly string[]> = [['artifact', 'uri'], ['evaluation', 'uri'], ['modelCard', 'uri'], ['lineage', 'trainingData', 'uri']];

/**
 * Makes the relative `file://name` URIs of a manifest (or of a revision's changes) absolute
 * against `baseDir`, the folder of the file that names them, as `modelgate check` reads them:
 * the API and the worker refuse relative URIs. Other values are left as they are.
 */
export function absoluteFileUris(document: unknown, baseDir: string): unknown {
  if (!document || typeof document !== 'object' || Array.isArray(document)) return document;
  const copy = structuredClone(document) as Record<string, unknown>;
  for (const fieldPath of SOURCE_FIELDS) {
    let holder: Record<string, unknown> | undefined = copy;
    for (const key of fieldPath.slice(0, -1)) {
      const next: unknown = holder?.[key];
      holder = next && typeof next === 'object' && !Array.isArray(next) ? (next as Record<string, unknown>) : undefined;
    }
    const key = fieldPath[fieldPath.length - 1]!;
    const uri = holder?.[key];
    const relative = typeof uri === 'string' ? /^file:\/\/([^/].*)$/i.exec(uri)?.[1] : undefined;
    if (!holder || relative === undefined || /^localhost\//i.test(relative)) continue;
    let decoded: string;
    try {
      decoded = decodeURIComponent(relative);
    } catch {
      continue; // the API names the bad percent-encoding
    }
    // `..` is left for the API to refuse (rule dot-segments), never resolved away here.
    if (decoded.split('/').includes('..')) continue;
    holder[key] = pathToFileURL(path.resolve(baseDir, decoded)).href;
  }
  return copy;
}

/** Readable summary of a promotion's state. */
function describeState(s: PromotionState): string {
  const lines = [
    `${s.promotionId}`,
    `  status    ${s.status}${s.outcome ? ` — ${s.outcome.reason} (by ${s.outcome.by})` : ''}`,
    `  model     ${s.manifest.model.name}@${s.manifest.model.version} → ${s.manifest.target}, owner ${s.manifest.model.owner}`,
    `  tier      ${s.effectiveTier}${s.effectiveTier !== s.declaredTier ? ` (declared ${s.declaredTier}: ${s.tierReasons.join('; ')})` : ''}`,
    `  policy    ${s.policy.name}@${s.policy.version}`,
    `  submitted ${s.submittedAt} by ${s.submitter.id}`,
  ];
  if (s.remediationDeadline && (s.status === 'CHECKS_FAILED' || s.status === 'CHANGES_REQUESTED')) lines.push(`  revise by ${s.remediationDeadline}`);
  let text = `${lines.join('\n')}\n`;
  if (s.checks.length > 0) {
    text += `\nChecks\n${table(
      ['CHECK', 'STATUS', 'REQUIRED', 'SUMMARY'],
      s.checks.map((c) => [c.name, c.status, c.required ? 'yes' : 'no', c.summary]),
    )}`;
  }
  const gates = s.stages.flatMap((stage) => stage.gates.map((g) => ({ stage: stage.name, g })));
  if (gates.length > 0) {
    text += `\nGates\n${table(
      ['STAGE', 'GATE', 'STATUS', 'APPROVALS', 'ROLES', 'DEADLINE'],
      gates.map(({ stage, g }) => [
        stage,
        g.name,
        g.status,
        `${g.signatures.filter((x) => x.decision === 'approve' && !x.void).length}/${g.quorum}`,
        g.roles.join(','),
        g.deadlineAt,
      ]),
    )}`;
  }
  return text;
}

/** Readable summary of a promotion Temporal no longer holds, from its archived audit trail. */
function describeArchived(a: ArchivedPromotion): string {
  const lines = [
    `${a.promotionId}`,
    `  status    ${a.status}${a.outcome ? ` — ${a.outcome.reason} (by ${a.outcome.by})` : ''}`,
    `  tier      ${a.effectiveTier ?? '?'}`,
    `  policy    ${a.policy ? `${a.policy.name}@${a.policy.version}` : '?'}`,
    `  submitted ${a.submittedAt} by ${a.submitter.id}`,
    `  source    the audit archive (${a.archivedEvents} events; Temporal no longer holds this promotion): modelgate audit ${a.promotionId}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** Flags of the commands that wait for a promotion. */
interface WaitFlags {
  /** Wait until this status (or until the promotion stops elsewhere). */
  waitFor?: string;
  waitTimeout: string;
  poll: string;
  json?: boolean;
}

const waitForOption = () =>
  new Option('--wait-for <status>', 'block until the promotion reaches this status (exit 0), or stops at another decision or for the submitter (exit 1)').choices(
    PROMOTION_STATUSES,
  );

/**
 * Polls a promotion, printing its progress on stderr, until it reaches `flags.waitFor` (exit 0)
 * or, by default (`--wait`), a decision or a state where the submitter must act (exit 0 when
 * deployed, 1 otherwise); gives up after `--wait-timeout` (exit 8).
 */
async function waitForPromotion(target: ApiTarget, promotionId: string, flags: WaitFlags): Promise<number> {
  const deadline = Date.now() + Number(flags.waitTimeout) * 1000;
  let last = '';
  for (;;) {
    const state = await callApi<PromotionState>(target, 'GET', promotionApiPath(promotionId));
    const open = state.stages.flatMap((s) => s.gates).filter((g) => g.status === 'open').map((g) => g.name);
    const progress = `${state.status}${open.length ? ` (waiting on ${open.join(', ')})` : ''}`;
    if (progress !== last && !flags.json) err(`  ${new Date().toISOString()}  ${progress}\n`);
    last = progress;
    if (state.status === flags.waitFor || WAIT_STOPS.has(state.status)) {
      if (flags.json) out(`${JSON.stringify(state)}\n`);
      else out(describeState(state));
      if (flags.waitFor) return state.status === flags.waitFor ? ApiExitCode.ok : ApiExitCode.failed;
      return state.status === 'DEPLOYED' ? ApiExitCode.ok : ApiExitCode.failed;
    }
    if (Date.now() > deadline) {
      err(`modelgate: ${flags.waitFor ? `${promotionId} did not reach ${flags.waitFor}` : `no decision on ${promotionId}`} within ${flags.waitTimeout}s (status ${state.status})\n`);
      return ApiExitCode.timedOut;
    }
    await new Promise((r) => setTimeout(r, Number(flags.poll) * 1000));
  }
}

/** Registers the API commands on the program. */
export function registerPromotionCommands(program: Command, setExitCode: (code: number) => void): void {
  withCommon(program.command('submit <manifest>'))
    .description('submit a promotion from a YAML or JSON manifest (relative file:// URIs are made absolute against its folder)')
    .option('--policy <name>', 'policy to use (default: the server’s `default`)')
    .option('--wait', 'block until a decision (or until the submitter must act), showing progress')
    .addOption(waitForOption())
    .option('--wait-timeout <seconds>', 'give up waiting after this long (exit 8)', '3600')
    .option('--poll <seconds>', 'how often --wait asks', '2')
    .action((file: string, flags: CommonFlags & WaitFlags & { policy?: string; wait?: boolean }) =>
      runCommand(setExitCode, flags, async () => {
        const target = apiTarget(flags);
        const manifest = absoluteFileUris(await readDocument(file), path.dirname(path.resolve(file)));
        const query = flags.policy ? `?policy=${encodeURIComponent(flags.policy)}` : '';
        const submitted = await callApi<{ promotionId: string; existing: boolean; status: string }>(target, 'POST', `/v1/promotions${query}`, manifest);
        if (!flags.wait && !flags.waitFor) {
          out(flags.json ? `${JSON.stringify(submitted)}\n` : `${submitted.existing ? 'already running' : 'submitted'}: ${submitted.promotionId}\n`);
          return ApiExitCode.ok;
        }
        if (!flags.json) err(`${submitted.existing ? 'already running' : 'submitted'}: ${submitted.promotionId}\n`);
        return waitForPromotion(target, submitted.promotionId, flags);
      }),
    );

  withCommon(program.command('status <promotionId>'))
    .description('show a promotion: status, checks, gates and approvals')
    .action((id: string, flags: CommonFlags) =>
      runCommand(setExitCode, flags, async () => {
        const state = await callApi<PromotionState | ArchivedPromotion>(apiTarget(flags), 'GET', promotionApiPath(id));
        if (flags.json) out(`${JSON.stringify(state)}\n`);
        else out('source' in state && state.source === 'archive' ? describeArchived(state) : describeState(state as PromotionState));
        return ApiExitCode.ok;
      }),
    );

  withCommon(program.command('list'))
    .description('list promotions')
    .option('--status <status>', 'only this status (e.g. IN_REVIEW)')
    .option('--model <name>', 'only this model')
    .option('--target <environment>', 'only this target environment')
    .option('--pending', 'only promotions waiting on a gate I may decide (pendingFor=me)')
    .option('--page-size <n>', 'promotions per page', '50')
    .option('--page-token <token>', 'the next page (printed after a full page)')
    .action((flags: CommonFlags & { status?: string; model?: string; target?: string; pending?: boolean; pageSize: string; pageToken?: string }) =>
      runCommand(setExitCode, flags, async () => {
        const params = new URLSearchParams();
        if (flags.status) params.set('status', flags.status);
        if (flags.model) params.set('model', flags.model);
        if (flags.target) params.set('target', flags.target);
        if (flags.pending) params.set('pendingFor', 'me');
        params.set('pageSize', flags.pageSize);
        if (flags.pageToken) params.set('pageToken', flags.pageToken);
        const page = await callApi<{ promotions: Array<Record<string, unknown>>; nextPageToken?: string }>(apiTarget(flags), 'GET', `/v1/promotions?${params}`);
        if (flags.json) {
          out(`${JSON.stringify(page)}\n`);
          return ApiExitCode.ok;
        }
        out(
          table(
            ['PROMOTION', 'STATUS', 'TIER', 'SUBMITTER', 'PENDING GATES', 'STARTED'],
            page.promotions.map((p) => [
              p.promotionId as string,
              p.status as string,
              p.riskTier as string,
              p.submitter as string,
              (p.pendingGates as string[]).join(','),
              p.startedAt as string,
            ]),
          ),
        );
        if (page.nextPageToken) out(`more: --page-token ${page.nextPageToken}\n`);
        return ApiExitCode.ok;
      }),
    );

  // One group of verbs per row of the message table (src/shared/message-table.ts), in its order:
  // a new message kind does not compile until it has its verbs here.
  const messageCommands: { [K in MessageKind]: () => void } = {
    decide: () => {
      const decision = (name: string, value: 'approve' | 'reject' | 'request_changes', description: string) =>
        withCommon(program.command(`${name} <promotionId>`))
          .description(description)
          .requiredOption('--gate <gate>', 'the gate decided on')
          .option('--comment <text>', value === 'approve' ? 'comment' : 'reason (required)')
          .option('--request-id <id>', 'idempotency key: a repeat returns the first result')
          .addOption(waitForOption())
          .option('--wait-timeout <seconds>', 'give up waiting after this long (exit 8)', '3600')
          .option('--poll <seconds>', 'how often --wait-for asks', '2')
          .action((id: string, flags: CommonFlags & WaitFlags & { gate: string; comment?: string; requestId?: string }) =>
            runCommand(setExitCode, flags, async () => {
              const sent = await postMessage(flags, id, 'decide', { gate: flags.gate, decision: value, comment: flags.comment, requestId: flags.requestId });
              return flags.waitFor ? waitForPromotion(apiTarget(flags), id, flags) : sent;
            }),
          );
      decision('approve', 'approve', 'approve a gate of a promotion');
      decision('reject', 'reject', 'reject a promotion at a gate (ends it)');
      decision('request-changes', 'request_changes', 'request changes at a gate (the submitter revises)');
    },
    override: () => {
      withCommon(program.command('override <promotionId>'))
        .description('break-glass: waive a failed check or force a gate, with a justification')
        .addOption(new Option('--waive-check <check>', 'the failed required check to waive').conflicts('forceGate'))
        .addOption(new Option('--force-gate <gate>', 'the open gate to pass by force'))
        .requiredOption('--justification <text>', 'why (at least 10 characters; flagged in the audit)')
        .option('--request-id <id>', 'idempotency key')
        .action((id: string, flags: CommonFlags & { waiveCheck?: string; forceGate?: string; justification: string; requestId?: string }) => {
          if (!flags.waiveCheck && !flags.forceGate) {
            err('modelgate: override needs --waive-check <check> or --force-gate <gate>\n');
            setExitCode(ApiExitCode.usage);
            return Promise.resolve();
          }
          const body = flags.waiveCheck
            ? { kind: 'waive_check', target: flags.waiveCheck }
            : { kind: 'force_gate', target: flags.forceGate };
          return sendMessage(setExitCode, flags, id, 'override', { ...body, justification: flags.justification, requestId: flags.requestId });
        });
    },
    expedite: () => {
      withCommon(program.command('expedite <promotionId>'))
        .description('switch a promotion to the expedited SLAs')
        .requiredOption('--reason <text>', 'why')
        .option('--request-id <id>', 'idempotency key')
        .action((id: string, flags: CommonFlags & { reason: string; requestId?: string }) =>
          sendMessage(setExitCode, flags, id, 'expedite', { reason: flags.reason, requestId: flags.requestId }),
        );
    },
    revise: () => {
      withCommon(program.command('revise <promotionId> <changes>'))
        .description('revise the evidence (YAML/JSON file of lineage, metrics, evaluation, modelCard, description)')
        .option('--comment <text>', 'what changed')
        .option('--request-id <id>', 'idempotency key')
        .action((id: string, file: string, flags: CommonFlags & { comment?: string; requestId?: string }) =>
          runCommand(setExitCode, flags, async () => {
            const changes = absoluteFileUris(await readDocument(file), path.dirname(path.resolve(file)));
            return postMessage(flags, id, 'revise', { changes, comment: flags.comment, requestId: flags.requestId });
          }),
        );
    },
    withdraw: () => {
      withCommon(program.command('withdraw <promotionId>'))
        .description('withdraw a promotion')
        .requiredOption('--reason <text>', 'why')
        .option('--request-id <id>', 'idempotency key')
        .action((id: string, flags: CommonFlags & { reason: string; requestId?: string }) =>
          sendMessage(setExitCode, flags, id, 'withdraw', { reason: flags.reason, requestId: flags.requestId }),
        );
    },
  };
  MESSAGE_KINDS.forEach((kind) => messageCommands[kind]());

  registerEnvironmentCommands(program, setExitCode);

  withCommon(program.command('audit [promotionId]'))
    .description('print the audit timeline; --verify compares the audit tables with the signed checkpoints and names any tampering (all chains, or the one of promotionId)')
    .option('--jsonl', 'one JSON event per line')
    .option('--verify', 'verify the record (exit 1 naming each edited row, deleted row, cut tail, deleted chain or inserted rows)')
    .option('--database-url <url>', 'with --verify: read access to the audit tables (default: $AUDIT_DATABASE_URL, then $DATABASE_URL)')
    .option('--checkpoints <files>', 'with --verify: comma-separated checkpoint files (default: $AUDIT_CHECKPOINT_FILES)')
    .option('--public-keys <files>', 'with --verify: comma-separated public keys (default: $AUDIT_PUBLIC_KEY_FILES)')
    .addOption(new Option('--source <source>', 'where from').choices(['auto', 'temporal', 'archive']).default('auto'))
    .action((id: string | undefined, flags: CommonFlags & VerifyFlags & { jsonl?: boolean; verify?: boolean; source: string }) =>
      runCommand(setExitCode, flags, async () => {
        if (flags.verify) return runAuditVerify(id, flags);
        if (id === undefined) {
          err('modelgate audit: name a promotion (or use --verify to verify every chain)\n');
          return ApiExitCode.usage;
        }
        const target = apiTarget(flags);
        if (flags.jsonl) {
          out(await callApi<string>(target, 'GET', `${promotionApiPath(id, 'audit')}?format=jsonl&source=${flags.source}`, undefined, { text: true }));
          return ApiExitCode.ok;
        }
        const timeline = await callApi<{ source: string; events: Array<Record<string, string | undefined>> }>(
          target,
          'GET',
          `${promotionApiPath(id, 'audit')}?source=${flags.source}`,
        );
        if (flags.json) out(`${JSON.stringify(timeline)}\n`);
        else {
          out(`audit of ${id} (from ${timeline.source})\n`);
          out(
            table(
              ['TIME', 'ACTOR', 'ACTION', 'GATE', 'DECISION', 'COMMENT', 'EVIDENCE', 'POLICY'],
              timeline.events.map((e) => [e.at, e.via === 'signal' ? `${e.actor} (Temporal Signal from ${e.temporalIdentity ?? '?'})` : e.actor, e.action, e.gate, e.decision, e.comment, e.evidenceDigest?.slice(0, 12), e.policyVersion]),
            ),
          );
        }
        return ApiExitCode.ok;
      }),
    );

  program
    .command('dev-token')
    .description('print a dev token (claim mg_dev) for local use, signed with the API’s DEV_SIGN_IN_SECRET; only an API with dev sign-in on accepts it')
    .requiredOption('--user <id>', 'subject (sub) of the token')
    .option('--roles <roles>', 'comma-separated roles', '')
    .option('--expires <span>', 'lifetime, e.g. 8h or 30m (the API refuses more than its AUTH_MAX_TOKEN_LIFETIME, default 12h)', '8h')
    .option('--secret <secret>', 'the dev sign-in key (default: $DEV_SIGN_IN_SECRET)')
    .option('--json', 'print { token, user, roles } as JSON')
    .action(async (flags: { user: string; roles: string; expires: string; secret?: string; json?: boolean }) => {
      const secret = flags.secret ?? process.env.DEV_SIGN_IN_SECRET;
      if (!secret) {
        err('modelgate: dev-token needs the API’s dev sign-in key: --secret or DEV_SIGN_IN_SECRET (./scripts/start.sh keeps it in .data/dev-sign-in-secret)\n');
        setExitCode(ApiExitCode.usage);
        return;
      }
      const roles = flags.roles.split(',').map((r) => r.trim()).filter(Boolean);
      const token = await signDevToken({ secret, user: flags.user, roles, expiresIn: flags.expires, dev: true });
      out(flags.json ? `${JSON.stringify({ token, user: flags.user, roles })}\n` : `${token}\n`);
      setExitCode(ApiExitCode.ok);
    });
}

function sendMessage(setExitCode: (code: number) => void, flags: CommonFlags, id: string, kind: MessageKind, body: Record<string, unknown>): Promise<void> {
  return runCommand(setExitCode, flags, () => postMessage(flags, id, kind, body));
}

/** Sends a message to its route in the message table; prints the summary (or the JSON answer). */
async function postMessage(flags: CommonFlags, id: string, kind: MessageKind, body: Record<string, unknown>): Promise<number> {
  const clean = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
  const result = await callApi<{ status: string; summary: string }>(apiTarget(flags), 'POST', promotionApiPath(id, PROMOTION_MESSAGES[kind].path), clean);
  out(flags.json ? `${JSON.stringify(result)}\n` : `${result.summary} (now ${result.status})\n`);
  return ApiExitCode.ok;
}

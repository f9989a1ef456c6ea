// After a fault run, with every component up again: each promotion ended as its messages imply,
// each message was applied exactly once, each deployment happened exactly once at the deployer
// (read from its raw delivery log: one key per promotion, one deployment per key, repeated
// deliveries allowed and counted) and in the registry, and each archived audit chain verifies.
import { readFile } from 'node:fs/promises';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { isNoWorkerAnswer } from '../../src/api/errors';
import { callApi, promotionApiPath } from '../../src/cli/api-client';
import { type ChainedAuditRecord, verifyChain } from '../../src/audit/chain';
import { environmentQuery, environmentWorkflowId } from '../../src/shared/environment';
import { promotionWorkflowId } from '../../src/shared/messages';
import type { PromotionState } from '../../src/shared/promotion';
import type { DeliveryLogLine } from '../support/deploy-receiver';
import type { PromotionPlan } from './plans';

/** Where to look. */
export interface VerifyContext {
  client: Client;
  pool: Pool;
  /** The deployer's log: every delivery it took. */
  deliveries: DeliveryLogLine[];
  server: string;
  token: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** How the promotions ended, by source: Temporal's workflow results, the registry's rows, the deployer's log. */
export interface ObservedOutcomes {
  /** Promotions by the status their workflow result gives (`unverified`: it could not be read). */
  temporal: Record<string, number>;
  /** Promotions by what the registry holds: `deployed` (an approval and a deployment row) or `not deployed`. */
  registry: Record<string, number>;
  /** Promotions by what the deployer's log shows: `deployed` (a delivery carried out) or `not deployed`. */
  deployer: Record<string, number>;
}

/** The deployer's delivery log (JSON Lines; absent: nothing was delivered). */
export async function readDeliveryLog(file: string): Promise<DeliveryLogLine[]> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as DeliveryLogLine);
}

/** Waits until every promotion's workflow has closed; returns the ids still open at `deadline`. */
export async function waitForClosed(client: Client, plans: PromotionPlan[], deadline: number): Promise<string[]> {
  let open = plans.map((p) => promotionWorkflowId(p.model, '1.0.0', 'production'));
  while (open.length > 0 && Date.now() < deadline) {
    const still: string[] = [];
    for (const id of open) {
      const description = await client.workflow.getHandle(id).describe().catch(() => undefined);
      if (description?.status.name !== 'COMPLETED') still.push(id);
    }
    open = still;
    if (open.length > 0) await sleep(1_000);
  }
  return open;
}

/**
 * Runs a query, again while Temporal says no worker answered: after its restart, a task queue
 * partition that no poll has reached since is refused as "no poller seen … recently" for a while,
 * with the worker up (the API answers 503 then; a client retries).
 */
async function whenAWorkerAnswers<T>(query: () => Promise<T>, forMs = 60_000): Promise<T> {
  const deadline = Date.now() + forMs;
  for (;;) {
    try {
      return await query();
    } catch (err) {
      if (!isNoWorkerAnswer(err) || Date.now() > deadline) throw err;
      await sleep(1_000);
    }
  }
}

/** Checks one promotion; returns its problems and the status Temporal gives as its result. */
async function verifyPromotion(ctx: VerifyContext, plan: PromotionPlan): Promise<{ problems: string[]; status: string; inRegistry: boolean; atDeployer: boolean }> {
  const id = promotionWorkflowId(plan.model, '1.0.0', 'production');
  const problems: string[] = [];
  const fail = (what: string) => problems.push(`${id} (${plan.tier}, expected ${plan.expected}): ${what}`);

  const executions = await ctx.client.workflow.count(`WorkflowId = '${id}'`);
  if (executions.count !== 1) fail(`${executions.count} workflow executions, expected 1 (a submission was started twice)`);
  // Only a closed workflow has a result to read (waiting for an open one would never end).
  const description = await ctx.client.workflow.getHandle(id).describe();
  if (description.status.name !== 'COMPLETED') {
    fail(`its workflow is ${description.status.name}, not closed`);
    return { problems, status: `open (${description.status.name})`, inRegistry: false, atDeployer: false };
  }
  const state = (await ctx.client.workflow.getHandle(id).result()) as PromotionState;
  if (state.status !== plan.expected) fail(`ended ${state.status} (${state.outcome?.reason})`);
  if (state.run !== 1) fail(`continued as new (run ${state.run})`);

  // Every planned decision exactly once on its gate, and nothing else.
  const signatures = state.stages.flatMap((s) => s.gates.flatMap((g) => g.signatures.map((x) => ({ gate: g.name, ...x }))));
  for (const message of plan.messages) {
    if (message.kind === 'decide') {
      const found = signatures.filter((s) => s.requestId === message.requestId);
      if (found.length !== 1 || found[0]!.gate !== message.gate || found[0]!.decision !== message.decision || found[0]!.actorId !== message.actor.id) {
        fail(`decision ${message.requestId} recorded ${found.length} times (${JSON.stringify(found)})`);
      }
    }
  }
  const planned = new Set(plan.messages.map((m) => m.requestId));
  for (const s of signatures) if (!planned.has(s.requestId)) fail(`unplanned signature ${JSON.stringify(s)}`);
  const decisionsInTimeline = state.timeline.filter((e) => e.action.startsWith('decision_')).length;
  const plannedDecisions = plan.messages.filter((m) => m.kind === 'decide').length;
  if (decisionsInTimeline !== plannedDecisions) fail(`${decisionsInTimeline} decisions in the timeline, ${plannedDecisions} sent`);
  const withdrawals = state.timeline.filter((e) => e.action === 'withdrawn').length;
  if (withdrawals !== (plan.expected === 'WITHDRAWN' ? 1 : 0)) fail(`${withdrawals} withdrawals in the timeline`);
  if (state.timeline.filter((e) => e.action === 'submitted').length !== 1) fail('not exactly one submission in the timeline');

  // The deployer and the registry: exactly once for a deployed promotion, never otherwise.
  const deployed = plan.expected === 'DEPLOYED' ? 1 : 0;
  // Every delivery counts, repeats too: one key for the promotion, carried out once under it.
  const deliveries = ctx.deliveries.filter((d) => d.promotionId === id);
  const applied = deliveries.filter((d) => d.applied).length;
  if (applied !== deployed) fail(`deployed ${applied} times at the deployer (${deliveries.length} deliveries)`);
  if (deliveries.some((d) => !d.signatureValid)) fail('a deployment request had an invalid signature');
  const keys = new Set(deliveries.map((d) => d.idempotencyKey));
  if (keys.size !== deployed) fail(`deliveries under ${keys.size} keys (${[...keys].join(', ')}), expected ${deployed}`);
  if (deployed && !deliveries.some((d) => d.answered >= 200 && d.answered < 300 && d.fault !== 'timeout')) fail('no delivery was answered 2xx in time, yet it ended deployed');
  const rows = await ctx.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM environment_deployments WHERE promotion_id = $1', [id]);
  if (rows.rows[0]!.n !== deployed) fail(`${rows.rows[0]!.n} rows in environment_deployments`);
  const approvals = await ctx.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM version_approvals WHERE promotion_id = $1 AND status = 'approved'`,
    [id],
  );
  if (approvals.rows[0]!.n !== deployed) fail(`${approvals.rows[0]!.n} approvals in the registry`);
  if (deployed) {
    const lifecycle = await whenAWorkerAnswers(() => ctx.client.workflow.getHandle(environmentWorkflowId(plan.model, 'production')).query(environmentQuery));
    const announced = lifecycle.timeline.filter((e) => e.action === 'version_deployed').length;
    if (lifecycle.serving?.promotionId !== id || announced !== 1) {
      fail(`the environment's lifecycle serves ${lifecycle.serving?.promotionId} and recorded ${announced} deployments`);
    }
  }

  // The archived audit trail, through the API: the whole timeline, chained, verifying.
  const audit = await callApi<{ chain?: ChainedAuditRecord[] }>(
    { server: ctx.server, token: ctx.token },
    'GET',
    `${promotionApiPath(id, 'audit')}?source=archive`,
  );
  const chain = audit.chain ?? [];
  const verdict = verifyChain(chain);
  if (!verdict.ok) fail(`audit chain broken at ${verdict.firstBrokenSeq}: ${verdict.reason}`);
  if (chain.length !== state.timeline.length || chain.some((row, i) => row.action !== state.timeline[i]!.action)) {
    fail(`archive has ${chain.length} events (${chain.map((r) => r.action).join(',')}), the timeline ${state.timeline.length}`);
  }
  return { problems, status: state.status, inRegistry: rows.rows[0]!.n > 0 && approvals.rows[0]!.n > 0, atDeployer: applied > 0 };
}

/**
 * Checks every promotion of the run; returns the problems found and the outcomes observed (each
 * promotion's status as its workflow result gives it; `unverified` when it could not be read).
 */
export async function verifyPromotions(ctx: VerifyContext, plans: PromotionPlan[]): Promise<{ problems: string[]; outcomes: ObservedOutcomes }> {
  const problems: string[] = [];
  const outcomes: ObservedOutcomes = { temporal: {}, registry: {}, deployer: {} };
  const add = (counts: Record<string, number>, key: string) => (counts[key] = (counts[key] ?? 0) + 1);
  for (const plan of plans) {
    try {
      const verified = await verifyPromotion(ctx, plan);
      problems.push(...verified.problems);
      add(outcomes.temporal, verified.status);
      add(outcomes.registry, verified.inRegistry ? 'deployed' : 'not deployed');
      add(outcomes.deployer, verified.atDeployer ? 'deployed' : 'not deployed');
    } catch (err) {
      for (const counts of Object.values(outcomes)) add(counts, 'unverified');
      const causes: string[] = [];
      for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) causes.push(`${e.name}: ${e.message}`);
      problems.push(`${plan.model}: could not be verified: ${causes.join(' <- ')}`);
    }
  }
  // Nothing was delivered that no plan deployed, and each key belongs to one promotion and was carried out once.
  const ids = new Set(plans.map((p) => promotionWorkflowId(p.model, '1.0.0', 'production')));
  const byKey = new Map<string, DeliveryLogLine[]>();
  for (const d of ctx.deliveries) byKey.set(d.idempotencyKey, [...(byKey.get(d.idempotencyKey) ?? []), d]);
  for (const [key, deliveries] of byKey) {
    const promotions = new Set(deliveries.map((d) => d.promotionId));
    if ([...promotions].some((p) => !ids.has(p))) problems.push(`the deployer was sent ${key}, which no promotion of the run asked for`);
    if (promotions.size !== 1) problems.push(`key ${key} was delivered for ${promotions.size} promotions`);
    const carriedOut = deliveries.filter((d) => d.applied).length;
    if (carriedOut > 1) problems.push(`key ${key} was carried out ${carriedOut} times`);
  }
  return { problems, outcomes };
}

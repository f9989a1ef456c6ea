// After a fault run, with every component up again: each promotion ended as its messages imply,
// each message was applied exactly once, each deployment happened exactly once at the deployer
// and in the registry, and each archived audit chain verifies.
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { isNoWorkerAnswer } from '../../src/api/errors';
import { callApi, promotionApiPath } from '../../src/cli/api-client';
import { type ChainedAuditRecord, verifyChain } from '../../src/audit/chain';
import { environmentQuery, environmentWorkflowId } from '../../src/shared/environment';
import { promotionWorkflowId } from '../../src/shared/messages';
import type { PromotionState } from '../../src/shared/promotion';
import type { DeployReceiver } from '../support/deploy-receiver';
import type { PromotionPlan } from './plans';

/** Where to look. */
export interface VerifyContext {
  client: Client;
  pool: Pool;
  receiver: DeployReceiver;
  server: string;
  token: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

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
async function verifyPromotion(ctx: VerifyContext, plan: PromotionPlan): Promise<{ problems: string[]; status: string }> {
  const id = promotionWorkflowId(plan.model, '1.0.0', 'production');
  const problems: string[] = [];
  const fail = (what: string) => problems.push(`${id} (${plan.tier}, expected ${plan.expected}): ${what}`);

  const executions = await ctx.client.workflow.count(`WorkflowId = '${id}'`);
  if (executions.count !== 1) fail(`${executions.count} workflow executions, expected 1 (a submission was started twice)`);
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
  const atReceiver = [...ctx.receiver.deployed.values()].filter((b) => b.promotionId === id);
  if (atReceiver.length !== deployed) fail(`deployed ${atReceiver.length} times at the deployer`);
  const requests = ctx.receiver.requests.filter((r) => r.body.promotionId === id);
  if (requests.some((r) => !r.signatureValid)) fail('a deployment request had an invalid signature');
  if (new Set(requests.map((r) => r.idempotencyKey)).size > deployed) fail(`deployment requests under several keys: ${[...new Set(requests.map((r) => r.idempotencyKey))].join(', ')}`);
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
  return { problems, status: state.status };
}

/**
 * Checks every promotion of the run; returns the problems found and the outcomes observed (each
 * promotion's status as its workflow result gives it; `unverified` when it could not be read).
 */
export async function verifyPromotions(ctx: VerifyContext, plans: PromotionPlan[]): Promise<{ problems: string[]; outcomes: Record<string, number> }> {
  const problems: string[] = [];
  const outcomes: Record<string, number> = {};
  for (const plan of plans) {
    try {
      const verified = await verifyPromotion(ctx, plan);
      problems.push(...verified.problems);
      outcomes[verified.status] = (outcomes[verified.status] ?? 0) + 1;
    } catch (err) {
      outcomes.unverified = (outcomes.unverified ?? 0) + 1;
      const causes: string[] = [];
      for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) causes.push(`${e.name}: ${e.message}`);
      problems.push(`${plan.model}: could not be verified: ${causes.join(' <- ')}`);
    }
  }
  // Nothing was deployed that no plan deployed.
  const ids = new Set(plans.map((p) => promotionWorkflowId(p.model, '1.0.0', 'production')));
  for (const [key, body] of ctx.receiver.deployed) {
    if (!ids.has(String(body.promotionId))) problems.push(`the deployer deployed ${key}, which no promotion of the run asked for`);
  }
  return { problems, outcomes };
}

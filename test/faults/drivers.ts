// People using the API while its processes and services are killed under them: they submit and
// decide through `/v1`, retry on connection errors, time-outs and 5xx with the same requestId,
// and now and then deliberately send an answered request again.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ApiCallError, type ApiTarget, callApi, promotionApiPath } from '../../src/cli/api-client';
import type { MessageResult, PromotionState } from '../../src/shared/promotion';
import { TERMINAL_STATUSES } from '../../src/shared/promotion';
import { promotionWorkflowId } from '../../src/shared/messages';
import type { PlannedMessage, PromotionPlan } from './plans';

/** What the drivers did, summed over all promotions. */
export interface DriverStats {
  requests: number;
  /** Requests sent again after a connection error, a time-out or a 5xx (a 500 is also a violation). */
  retries: number;
  /** Answered messages deliberately sent again with the same requestId. */
  repeats: number;
  /** Messages answered 409 on a retry (the promotion had ended) and found recorded in its state. */
  confirmedAfterConflict: number;
}

/** Everything a driver needs. */
export interface DriverContext {
  server: string;
  /** A bearer token per person id. */
  tokens: Record<string, string>;
  artifactDir: string;
  stats: DriverStats;
  /** Problems that break the promise (a refused or lost message); the run fails on any. */
  violations: string[];
  /** Share of answered messages sent a second time (0..1). */
  repeatShare: number;
  random: () => number;
  /** Drivers give up at this time (epoch ms). */
  deadline: number;
  /** How long one HTTP request may take before it is abandoned and retried. */
  requestTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

class DriverGaveUp extends Error {}

/** Calls the API until it answers (anything but unreachable, time-out or 5xx). */
async function persist<T>(ctx: DriverContext, actorId: string, method: 'GET' | 'POST', route: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
  const target: ApiTarget = { server: ctx.server, token: ctx.tokens[actorId]! };
  for (let attempt = 0; ; attempt++) {
    if (Date.now() > ctx.deadline) throw new DriverGaveUp(`${method} ${route}: the run's deadline passed`);
    ctx.stats.requests += 1;
    if (attempt > 0) ctx.stats.retries += 1;
    try {
      return await callApi<T>(target, method, route, body, { timeoutMs: ctx.requestTimeoutMs ?? 15_000, ...(headers ? { headers } : {}) });
    } catch (err) {
      if (!(err instanceof ApiCallError) || !(err.status === 0 || err.status >= 500)) throw err;
      // Unreachable services are a 503 that says so; a 500 is a defect, even when a retry succeeds.
      if (err.status === 500) ctx.violations.push(`${method} ${route} as ${actorId}: HTTP 500 ${err.message}`);
      await sleep(Math.min(2_000, 100 * 2 ** Math.min(attempt, 5)) * (0.5 + ctx.random()));
    }
  }
}

/** Writes the promotion's artifact and returns its manifest (JSON, as a CI pipeline sends it). */
export async function writeManifest(plan: Pick<PromotionPlan, 'model' | 'tier'>, artifactDir: string): Promise<Record<string, unknown>> {
  const data = createHash('sha256').update(plan.model).digest().subarray(0, 16);
  const header = Buffer.from(JSON.stringify({ weight: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  const bytes = Buffer.concat([length, header, data]);
  const file = path.join(artifactDir, `${plan.model}.safetensors`);
  await writeFile(file, bytes);
  return {
    model: { name: plan.model, version: '1.0.0', owner: 'olivia', riskTier: plan.tier, description: 'fault-run model' },
    target: 'production',
    artifact: { uri: pathToFileURL(file).href, sha256: createHash('sha256').update(bytes).digest('hex'), format: 'safetensors' },
    lineage: { codeCommit: '0123abcd', runId: `run-${plan.model}` },
    metrics: { accuracy: 0.93 },
    modelCard: { intendedUse: 'Scoring card fraud in a fault run', limitations: 'Synthetic test data only' },
  };
}

/** The promotion's state through `GET /v1/promotions/{id}` (retried). */
const readState = (ctx: DriverContext, promotionId: string) => persist<PromotionState>(ctx, 'sam', 'GET', promotionApiPath(promotionId));

const recorded = (state: PromotionState, message: PlannedMessage) =>
  message.kind === 'decide'
    ? state.stages.some((s) => s.gates.some((g) => g.signatures.some((x) => x.requestId === message.requestId)))
    : state.timeline.some((e) => e.action === 'withdrawn' && e.actor === message.actor.id);

/** Waits until the promotion can take `message`: its gate is open (decisions) or it is in review (withdrawal). */
async function waitUntilOpen(ctx: DriverContext, promotionId: string, message: PlannedMessage): Promise<void> {
  for (;;) {
    const state = await readState(ctx, promotionId);
    if (recorded(state, message)) return;
    const ready =
      message.kind === 'decide'
        ? state.stages.some((s) => s.gates.some((g) => g.name === message.gate && g.status === 'open'))
        : state.status === 'IN_REVIEW';
    if (ready) return;
    if (TERMINAL_STATUSES.has(state.status) || state.status === 'CHECKS_FAILED' || state.status === 'CHANGES_REQUESTED') {
      const why = state.outcome?.reason ?? state.checks.filter((c) => c.status !== 'pass').map((c) => `${c.name}: ${c.summary}`).join('; ');
      throw new Error(`${promotionId} is ${state.status} (${why}) instead of waiting for ${message.requestId}`);
    }
    if (Date.now() > ctx.deadline) throw new DriverGaveUp(`${promotionId}: still ${state.status} when ${message.requestId} was due`);
    await sleep(250);
  }
}

/** Sends one message until it is answered; returns the first answer. */
async function send(ctx: DriverContext, promotionId: string, message: PlannedMessage): Promise<MessageResult | undefined> {
  const route = promotionApiPath(promotionId, message.kind === 'decide' ? 'decisions' : 'withdraw');
  const body =
    message.kind === 'decide'
      ? { gate: message.gate, decision: message.decision, requestId: message.requestId, comment: `${message.decision} by ${message.actor.id}` }
      : { reason: message.reason, requestId: message.requestId };
  for (let conflicts = 0; ; conflicts++) {
    try {
      return await persist<MessageResult>(ctx, message.actor.id, 'POST', route, body);
    } catch (err) {
      if (!(err instanceof ApiCallError) || err.status !== 409) throw err;
      // An earlier attempt may have been applied and ended the promotion: then it is recorded.
      const state = await readState(ctx, promotionId);
      if (recorded(state, message)) {
        ctx.stats.confirmedAfterConflict += 1;
        return undefined;
      }
      if (TERMINAL_STATUSES.has(state.status) || conflicts >= 20) throw err;
      await sleep(300);
    }
  }
}

/**
 * Drives one promotion through its plan: submits it, then sends each message once its gate is
 * open; with `repeatShare`, sends an answered message again and checks that the answer is the first.
 */
export async function drivePromotion(ctx: DriverContext, plan: PromotionPlan): Promise<void> {
  const promotionId = promotionWorkflowId(plan.model, '1.0.0', 'production');
  try {
    const manifest = await writeManifest(plan, ctx.artifactDir);
    // The key makes a retry return this promotion even when it has ended meanwhile (low tier: seconds).
    const submitted = await persist<{ promotionId: string }>(ctx, 'sam', 'POST', '/v1/promotions', manifest, { 'idempotency-key': `submit:${plan.model}` });
    if (submitted.promotionId !== promotionId) ctx.violations.push(`${plan.model}: submitted as ${submitted.promotionId}, expected ${promotionId}`);
    for (const message of plan.messages) {
      await waitUntilOpen(ctx, promotionId, message);
      const first = await send(ctx, promotionId, message);
      if (first && ctx.random() < ctx.repeatShare) {
        ctx.stats.repeats += 1;
        const again = await send(ctx, promotionId, message);
        if (again && (again.requestId !== first.requestId || again.summary !== first.summary)) {
          ctx.violations.push(`${promotionId}: repeating ${message.requestId} answered ${JSON.stringify(again)} instead of the first answer ${JSON.stringify(first)}`);
        }
      }
    }
  } catch (err) {
    const detail = err instanceof ApiCallError ? `HTTP ${err.status} ${err.code}: ${err.message}` : (err as Error).message;
    ctx.violations.push(`${promotionId} (${plan.tier}, expected ${plan.expected}): driver stopped: ${detail}`);
  }
}

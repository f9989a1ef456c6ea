import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Worker } from '@temporalio/worker';
import request from 'supertest';
import { loadConfig } from '../../src/config';
import { type Tracing, startTracing } from '../../src/tracing';
import { DISCARDED_WORKFLOW_SPANS, bundleWorkflows } from '../../src/worker';
import { type ApiHarness, promotionPath, startApiHarness } from '../api/support';
import { TERMINAL_STATUSES } from '../../src/shared/promotion';
import { recordHistory } from '../support/histories';
import { people, waitForState, waitForStatus } from '../support/promotions';

/**
 * One promotion, API and worker in this process, traced into memory: the spans of its submission,
 * the workflow start, each check activity and a reviewer's decision share one trace.
 */
describe('traces', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let h: ApiHarness;
  let spans: ReadableSpan[];
  let promotionId: string;

  beforeAll(async () => {
    const settings = loadConfig({ DATABASE_URL: 'postgres://u@localhost:5432/db', OTEL_TRACES_EXPORTER: 'console' }).tracing;
    tracing = (await startTracing(settings, 'modelgate-test', { exporter }))!;
    h = await startApiHarness({ tracing });
    const manifest = await h.manifest({ model: { riskTier: 'medium', owner: 'olivia' } });
    const submitted = await request(h.app).post('/v1/promotions').set('authorization', await h.bearer(people.sam)).send(manifest);
    expect(submitted.status).toBe(201);
    promotionId = submitted.body.promotionId;
    await waitForStatus(h.client.workflow.getHandle(promotionId), 'IN_REVIEW');
    // Both gates of the stage (technical, then the business owner's): each decision is a request of its own.
    for (const [actor, gate] of [[people.rita, 'technical'], [people.bo, 'business']] as const) {
      const decided = await request(h.app)
        .post(promotionPath(promotionId, 'decisions'))
        .set('authorization', await h.bearer(actor))
        .send({ gate, decision: 'approve', requestId: `${actor.id}-1` });
      expect(decided.status).toBe(200);
    }
    // Every gate approved: the promotion runs to its end (the workflow's own span ends with it).
    const handle = h.client.workflow.getHandle(promotionId);
    await waitForState(handle, (s) => TERMINAL_STATUSES.has(s.status));
    await handle.result();
    await recordHistory('promotion-traced', handle);
    await tracing.spanProcessor.forceFlush();
    spans = exporter.getFinishedSpans();
  }, 120_000);

  afterAll(async () => {
    await h?.close();
    await tracing?.shutdown();
  });

  const named = (name: string | RegExp) => spans.filter((s) => (typeof name === 'string' ? s.name === name : name.test(s.name)));
  const traceOf = (s: ReadableSpan) => s.spanContext().traceId;
  const one = (name: string): ReadableSpan => {
    const found = named(name);
    expect(found.map((s) => s.name)).toEqual([name]);
    return found[0]!;
  };

  it('the submission is a server span named after its route', () => {
    const submit = one('POST /v1/promotions');
    expect(submit.attributes).toMatchObject({ 'http.route': '/v1/promotions', 'http.response.status_code': 201 });
    expect(submit.resource.attributes['service.name']).toBe('modelgate-test');
  });

  it('the workflow start is a child of the submission', () => {
    const submit = one('POST /v1/promotions');
    const start = one('StartWorkflow:PromotionWorkflow');
    expect(traceOf(start)).toBe(traceOf(submit));
    expect(start.parentSpanId).toBe(submit.spanContext().spanId);
  });

  it('the workflow run is a child of its start', () => {
    const start = one('StartWorkflow:PromotionWorkflow');
    const run = one('RunWorkflow:PromotionWorkflow');
    expect(traceOf(run)).toBe(traceOf(start));
    expect(run.parentSpanId).toBe(start.spanContext().spanId);
  });

  it('each check activity runs in the submission trace, under the workflow span that scheduled it', () => {
    const trace = traceOf(one('POST /v1/promotions'));
    const checks = named(/^RunActivity:run\w+Checks?$/);
    expect(checks.map((s) => s.name)).toContain('RunActivity:runArtifactChecks');
    for (const check of checks) {
      expect(traceOf(check)).toBe(trace);
      const scheduled = spans.find((s) => s.spanContext().spanId === check.parentSpanId);
      expect(scheduled?.name).toBe(check.name.replace('RunActivity:', 'StartActivity:'));
      expect(traceOf(scheduled!)).toBe(trace);
    }
  });

  it('each decision joins the submission trace, linked to its own request', () => {
    const trace = traceOf(one('POST /v1/promotions'));
    const requests = named('POST /v1/promotions/:id/decisions');
    const messages = named('PromotionMessage:decide');
    expect(requests).toHaveLength(2);
    expect(messages).toHaveLength(2);
    for (const message of messages) {
      expect(traceOf(message)).toBe(trace);
      // The request is a trace of its own, linked from the message span.
      expect(message.links).toHaveLength(1);
      const linked = requests.find((r) => r.spanContext().spanId === message.links[0]!.context.spanId);
      expect(linked).toBeDefined();
      expect(traceOf(linked!)).not.toBe(trace);
    }
    const messageIds = messages.map((m) => m.spanContext().spanId);
    const updates = named('StartWorkflowUpdate:decide');
    expect(updates).toHaveLength(2);
    for (const update of updates) expect(messageIds).toContain(update.parentSpanId);
    // In the workflow, Updates are not traced (src/workflows/tracing-interceptors.ts): their spans
    // moved an Update's completion and made histories that could not be replayed.
    expect(named('HandleUpdate:decide')).toEqual([]);
  });

  it('request spans name route templates, never paths; the workflow start names the promotion', () => {
    const requests = named(/^POST /);
    expect(JSON.stringify(requests.map((s) => [s.name, s.attributes]))).not.toContain(promotionId);
    expect(Object.values(one('StartWorkflow:PromotionWorkflow').attributes)).toContain(promotionId);
  });

  it('the traced history (trace headers, the memo) replays with the one workflow bundle, as a worker with traces off replays it (recorded: promotion-traced)', async () => {
    const history = await h.client.workflow.getHandle(promotionId).fetchHistory();
    await Worker.runReplayHistory({ workflowBundle: await bundleWorkflows(), sinks: { exporter: DISCARDED_WORKFLOW_SPANS } }, history, promotionId);
  });
});

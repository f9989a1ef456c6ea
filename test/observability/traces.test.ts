import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Worker } from '@temporalio/worker';
import request from 'supertest';
import { loadConfig } from '../../src/config';
import { type Tracing, startTracing } from '../../src/tracing';
import { DISCARDED_WORKFLOW_SPANS, bundleWorkflows } from '../../src/worker';
import { type ApiHarness, promotionPath, startApiHarness } from '../api/support';
import { people, waitForStatus } from '../support/promotions';

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
    const decided = await request(h.app)
      .post(promotionPath(promotionId, 'decisions'))
      .set('authorization', await h.bearer(people.rita))
      .send({ gate: 'technical', decision: 'approve', requestId: 'rita-1' });
    expect(decided.status).toBe(200);
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

  it('the decision joins the submission trace, linked to its own request', () => {
    const trace = traceOf(one('POST /v1/promotions'));
    const request = one('POST /v1/promotions/:id/decisions');
    const message = one('PromotionMessage:decide');
    expect(traceOf(message)).toBe(trace);
    expect(message.links.map((l) => l.context.spanId)).toEqual([request.spanContext().spanId]);
    const update = one('StartWorkflowUpdate:decide');
    expect(update.parentSpanId).toBe(message.spanContext().spanId);
    // In the workflow: the Update's handler ran in the same trace.
    expect(traceOf(one('HandleUpdate:decide'))).toBe(trace);
  });

  it('request spans name route templates, never paths; the workflow start names the promotion', () => {
    const requests = named(/^POST /);
    expect(JSON.stringify(requests.map((s) => [s.name, s.attributes]))).not.toContain(promotionId);
    expect(Object.values(one('StartWorkflow:PromotionWorkflow').attributes)).toContain(promotionId);
  });

  it('the traced history (trace headers, the memo) replays with the one workflow bundle, as a worker with traces off replays it', async () => {
    const history = await h.client.workflow.getHandle(promotionId).fetchHistory();
    await Worker.runReplayHistory({ workflowBundle: await bundleWorkflows(), sinks: { exporter: DISCARDED_WORKFLOW_SPANS } }, history, promotionId);
  });
});

// The workflow bundle's source map (src/worker.ts WORKFLOW_BUNDLE_SOURCE_MAP): inline, by line,
// without the sources' text. An operator who asks a waiting promotion where it is blocked (the
// Temporal UI's stack trace, the `__stack_trace` query) gets TypeScript files and lines; the bundle
// no longer carries the sources' text.
import { sharedWorkflowBundle, startPromotionHarness, waitForStatus, type PromotionHarness } from '../support/promotions';

jest.setTimeout(120_000);

/** The source map a workflow bundle carries inline (its last `sourceMappingURL` data URL), decoded. */
function decodeWorkflowBundleSourceMap(code: string): { sources: string[]; sourcesContent?: unknown[] } {
  const marker = '//# sourceMappingURL=data:application/json;charset=utf-8;base64,';
  const at = code.lastIndexOf(marker);
  if (at < 0) throw new Error('the workflow bundle carries no inline source map');
  return JSON.parse(Buffer.from(code.slice(at + marker.length).trim(), 'base64').toString('utf8'));
}

describe('the workflow bundle maps stack traces to the TypeScript sources', () => {
  let h: PromotionHarness;
  beforeAll(async () => {
    h = await startPromotionHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('carries an inline source map by line, without the sources text', async () => {
    const map = decodeWorkflowBundleSourceMap((await sharedWorkflowBundle()).code);
    expect(map.sourcesContent).toBeUndefined();
    expect(map.sources.some((s) => /src\/workflows\/promotion\.ts$/.test(s))).toBe(true);
  });

  it("answers a waiting promotion's stack trace with TypeScript files and lines", async () => {
    const handle = await h.submit(await h.manifest());
    await waitForStatus(handle, 'IN_REVIEW');
    const trace = await handle.query<string>('__stack_trace');
    // Where the promotion waits: a line of Modelgate's workflow code, not of the bundle.
    expect(trace).toMatch(/src\/workflows\/[a-z-]+\.ts:\d+/);
    expect(trace).not.toMatch(/workflow-bundle/);
    await handle.terminate('test done');
  });
});

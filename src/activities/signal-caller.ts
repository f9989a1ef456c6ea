// Who sent an operator's Signal, as Temporal recorded it. A workflow's Signal handler sees the
// payload only; the history's `WorkflowExecutionSignaled` event also holds the `identity` the
// calling client declared (the Temporal CLI's `--identity`, an SDK client's identity). With the
// production shape's mTLS and JWT authorizer only named operators reach Temporal at all; the
// identity is what their client declares (docs/security.md#operator-signals).
import { Context } from '@temporalio/activity';
import { defaultPayloadConverter } from '@temporalio/common';
import { canonicalJson } from '../shared/canonical-json';

/** The caller of a Signal as Temporal recorded it, or why it could not be read. */
export type SignalCaller = { temporalIdentity: string } | { problem: string };

/** Events read back from the newest when looking for the Signal (a page is 100). */
export const SIGNAL_CALLER_EVENTS_SCANNED = 1_000;
/** Longest identity kept; longer ones are cut. */
export const MAX_TEMPORAL_IDENTITY_LENGTH = 200;

/** An identity fit for the record: printable, bounded, never empty. */
export function recordableIdentity(identity: string | null | undefined): string {
  // eslint-disable-next-line no-control-regex
  const printable = (identity ?? '').replace(/[\u0000-\u001f\u007f-\u009f]/g, '').trim();
  return printable.length === 0 ? '(none declared)' : printable.slice(0, MAX_TEMPORAL_IDENTITY_LENGTH);
}

/** Builds the activity that reads a Signal's caller from the calling workflow's own history. */
export function createSignalCallerActivities() {
  return {
    /**
     * The `identity` of the newest Signal named `name` with exactly this payload in the calling
     * workflow's current run (scanning at most {@link SIGNAL_CALLER_EVENTS_SCANNED} events from
     * the newest). Not finding it is an answer (`problem`), not a failure.
     */
    async signalCaller(input: { name: string; payload: unknown }): Promise<SignalCaller> {
      const { info, client } = Context.current();
      const execution = info.workflowExecution;
      if (!execution) return { problem: 'not called from a workflow' };
      const wanted = canonicalJson(input.payload);
      let nextPageToken: Uint8Array | undefined;
      let scanned = 0;
      do {
        const page = await client.workflowService.getWorkflowExecutionHistoryReverse({
          namespace: info.workflowNamespace,
          execution: { workflowId: execution.workflowId, runId: execution.runId },
          maximumPageSize: 100,
          ...(nextPageToken ? { nextPageToken } : {}),
        });
        for (const event of page.history?.events ?? []) {
          scanned += 1;
          // Only a WorkflowExecutionSignaled event carries these attributes.
          const signaled = event.workflowExecutionSignaledEventAttributes;
          if (!signaled || signaled.signalName !== input.name) continue;
          const payload = signaled.input?.payloads?.[0];
          let decoded: unknown;
          try {
            decoded = payload ? defaultPayloadConverter.fromPayload(payload) : undefined;
          } catch {
            continue;
          }
          if (canonicalJson(decoded) === wanted) return { temporalIdentity: recordableIdentity(signaled.identity) };
        }
        nextPageToken = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
      } while (nextPageToken && scanned < SIGNAL_CALLER_EVENTS_SCANNED);
      return { problem: `the Signal was not found among the last ${scanned} events of the promotion's history` };
    },
  };
}

/** The signal-caller activity's type, for workflows. */
export type SignalCallerActivities = ReturnType<typeof createSignalCallerActivities>;

// What the promotion and the environment lifecycles share: a timeline they record to, the first
// results of processed requests, a change counter that wakes their waits, the work they wait for
// and how they continue as new. Workflow code: deterministic.
import { ActivityFailure, type Workflow } from '@temporalio/common';
import { allHandlersFinished, CancellationScope, condition, type ContinueAsNewOptions, makeContinueAsNewFunc, sleep, workflowInfo } from '@temporalio/workflow';
import type { TimelineEntry } from '../shared/promotion';

/** The words of an activity failure's cause (what the activity threw), or the error itself. */
export function causeOf(err: unknown): string {
  return err instanceof ActivityFailure ? (err.cause?.message ?? err.message) : String(err);
}

/**
 * A lifecycle's state and its bookkeeping, without Temporal: the timeline (bounded when
 * `maxTimeline` is given), the first result of every processed request, and a counter of
 * accepted changes.
 */
export class Lifecycle<S extends { timeline: TimelineEntry[] }, R> {
  /** First results by request key; no prototype, so an id such as `__proto__` is a key like any other. */
  readonly processed: Record<string, R>;
  /** Bumped by every accepted change, so waits wake up and look again. */
  changes = 0;

  constructor(
    readonly state: S,
    processed: Record<string, R> | undefined,
    private readonly maxTimeline?: number,
  ) {
    this.processed = Object.assign(Object.create(null) as Record<string, R>, processed);
  }

  /** The current time (in a workflow, the time of the current task) as ISO-8601. */
  now(): string {
    return new Date(Date.now()).toISOString();
  }

  /** Added to the detail of every event recorded while a message from outside the API is applied (`via: signal`, the caller). */
  protected attribution: Record<string, unknown> | undefined;

  /** Appends an event to the timeline (the audit trail's source). */
  record(actor: string, action: string, detail?: Record<string, unknown>): void {
    const attributed = this.attribution ? { ...detail, ...this.attribution } : detail;
    this.state.timeline.push({ at: this.now(), actor, action, ...(attributed ? { detail: attributed } : {}) });
    if (this.maxTimeline !== undefined && this.state.timeline.length > this.maxTimeline) this.state.timeline.shift();
  }

  /** Marks an accepted change: whatever waits for one looks again. */
  changed(): void {
    this.changes += 1;
  }

  /**
   * Waits until a change is accepted, or `ms` passes (a timer the Temporal UI names `summary`,
   * started for this wait and cancelled when a change ends it).
   */
  async waitForChange(ms: number | undefined, summary: string): Promise<void> {
    const seen = this.changes;
    if (ms === undefined) await condition(() => this.changes !== seen);
    else if (ms > 0) await condition(() => this.changes !== seen, ms, { summary });
  }

  /** The timer of the deadline the last {@link waitForDeadline} waited for, until it fires or is cancelled. */
  private deadlineTimer: { at: number; scope: CancellationScope; passed: boolean } | undefined;

  /**
   * Waits until a change is accepted, or the deadline `ms` from now passes. Unlike
   * {@link waitForChange}, the deadline's timer (named `summary` in the Temporal UI) outlives the
   * wait: the next wait for the same deadline (the same instant) uses it again, so a promotion in
   * review starts one timer per deadline, not one per decision. A wait for another deadline, or
   * {@link cancelDeadlineTimer}, cancels it. `ms` undefined: no deadline.
   */
  async waitForDeadline(ms: number | undefined, summary: string): Promise<void> {
    const seen = this.changes;
    if (ms !== undefined && ms <= 0) return;
    const at = ms === undefined ? undefined : Date.now() + ms;
    if (this.deadlineTimer?.at !== at) this.cancelDeadlineTimer();
    if (at === undefined) {
      await this.waitUntil(() => this.changes !== seen);
      return;
    }
    let timer = this.deadlineTimer;
    if (timer === undefined) {
      const scope = new CancellationScope();
      const started = { at, scope, passed: false };
      scope.run(() => sleep(at - Date.now(), { summary })).then(
        () => {
          started.passed = true;
        },
        () => undefined, // cancelled: a change came first
      );
      this.deadlineTimer = timer = started;
    }
    const deadline = timer;
    await this.waitUntil(() => this.changes !== seen || deadline.passed);
  }

  /** What the wait in progress ({@link waitForDeadline}) waits for, until it resumes. */
  private waitingFor: (() => boolean) | undefined;

  private async waitUntil(ready: () => boolean): Promise<void> {
    this.waitingFor = ready;
    try {
      await condition(ready);
    } finally {
      this.waitingFor = undefined;
    }
  }

  /** Whether the wait in progress is over and about to resume (what it waits for has happened). */
  waitIsOver(): boolean {
    return this.waitingFor?.() ?? false;
  }

  /** Cancels the timer {@link waitForDeadline} keeps, if one is running: nothing waits for its deadline any more. */
  cancelDeadlineTimer(): void {
    if (this.deadlineTimer && !this.deadlineTimer.passed) this.deadlineTimer.scope.cancel();
    this.deadlineTimer = undefined;
  }
}

/** Work a lifecycle started and must see finish before it continues as new or closes. */
export class PendingWork {
  private readonly pending = new Set<Promise<unknown>>();

  /** Tracks `work` until it settles (its failure is the caller's to handle). */
  track(work: Promise<unknown>): void {
    const tracked = work.then(
      () => undefined,
      () => undefined,
    );
    const done = tracked.finally(() => this.pending.delete(done));
    this.pending.add(done);
  }

  /** Resolves once no tracked work and no message handler is running. */
  async settled(): Promise<void> {
    await condition(() => this.pending.size === 0 && allHandlersFinished());
  }
}

/**
 * How a workflow that never ends (an environment's lifecycle, the MLflow alias guard) continues as
 * new: its next run starts on the deployment's current version. Under `WORKER_VERSIONING_BEHAVIOR=
 * pinned` it would otherwise stay on the release that first started it, and need that release's
 * workers for ever. Unversioned workers ignore it.
 */
export const NEVER_ENDING_CONTINUE_AS_NEW: ContinueAsNewOptions = { initialVersioningBehavior: 'AUTO_UPGRADE' };

/**
 * Continues as new (with `options`) when the server suggests it or the history reached `eventLimit`, once the
 * handlers and `pending` work have finished; `carry` gives the input of the next run.
 *
 * @returns when it is not time yet (or `stillRunning` says the lifecycle ended meanwhile).
 */
export async function continueAsNewWhenDue<F extends Workflow>(
  eventLimit: number,
  pending: PendingWork,
  carry: (historyLength: number) => Parameters<F>,
  stillRunning: () => boolean = () => true,
  options?: ContinueAsNewOptions,
): Promise<void> {
  const info = workflowInfo();
  if (!info.continueAsNewSuggested && info.historyLength < eventLimit) return;
  await pending.settled();
  if (!stillRunning()) return;
  await makeContinueAsNewFunc<F>(options)(...carry(info.historyLength));
}

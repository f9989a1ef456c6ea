// The faults of a fault run: SIGKILLs of one component, or of two at once, each kept down for a
// while and then restarted (PostgreSQL before Temporal, Temporal before the worker and the API).
// A kill counts only when the component was running and is then seen gone; a component already
// being faulted is left alone, so two faults never restart the same component twice.

/** The components a fault run kills. */
export const FAULT_TARGETS = ['worker', 'api', 'temporal', 'postgres'] as const;
/** One of {@link FAULT_TARGETS}. */
export type FaultTarget = (typeof FAULT_TARGETS)[number];

/** How to kill and restart one component. */
export interface FaultControl {
  /** SIGKILL; true when it was running and is now seen gone. */
  kill(): Promise<boolean>;
  restart(): Promise<void>;
}

/** Why a fault was injected. */
export type FaultCause = 'chaos' | 'after-provisioning';

/** One injected fault, as it happened. */
export interface InjectedFault {
  at: number;
  cause: FaultCause;
  /** The components it SIGKILLed that were running and were seen gone. */
  killed: FaultTarget[];
  /** The components it meant to kill that were down (or being faulted) already. */
  foundDown: FaultTarget[];
}

/** The restart order: what the others need first. */
const RESTART_ORDER: FaultTarget[] = ['postgres', 'temporal', 'worker', 'api'];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Kills and restarts components; counts what it observed. */
export class FaultInjector {
  /** Kills that found the component running and saw it gone, by component. */
  readonly kills: Record<FaultTarget, number> = { worker: 0, api: 0, temporal: 0, postgres: 0 };
  /** Kills meant for a component that was down already (not counted in {@link kills}). */
  killsOfStoppedComponents = 0;
  /** Faults that saw two components gone at once. */
  overlappingKills = 0;
  readonly faults: InjectedFault[] = [];
  private readonly busy = new Set<FaultTarget>();
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly controls: Record<FaultTarget, FaultControl>) {}

  /** True while a fault holds this component (down or restarting). */
  isFaulted(target: FaultTarget): boolean {
    return this.busy.has(target);
  }

  /**
   * SIGKILLs `targets` at once, keeps them down `downMs`, restarts them in dependency order; answers
   * the fault as observed. A target already held by another fault is not touched (counted as found down).
   */
  async inject(targets: FaultTarget[], downMs: number, cause: FaultCause): Promise<InjectedFault> {
    const mine = [...new Set(targets)].filter((t) => !this.busy.has(t));
    const fault: InjectedFault = { at: Date.now(), cause, killed: [], foundDown: targets.filter((t) => !mine.includes(t)) };
    for (const t of mine) this.busy.add(t);
    const done = (async () => {
      try {
        const killed = await Promise.all(mine.map((t) => this.controls[t].kill()));
        mine.forEach((t, i) => (killed[i] ? fault.killed.push(t) : fault.foundDown.push(t)));
        for (const t of fault.killed) this.kills[t] += 1;
        this.killsOfStoppedComponents += fault.foundDown.length;
        if (fault.killed.length >= 2) this.overlappingKills += 1;
        this.faults.push(fault);
        await sleep(downMs);
        for (const t of RESTART_ORDER) if (mine.includes(t)) await this.controls[t].restart();
      } finally {
        for (const t of mine) this.busy.delete(t);
      }
    })();
    this.pending.add(done);
    try {
      await done;
    } finally {
      this.pending.delete(done);
    }
    return fault;
  }

  /** Waits until every fault in progress has restarted what it killed. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}

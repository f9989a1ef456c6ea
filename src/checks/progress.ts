/**
 * Called by long-running checks while they stream, so that an activity can heartbeat.
 * `detail` says how far it got (bytes or rows read).
 */
export type ProgressReporter = (detail: { stage: string; bytes?: number; rows?: number }) => void;

/** A reporter that does nothing: the default outside an activity. */
export const noProgress: ProgressReporter = () => undefined;

/**
 * Wraps `report` so that it is called at most once per `intervalMs` (the first call always
 * passes). Streams call the result on every chunk without flooding the heartbeat channel.
 */
export function throttleProgress(report: ProgressReporter, intervalMs = 1_000): ProgressReporter {
  let last = 0;
  return (detail) => {
    const now = Date.now();
    if (now - last >= intervalMs) {
      last = now;
      report(detail);
    }
  };
}

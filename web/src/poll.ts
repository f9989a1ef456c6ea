// Live data without reloading: each page polls what it shows every POLL_INTERVAL_MS while the
// tab is visible (at once when it becomes visible again), one request at a time.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

/** How often a visible page refreshes what it shows. */
export const POLL_INTERVAL_MS = 3_000;

/** What {@link usePoll} returns. */
export interface Polled<T> {
  data?: T;
  /** The last refresh's failure (the data of the refresh before stays shown). */
  error?: Error;
  /** When the data was last refreshed. */
  updatedAt?: Date;
  /** Refreshes now, resolving when done; after an action, a refresh already under way is followed by a new one. */
  refresh: () => Promise<void>;
}

/**
 * Loads with `load` now and every {@link POLL_INTERVAL_MS} while the document is visible.
 * A new `key` starts over (another page, other filters) and forgets the old data.
 */
export function usePoll<T>(load: () => Promise<T>, key: string): Polled<T> {
  const [state, setState] = useState<{ key: string; data?: T; error?: Error; updatedAt?: Date }>({ key });
  const loadRef = useRef(load);
  loadRef.current = load;
  const generation = useRef(0);
  const running = useRef<Promise<void> | undefined>(undefined);

  const loadOnce = useCallback((): Promise<void> => {
    if (running.current) return running.current;
    const mine = generation.current;
    const run = loadRef
      .current()
      .then(
        (data) => {
          if (mine === generation.current) setState({ key, data, updatedAt: new Date() });
        },
        (error: unknown) => {
          if (mine === generation.current) {
            setState((s) => ({ ...(s.key === key ? s : { key }), error: error instanceof Error ? error : new Error(String(error)) }));
          }
        },
      )
      .finally(() => {
        running.current = undefined;
      });
    running.current = run;
    return run;
  }, [key]);
  const refresh = useCallback(
    (): Promise<void> => (running.current ? running.current.then(() => loadOnce()) : loadOnce()),
    [loadOnce],
  );

  useEffect(() => {
    generation.current += 1;
    running.current = undefined;
    setState({ key });
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const tick = async () => {
      if (!document.hidden) await loadOnce();
      if (!stopped) timer = setTimeout(() => void tick(), POLL_INTERVAL_MS);
    };
    const onVisible = () => {
      if (!document.hidden) void loadOnce();
    };
    void tick();
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [key, loadOnce]);

  const current = state.key === key ? state : { key };
  return { data: current.data, error: current.error, updatedAt: current.updatedAt, refresh };
}

/** The current time, refreshed every `everyMs` (for "time left" that counts down). */
export function useNow(everyMs = 1_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

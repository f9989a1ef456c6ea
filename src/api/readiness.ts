/** A dependency the API needs to serve requests, and how to check it. */
export interface ReadinessProbe {
  /** Name shown in `/readyz` (e.g. `temporal`, `postgres`). */
  name: string;
  /** Resolves when the dependency answers; rejects (or times out) otherwise. */
  check: () => Promise<void>;
}

/** Outcome of one probe in `/readyz`. */
export interface ProbeResult {
  name: string;
  ok: boolean;
  error?: string;
  durationMs: number;
}

/** Runs every probe concurrently; one that takes longer than `timeoutMs` counts as failed. */
export async function runProbes(probes: ReadonlyArray<ReadinessProbe>, timeoutMs: number): Promise<ProbeResult[]> {
  return Promise.all(
    probes.map(async (probe) => {
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          probe.check(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return { name: probe.name, ok: true, durationMs: Date.now() - started };
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        return { name: probe.name, ok: false, error, durationMs: Date.now() - started };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}

/**
 * Thrown when a process cannot start because a dependency is unreachable or
 * refuses it; `hint` tells the operator what to do.
 */
export class StartupError extends Error {
  constructor(
    readonly step: string,
    override readonly cause: unknown,
    readonly hint: string,
  ) {
    super(`${step} failed: ${cause instanceof Error ? cause.message : String(cause)}\n  ${hint}`);
    this.name = 'StartupError';
  }
}

/** Runs one start-up step; a failure becomes a {@link StartupError} carrying `hint`. */
export async function startupStep<T>(step: string, hint: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw new StartupError(step, err, hint);
  }
}

/** Removes the password from a database URL before it is logged. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * Entry-point wrapper: runs `main`, and on failure prints one plain message
 * (never a stack trace) and exits non-zero.
 */
export function runProcess(processName: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      process.stderr.write(`modelgate ${processName}: ${message}\n`);
      process.exit(1);
    },
  );
}

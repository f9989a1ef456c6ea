import pino from 'pino';

/** Structured JSON logger of a Modelgate process. */
export type Logger = pino.Logger;

/** Creates the logger of one process (`worker`, `api`, …) at the given level. */
export function createLogger(processName: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: `modelgate-${processName}`, level, base: { process: processName } });
}

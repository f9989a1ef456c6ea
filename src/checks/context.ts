import type { ProgressReporter } from './progress';
import type { RegistryReader } from './registry';

/** What a check needs from where it runs (the worker or the CLI). */
export interface CheckContext {
  /** Directory that relative `file://` URIs resolve against (the manifest's folder in the CLI). */
  baseDir?: string;
  /** Heartbeat hook for long streams. */
  progress?: ProgressReporter;
  /** The model registry; absent in the CLI, where registry-dependent parts are skipped. */
  registry?: RegistryReader;
  /** Time allowed between two chunks of an HTTP read (default 30 s). */
  httpIdleTimeoutMs?: number;
}

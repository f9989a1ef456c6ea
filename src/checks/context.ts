import type { SourceRules } from '../sources/rules';
import type { ProgressReporter } from './progress';
import type { RegistryReader } from '../registry';

/** What a check needs from where it runs (the worker or the CLI). */
export interface CheckContext {
  /** Where the manifest's sources may be read from and how much of them (docs/security.md, "Sources"). */
  sources: SourceRules;
  /**
   * Content-addressed store of verified artifacts (`<dir>/sha256/<digest>`); artifacts are staged
   * under it. Absent in the CLI, which stages in a temporary folder and keeps nothing.
   */
  artifactStoreDir?: string;
  /** Aborts reads of sources (the activity's cancellation). */
  signal?: AbortSignal;
  /** Heartbeat hook for long streams. */
  progress?: ProgressReporter;
  /** The model registry; absent in the CLI, where registry-dependent parts are skipped. */
  registry?: RegistryReader;
}

/** How a check reads its sources in this context: the rules, the progress hook and the cancellation. */
export function sourceReadOptions(context: CheckContext): { sources: SourceRules; progress?: ProgressReporter; signal?: AbortSignal } {
  return {
    sources: context.sources,
    ...(context.progress ? { progress: context.progress } : {}),
    ...(context.signal ? { signal: context.signal } : {}),
  };
}

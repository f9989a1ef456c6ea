import type { PromotionManifest } from '../manifest/schema';
import { type SourceRules, SourceRefusal, checkSourceUri } from './rules';

/** A manifest field whose source the rules refuse. */
export interface SourceProblem {
  /** The manifest field (`artifact.uri`, `evaluation.uri`, `modelCard.uri`, `lineage.trainingData.uri`). */
  path: string;
  /** The rule that refused it. */
  rule: string;
  message: string;
}

/** Schemes Modelgate never reads: a training-data URI with one of them is recorded as a reference only. */
const REFERENCE_ONLY = /^[a-z][a-z0-9+.-]{0,31}:\/\//i;

/**
 * Every source URI of a manifest that the rules refuse before anything is read (the API refuses
 * the submission with these; the worker checks each source again, symlinks and addresses
 * included, when it reads it). Training-data URIs of other schemes (`s3://`, `gs://`, …) are
 * references Modelgate records and never reads.
 */
export function manifestSourceProblems(manifest: PromotionManifest, rules: SourceRules): SourceProblem[] {
  const sources: Array<[string, string | undefined]> = [
    ['artifact.uri', manifest.artifact.uri],
    ['evaluation.uri', manifest.evaluation?.uri],
    ['modelCard.uri', typeof (manifest.modelCard as { uri?: unknown }).uri === 'string' ? (manifest.modelCard as { uri: string }).uri : undefined],
  ];
  const training = manifest.lineage.trainingData?.uri;
  if (training !== undefined) {
    const read = /^(file|https?):\/\//i.test(training);
    if (read || !REFERENCE_ONLY.test(training)) sources.push(['lineage.trainingData.uri', training]);
  }
  const problems: SourceProblem[] = [];
  for (const [path, uri] of sources) {
    if (uri === undefined) continue;
    try {
      checkSourceUri(uri, rules, path);
    } catch (err) {
      if (!(err instanceof SourceRefusal)) throw err;
      problems.push({ path, rule: err.rule, message: err.message });
    }
  }
  return problems;
}

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

/** The parts of a manifest that name sources (a whole manifest, or a revision's changes). */
export interface ManifestSources {
  artifact?: { uri?: unknown };
  evaluation?: { uri?: unknown };
  modelCard?: unknown;
  lineage?: { trainingData?: { uri?: unknown } };
}

/** The source URIs a manifest or a revision names, by field (non-strings are the schema's business). */
function sourceUrisOf(manifest: ManifestSources): Array<[string, string]> {
  const uris: Array<[string, unknown]> = [
    ['artifact.uri', manifest.artifact?.uri],
    ['evaluation.uri', manifest.evaluation?.uri],
    ['modelCard.uri', (manifest.modelCard as { uri?: unknown } | undefined)?.uri],
  ];
  const training = manifest.lineage?.trainingData?.uri;
  // Schemes Modelgate never reads (s3://, gs://, …) are references; file and http(s) are read.
  if (typeof training === 'string' && (/^(file|https?):\/\//i.test(training) || !REFERENCE_ONLY.test(training))) {
    uris.push(['lineage.trainingData.uri', training]);
  }
  return uris.filter((entry): entry is [string, string] => typeof entry[1] === 'string');
}

/**
 * Every source URI of a manifest (or of a revision's changes) that the rules refuse before
 * anything is read (the API refuses the submission or revision with these; the worker checks each
 * source again, symlinks and addresses included, when it reads it). Training-data URIs of other
 * schemes (`s3://`, `gs://`, …) are references Modelgate records and never reads.
 */
export function manifestSourceProblems(manifest: ManifestSources | PromotionManifest, rules: SourceRules): SourceProblem[] {
  const problems: SourceProblem[] = [];
  for (const [path, uri] of sourceUrisOf(manifest as ManifestSources)) {
    try {
      checkSourceUri(uri, rules, path);
    } catch (err) {
      if (!(err instanceof SourceRefusal)) throw err;
      problems.push({ path, rule: err.rule, message: err.message });
    }
  }
  return problems;
}

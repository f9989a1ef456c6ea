/** One thing the security scan found, as `modelgate scan --json` prints it. */
export interface SecurityFinding {
  /** File (relative to the artifact root, or as given on the command line). */
  file: string;
  /** Archive member, when the finding is inside an archive. */
  member?: string;
  kind: string;
  /** `module.name` of an imported global, for pickle findings. */
  global?: string;
  severity: 'info' | 'low' | 'medium' | 'high' | 'critical';
  detail: string;
}

/** Where an inspector's findings belong. */
export interface FindingLocation {
  file: string;
  member?: string;
}

/** A finding without its location (inspectors produce these; the scanner adds where). */
export type LocalFinding = Omit<SecurityFinding, 'file' | 'member'>;

/** True when a finding makes the scan fail (default deny: medium and above). */
export function isDangerous(finding: Pick<SecurityFinding, 'severity'>): boolean {
  return finding.severity === 'medium' || finding.severity === 'high' || finding.severity === 'critical';
}

/**
 * A streaming inspector of one file or archive member: it receives the bytes in order and
 * reports findings at the end. Memory stays bounded whatever the stream's length.
 */
export interface StreamInspector {
  push(chunk: Buffer): void;
  /**
   * The findings. `streamBytes` is given when the reader stopped pushing because {@link done}
   * was true: the stream's full length, as its loader sees it (a file's size).
   */
  end(streamBytes?: number): LocalFinding[];
  /** True once the bytes still to come cannot change the findings (their length aside): the reader may stop. */
  readonly done?: boolean;
}

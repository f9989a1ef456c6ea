/**
 * The bounds of a security scan, in one typed object. Each bound, when reached, produces a named
 * dangerous finding (the scan fails closed) instead of exhausting the worker's memory or time.
 */

/** Bounds of a security scan; override any of them through `ScanOptions.limits`. */
export interface ScanLimits {
  /** Most open MARKs at once in a pickle (default 10,000; the Python pickler nests ~1,000 deep at most). Finding `pickle_mark_limit`. */
  maxPickleMarks: number;
  /** Most entries on the simulated pickle stack (default 1,000,000). Finding `pickle_stack_limit`. */
  maxPickleStack: number;
  /** Most memo entries of one pickle (default 8,000,000: a 1,000,000-tensor state dict needs ~8 per tensor). Finding `pickle_memo_limit`. */
  maxPickleMemo: number;
  /** Most opcodes in one stream (default 400,000,000). Finding `pickle_opcode_limit`. */
  maxPickleOpcodes: number;
  /**
   * Bytes of decoded strings, tuples and dicts the walker may keep per pickle (default 64 MiB).
   * Past it, values are kept as opaque: an import whose name is opaque counts as dangerous.
   */
  maxPickleValueBytes: number;
  /** Payloads up to this size are buffered to be decoded; larger ones are skipped (default 64 KiB). */
  maxInlinePayloadBytes: number;
  /** Most members of an archive (default 100,000). Finding `archive_member_limit`. */
  maxArchiveMembers: number;
  /** Most decompressed bytes of one file, over all its members (default 16 GiB). Finding `archive_bomb`. */
  maxUncompressedBytes: number;
  /**
   * Most decompressed bytes per compressed byte of one member or compressed stream (default 200),
   * enforced once the output passes {@link compressionRatioGraceBytes}. Finding `compression_ratio`.
   */
  maxCompressionRatio: number;
  /** Output a member may produce before the ratio is enforced (default 32 MiB). */
  compressionRatioGraceBytes: number;
  /** Largest JSON config (Keras `config.json`, HDF5 `model_config`) that is parsed (default 64 MiB). */
  maxConfigBytes: number;
  /** Time the HDF5 reader may take on one file (default 60 s). Finding `hdf5_unreadable`. */
  hdf5TimeoutMs: number;
}

/** The default bounds (see each field of {@link ScanLimits}). */
export const DEFAULT_SCAN_LIMITS: Readonly<ScanLimits> = Object.freeze({
  maxPickleMarks: 10_000,
  maxPickleStack: 1_000_000,
  maxPickleMemo: 8_000_000,
  maxPickleOpcodes: 400_000_000,
  maxPickleValueBytes: 64 * 1024 * 1024,
  maxInlinePayloadBytes: 64 * 1024,
  maxArchiveMembers: 100_000,
  maxUncompressedBytes: 16 * 1024 ** 3,
  maxCompressionRatio: 200,
  compressionRatioGraceBytes: 32 * 1024 * 1024,
  maxConfigBytes: 64 * 1024 * 1024,
  hdf5TimeoutMs: 60_000,
});

/** The defaults with `overrides` applied (undefined fields keep their default). */
export function resolveScanLimits(overrides: Partial<ScanLimits> = {}): ScanLimits {
  const limits: ScanLimits = { ...DEFAULT_SCAN_LIMITS };
  for (const [key, value] of Object.entries(overrides) as Array<[keyof ScanLimits, number | undefined]>) {
    if (value !== undefined) limits[key] = value;
  }
  return limits;
}

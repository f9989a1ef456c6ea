import { createReadStream } from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import type { LocalArtifact } from '../artifact-source';
import { type ArtifactDigest, type FileDigest, directoryRootDigest, sha256File } from '../digest';
import { type ProgressReporter, noProgress } from '../progress';
import { type ByteSource, FileByteSource } from './byte-source';
import { type LocalFinding, type SecurityFinding, type StreamInspector, isDangerous } from './findings';
import { type DetectedFormat, FORMAT_CONTENTS, JOBLIB_FORMATS, MODEL_EXTENSIONS, detectFormat } from './format';
import { hdf5SignatureOffset, inspectHdf5 } from './hdf5-inspector';
import { KerasConfigInspector } from './keras-inspector';
import { type ScanLimits, boundForField, resolveScanLimits } from './limits';
import { NPY_MAGIC, NpyInspector } from './npy-inspector';
import { inspectOnnx } from './onnx-inspector';
import { type JoblibReading, PickleInspector } from './pickle-inspector';
import { SafetensorsInspector } from './safetensors-inspector';
import { type InflateBudget, type ZipMember, ZipFormatError, ZipMemberError, listZipMembers, looksLikeZip, memberChunks } from './zip-archive';

/** Options of a security scan. */
export interface ScanOptions {
  /** Extra allowed globals (`module.name` or `module.*`). */
  allowGlobals?: readonly string[];
  /** Bounds of the scan (defaults: {@link DEFAULT_SCAN_LIMITS}). */
  limits?: Partial<ScanLimits>;
  /** Bound on the total uncompressed bytes of one file's members or stream; overrides `limits.maxUncompressedBytes`. */
  maxUncompressedBytes?: number;
  /** Format the manifest declares: decides how files that cannot be sniffed are read, and content that matches no model format fails. */
  declaredFormat?: string;
  progress?: ProgressReporter;
}

export { DEFAULT_SCAN_LIMITS, type ScanLimits } from './limits';
export { type DetectedFormat, detectFormat } from './format';

/** Scan result of one file. */
export interface FileScan {
  file: string;
  format: DetectedFormat;
  bytes: number;
  findings: SecurityFinding[];
  /** sha256 of the file, when it was hashed in the same pass. */
  sha256?: string;
}

/** Scan result of an artifact (a file or a directory), with its digest when hashed in the same pass. */
export interface ArtifactScan {
  files: FileScan[];
  digest?: ArtifactDigest;
  /** True when any finding is medium or worse (default deny). */
  dangerous: boolean;
}

/**
 * How a top-level pickle stream's loader treats joblib inline arrays: joblib's when the manifest
 * says joblib (or, with no declared format, the file is named `.joblib`), else either loader's.
 */
function joblibReadingOf(options: ScanOptions, fileName: string): JoblibReading {
  if (options.declaredFormat) return JOBLIB_FORMATS.has(options.declaredFormat) ? 'only' : 'either';
  return path.extname(fileName).toLowerCase() === '.joblib' ? 'only' : 'either';
}

function pickleInspector(options: ScanOptions, limits: ScanLimits, reading: JoblibReading): PickleInspector {
  return new PickleInspector(options.allowGlobals, 0, limits, reading);
}

function streamInspectorFor(format: DetectedFormat, fileName: string, options: ScanOptions, limits: ScanLimits): StreamInspector | undefined {
  switch (format) {
    case 'pickle':
      return pickleInspector(options, limits, joblibReadingOf(options, fileName));
    case 'npy':
      return new NpyInspector(options.allowGlobals, limits);
    case 'safetensors':
      return new SafetensorsInspector();
    case 'unknown':
      return new PickleSniffInspector(pickleInspector(options, limits, joblibReadingOf(options, fileName)));
    default:
      return undefined;
  }
}

/**
 * Reads content nobody names as a pickle through the pickle walker: protocol 0 and 1 pickles
 * have no PROTO header to sniff. It is a pickle when the walk completes one (reaches STOP), or
 * when it imported a global and made a call before breaking (the unpickler would have run it).
 */
class PickleSniffInspector implements StreamInspector {
  /** Set by {@link end}: whether the content was a pickle. */
  isPickle = false;
  constructor(private readonly inner: PickleInspector) {}
  get done(): boolean {
    return this.inner.failed;
  }
  push(chunk: Buffer): void {
    this.inner.push(chunk);
  }
  end(): LocalFinding[] {
    const findings = this.inner.end();
    const summary = this.inner.summary!;
    this.isPickle = summary.pickles > 0 || (summary.imports > 0 && summary.calls > 0);
    if (!this.isPickle) return [];
    return [{ kind: 'unnamed_pickle', severity: 'low', detail: 'the content is a pickle although its name does not say so; scanned as one' }, ...findings];
  }
}

/** Decides, from the first bytes of a member nobody names as a pickle, whether it is one. */
class SniffInspector implements StreamInspector {
  private inner?: StreamInspector;
  private decided = false;
  private readonly extra: LocalFinding[] = [];
  constructor(
    private readonly options: ScanOptions,
    private readonly limits: ScanLimits,
  ) {}
  get done(): boolean {
    return this.decided && (this.inner === undefined || this.inner.done === true);
  }
  push(chunk: Buffer): void {
    if (!this.decided) {
      this.decided = true;
      if (chunk.length >= 2 && chunk[0] === 0x80 && chunk[1]! >= 2 && chunk[1]! <= 5) {
        this.inner = pickleInspector(this.options, this.limits, 'never');
        this.extra.push({ kind: 'unnamed_pickle_member', severity: 'low', detail: 'member starts like a pickle although its name does not say so; scanned as one' });
      } else if (looksLikeZip(chunk)) {
        this.extra.push({ kind: 'nested_archive', severity: 'low', detail: 'member is itself a zip archive; loaders do not open it, it was not scanned' });
      } else if (chunk.length >= 6 && chunk.subarray(0, 6).equals(NPY_MAGIC)) {
        this.inner = new NpyInspector(this.options.allowGlobals, this.limits);
      } else {
        this.inner = new PickleSniffInspector(pickleInspector(this.options, this.limits, 'never'));
      }
    }
    this.inner?.push(chunk);
  }
  end(): LocalFinding[] {
    return [...this.extra, ...(this.inner?.end() ?? [])];
  }
}

/** How a zip member is inspected. */
function memberInspector(member: ZipMember, flavour: { pytorch: boolean; keras: boolean }, options: ScanOptions, limits: ScanLimits): StreamInspector | 'storage' {
  const names = [member.name, member.localName ?? member.name];
  if (names.some((n) => /\.(pkl|pickle)$/i.test(n))) return pickleInspector(options, limits, 'never');
  if (names.some((n) => /\.npy$/i.test(n))) return new NpyInspector(options.allowGlobals, limits);
  if (flavour.keras && member.name === 'config.json') return new KerasConfigInspector(limits.maxConfigBytes);
  if (flavour.pytorch && names.every((n) => /(^|\/)data\/\d{1,12}$/.test(n))) return 'storage';
  return new SniffInspector(options, limits);
}

type Located = LocalFinding & { member?: string };

async function scanZip(source: ByteSource, options: ScanOptions, limits: ScanLimits): Promise<Located[]> {
  const findings: Located[] = [];
  let listing;
  try {
    listing = await listZipMembers(source, limits.maxArchiveMembers);
  } catch (err) {
    if (err instanceof ZipFormatError) {
      return [{ kind: err.kind, severity: err.kind === 'archive_member_limit' ? 'critical' : 'high', detail: `the archive cannot be read: ${err.message}` }];
    }
    throw err;
  }
  for (const a of listing.anomalies) findings.push({ kind: a.kind, severity: a.severity, detail: a.message, ...(a.member !== undefined ? { member: a.member } : {}) });
  const limit = limits.maxUncompressedBytes;
  const declaredTotal = listing.members.reduce((sum, m) => sum + m.uncompressedSize, 0);
  if (declaredTotal > limit) {
    findings.push({ kind: 'archive_bomb', severity: 'critical', detail: `members declare ${declaredTotal} uncompressed bytes, over the limit of ${limit}` });
    return findings;
  }
  const names = listing.members.map((m) => m.name);
  const flavour = {
    pytorch: names.some((n) => /(^|\/)data\.pkl$/.test(n)),
    keras: names.includes('config.json') && (names.includes('metadata.json') || names.includes('model.weights.h5')),
  };
  const budget: InflateBudget = { remaining: limit, maxRatio: limits.maxCompressionRatio, ratioGraceBytes: limits.compressionRatioGraceBytes };
  let storageMembers = 0;
  let scannedMembers = 0;
  for (const member of listing.members) {
    const inspector = memberInspector(member, flavour, options, limits);
    if (inspector === 'storage') {
      storageMembers += 1;
      continue;
    }
    scannedMembers += 1;
    let crcOk: boolean | undefined;
    try {
      for await (const chunk of memberChunks(source, member, budget, (ok) => (crcOk = ok))) {
        inspector.push(chunk);
        if (inspector.done) break;
      }
    } catch (err) {
      if (!(err instanceof ZipMemberError)) throw err;
      const bomb = err.kind === 'archive_bomb' || err.kind === 'compression_ratio';
      findings.push({ kind: bomb ? err.kind : 'unreadable_member', severity: bomb ? 'critical' : 'high', detail: `${err.message}; failing closed`, member: member.name });
    }
    for (const f of inspector.end()) findings.push({ ...f, member: member.name });
    if (crcOk === false) findings.push({ kind: 'crc_mismatch', severity: 'medium', detail: 'the member does not match its CRC-32 (read anyway, as PyTorch does)', member: member.name });
  }
  findings.push({
    kind: 'archive_summary',
    severity: 'info',
    detail: `${listing.members.length} member(s): ${scannedMembers} inspected, ${storageMembers} raw tensor storage${flavour.pytorch ? ' (PyTorch archive)' : ''}${flavour.keras ? ' (Keras archive)' : ''}`,
  });
  return findings;
}

/** Raised inside a decompression pipeline when the output passes a bound. */
class DecompressionBoundError extends Error {
  constructor(
    message: string,
    readonly kind: 'archive_bomb' | 'compression_ratio',
  ) {
    super(message);
  }
}

/**
 * Scans a gzip or zlib stream (joblib's compressions) as a pickle, read as joblib reads it. The
 * output is bounded in total and in ratio to the input consumed so far, so a bomb fails in about
 * the time it takes to inflate `ratio × input` bytes, not the whole bomb.
 */
async function scanCompressedPickle(filePath: string, displayName: string, format: 'gzip' | 'zlib', options: ScanOptions, limits: ScanLimits): Promise<LocalFinding[]> {
  const inspector = pickleInspector(options, limits, joblibReadingOf(options, displayName));
  let consumed = 0;
  let produced = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      consumed += chunk.length;
      done(null, chunk);
    },
  });
  const inflater = format === 'gzip' ? createGunzip({ chunkSize: 256 * 1024 }) : createInflate({ chunkSize: 256 * 1024 });
  const input = createReadStream(filePath, { highWaterMark: 64 * 1024 });
  input.on('error', (err) => inflater.destroy(err));
  counter.on('error', (err) => inflater.destroy(err));
  input.pipe(counter).pipe(inflater);
  const name = format === 'gzip' ? 'gzip' : 'zlib';
  try {
    for await (const chunk of inflater as AsyncIterable<Buffer>) {
      produced += chunk.length;
      if (produced > limits.maxUncompressedBytes) throw new DecompressionBoundError(`decompresses to more than ${limits.maxUncompressedBytes} bytes`, 'archive_bomb');
      if (produced > limits.compressionRatioGraceBytes && produced > limits.maxCompressionRatio * Math.max(consumed, 1)) {
        throw new DecompressionBoundError(`inflates more than ${limits.maxCompressionRatio}× the compressed bytes read so far`, 'compression_ratio');
      }
      inspector.push(chunk);
    }
  } catch (err) {
    if (err instanceof DecompressionBoundError) return [...inspector.end(), { kind: err.kind, severity: 'critical', detail: `the ${name} stream ${err.message}; failing closed` }];
    return [...inspector.end(), { kind: 'corrupt_archive', severity: 'high', detail: `the ${name} stream cannot be decompressed; failing closed` }];
  } finally {
    input.destroy();
    counter.destroy();
    inflater.destroy();
  }
  return [{ kind: 'compressed_pickle', severity: 'info', detail: `${name}-compressed (joblib): the decompressed stream was scanned as a pickle` }, ...inspector.end()];
}

/**
 * Where a scanned file stands in its artifact. A file that is the whole artifact must match the
 * declared format; in a directory only model-named files must be model files (a README need not).
 */
export interface FileRole {
  /** The file is the whole artifact (not one file of a directory). */
  single: boolean;
}

/** Findings when the content is no model format the manifest allows (fail closed on what cannot be judged). */
function contentFindings(format: DetectedFormat, displayName: string, options: ScanOptions, role: FileRole): LocalFinding[] {
  const declared = options.declaredFormat;
  const expected = declared ? FORMAT_CONTENTS[declared] : undefined;
  const modelNamed = MODEL_EXTENSIONS.has(path.extname(displayName).toLowerCase());
  if (format === 'unknown') {
    if ((expected && role.single) || modelNamed) {
      return [
        {
          kind: 'unrecognised_content',
          severity: 'high',
          detail: `the content matches no model format the scanner reads${declared ? ` (the manifest declares '${expected ? declared : 'another format'}')` : ''}; it cannot be judged, failing closed`,
        },
      ];
    }
    return [{ kind: 'not_a_model_format', severity: 'info', detail: 'not a recognised model serialization format; not scanned' }];
  }
  if (expected && role.single && !expected.includes(format)) {
    return [{ kind: 'format_mismatch', severity: 'high', detail: `the manifest declares '${declared}' but the content is ${format}; a loader of either could read it differently, failing closed` }];
  }
  return [];
}

/**
 * Scans one file. With `hash`, the file is read once, front to back: each chunk goes to the
 * sha256 and to the streaming inspector of its format; archives, ONNX and HDF5 models, which need
 * random access, are read alongside that pass. `role.single` says the file is the whole artifact.
 */
export async function scanFile(filePath: string, displayName: string, options: ScanOptions = {}, hash = false, role: FileRole = { single: true }): Promise<FileScan> {
  const progress = options.progress ?? noProgress;
  const limits = resolveScanLimits({ ...options.limits, ...(options.maxUncompressedBytes !== undefined ? { maxUncompressedBytes: options.maxUncompressedBytes } : {}) });
  const source = await FileByteSource.open(filePath);
  try {
    const head = await source.read(0, 64);
    let format = detectFormat(head, displayName, source.size, options.declaredFormat);
    const hdf5Offset = format === 'unknown' || format === 'hdf5' ? await hdf5SignatureOffset(source) : -1;
    if (hdf5Offset >= 0) format = 'hdf5';
    const inspector = streamInspectorFor(format, displayName, options, limits);
    const located = (list: Located[]): SecurityFinding[] =>
      list.map((f) => ({
        file: displayName,
        ...(f.member !== undefined ? { member: boundForField(f.member) } : {}),
        kind: f.kind,
        ...(f.global ? { global: f.global } : {}),
        severity: f.severity,
        detail: f.detail,
      }));
    const randomAccess = async (): Promise<Located[]> => {
      if (format === 'zip') return scanZip(source, options, limits);
      if (format === 'onnx') return inspectOnnx(source, filePath);
      if (format === 'gzip' || format === 'zlib') return scanCompressedPickle(filePath, displayName, format, options, limits);
      if (format === 'hdf5') return inspectHdf5(filePath, hdf5Offset, limits);
      if (format === 'compressed') {
        return [{ kind: 'unsupported_compression', severity: 'high', detail: 'compressed with bz2, xz, lzma or lz4, which joblib reads but the scanner cannot; failing closed' }];
      }
      return [];
    };
    if (inspector) {
      let sha256: string | undefined;
      let bytes: number;
      let stoppedEarly = false;
      if (hash) {
        const result = await sha256File(filePath, { onChunk: (c) => inspector.push(c), progress });
        sha256 = result.sha256;
        bytes = result.bytes;
      } else {
        bytes = 0;
        for await (const chunk of createReadStream(filePath, { highWaterMark: 4 * 1024 * 1024 }) as AsyncIterable<Buffer>) {
          inspector.push(chunk);
          bytes += chunk.length;
          progress({ stage: 'scan', bytes });
          if (inspector.done) {
            stoppedEarly = true;
            break;
          }
        }
      }
      const found: Located[] = inspector.end(stoppedEarly ? source.size : undefined);
      if (inspector instanceof PickleSniffInspector) {
        if (inspector.isPickle) format = 'pickle';
        found.push(...contentFindings(format, displayName, options, role));
      }
      return { file: displayName, format, bytes: hash ? bytes : source.size, findings: located(found), ...(sha256 ? { sha256 } : {}) };
    }
    const [digest, found] = await Promise.all([hash ? sha256File(filePath, { progress }) : Promise.resolve(undefined), randomAccess()]);
    found.push(...contentFindings(format, displayName, options, role));
    return { file: displayName, format, bytes: source.size, findings: located(found), ...(digest ? { sha256: digest.sha256 } : {}) };
  } finally {
    await source.close();
  }
}

/**
 * Scans every file of an artifact; with `hash`, also computes its digest (file sha256 or
 * directory root digest) in the same pass. Symbolic links in a directory are reported, never followed.
 */
export async function scanArtifact(artifact: LocalArtifact, options: ScanOptions = {}, hash = false): Promise<ArtifactScan> {
  const files: FileScan[] = [];
  for (const file of artifact.files) {
    const display = artifact.kind === 'file' ? (artifact.displayName ?? file.absolutePath) : file.relativePath;
    files.push(await scanFile(file.absolutePath, display, options, hash, { single: artifact.kind === 'file' }));
  }
  for (const link of artifact.symlinks) {
    files.push({ file: link, format: 'unknown', bytes: 0, findings: [{ file: link, kind: 'symlink', severity: 'high', detail: 'symbolic link inside the artifact: not followed, refused' }] });
  }
  const dangerous = files.some((f) => f.findings.some(isDangerous));
  if (!hash) return { files, dangerous };
  const digests: FileDigest[] = artifact.files.map((f, i) => ({ relativePath: f.relativePath, size: files[i]!.bytes, sha256: files[i]!.sha256! }));
  const digest: ArtifactDigest = {
    kind: artifact.kind,
    sha256: artifact.kind === 'file' ? digests[0]!.sha256 : directoryRootDigest(digests),
    files: digests,
    bytes: digests.reduce((s, d) => s + d.size, 0),
  };
  return { files, dangerous, digest };
}

import { createReadStream } from 'node:fs';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import type { LocalArtifact } from '../artifact-source';
import { type ArtifactDigest, type FileDigest, directoryRootDigest, sha256File } from '../digest';
import { type ProgressReporter, noProgress } from '../progress';
import { type ByteSource, FileByteSource } from './byte-source';
import { type LocalFinding, type SecurityFinding, type StreamInspector, isDangerous } from './findings';
import { KerasConfigInspector, PatternInspector, hdf5KerasPatterns } from './keras-inspector';
import { NPY_MAGIC, NpyInspector } from './npy-inspector';
import { inspectOnnx } from './onnx-inspector';
import { PickleInspector } from './pickle-inspector';
import { SafetensorsInspector, looksLikeSafetensors } from './safetensors-inspector';
import { type InflateBudget, type ZipMember, ZipFormatError, ZipMemberError, listZipMembers, looksLikeZip, memberChunks } from './zip-archive';

/** What the scanner recognised a file as. */
export type DetectedFormat = 'zip' | 'pickle' | 'npy' | 'safetensors' | 'onnx' | 'hdf5' | 'gzip' | 'unknown';

/** Options of a security scan. */
export interface ScanOptions {
  /** Extra allowed globals (`module.name` or `module.*`). */
  allowGlobals?: readonly string[];
  /** Bound on the total uncompressed bytes of archive members (default 64 GiB). */
  maxUncompressedBytes?: number;
  /** Format the manifest declares: decides how files that cannot be sniffed are read. */
  declaredFormat?: string;
  progress?: ProgressReporter;
}

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

const PICKLE_EXTENSIONS = new Set(['.pkl', '.pickle', '.joblib', '.pt', '.pth', '.bin', '.ckpt', '.sav', '.p', '.dill', '.pck', '.pcl', '.data']);
const PICKLE_FORMATS = new Set(['pickle', 'joblib', 'pytorch']);

/** Decides how to read a file from its first bytes, its name and the declared format. */
export function detectFormat(head: Buffer, fileName: string, size: number, declaredFormat?: string): DetectedFormat {
  const ext = path.extname(fileName).toLowerCase();
  if (looksLikeZip(head)) return 'zip';
  if (head.length >= 6 && head.subarray(0, 6).equals(NPY_MAGIC)) return 'npy';
  if (head.length >= 8 && head.subarray(0, 8).equals(Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'hdf5';
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (ext === '.safetensors' || (declaredFormat === 'safetensors' && ext !== '.json') || looksLikeSafetensors(head, size)) return 'safetensors';
  if (ext === '.onnx' || (declaredFormat === 'onnx' && ext !== '.data' && ext !== '.json')) return 'onnx';
  if (head.length >= 2 && head[0] === 0x80 && head[1]! <= 5) return 'pickle';
  if (PICKLE_EXTENSIONS.has(ext)) return 'pickle';
  if (['.npz', '.keras', '.zip'].includes(ext)) return 'zip';
  if (declaredFormat && PICKLE_FORMATS.has(declaredFormat) && !['.json', '.txt', '.md', '.yaml', '.yml'].includes(ext)) return 'pickle';
  return 'unknown';
}

function streamInspectorFor(format: DetectedFormat, options: ScanOptions): StreamInspector | undefined {
  switch (format) {
    case 'pickle':
      return new PickleInspector(options.allowGlobals);
    case 'npy':
      return new NpyInspector(options.allowGlobals);
    case 'safetensors':
      return new SafetensorsInspector();
    case 'hdf5':
      return new PatternInspector(hdf5KerasPatterns());
    default:
      return undefined;
  }
}

/** Decides, from the first bytes of a member nobody names as a pickle, whether it is one. */
class SniffInspector implements StreamInspector {
  private inner?: StreamInspector;
  private decided = false;
  private readonly extra: LocalFinding[] = [];
  constructor(private readonly options: ScanOptions) {}
  get done(): boolean {
    return this.decided && this.inner === undefined;
  }
  push(chunk: Buffer): void {
    if (!this.decided) {
      this.decided = true;
      if (chunk.length >= 2 && chunk[0] === 0x80 && chunk[1]! >= 2 && chunk[1]! <= 5) {
        this.inner = new PickleInspector(this.options.allowGlobals);
        this.extra.push({ kind: 'unnamed_pickle_member', severity: 'low', detail: 'member starts like a pickle although its name does not say so; scanned as one' });
      } else if (looksLikeZip(chunk)) {
        this.extra.push({ kind: 'nested_archive', severity: 'low', detail: 'member is itself a zip archive; loaders do not open it, it was not scanned' });
      } else if (chunk.length >= 6 && chunk.subarray(0, 6).equals(NPY_MAGIC)) {
        this.inner = new NpyInspector(this.options.allowGlobals);
      }
    }
    this.inner?.push(chunk);
  }
  end(): LocalFinding[] {
    return [...this.extra, ...(this.inner?.end() ?? [])];
  }
}

/** How a zip member is inspected. */
function memberInspector(member: ZipMember, flavour: { pytorch: boolean; keras: boolean }, options: ScanOptions): StreamInspector | 'storage' {
  const names = [member.name, member.localName ?? member.name];
  if (names.some((n) => /\.(pkl|pickle)$/i.test(n))) return new PickleInspector(options.allowGlobals);
  if (names.some((n) => /\.npy$/i.test(n))) return new NpyInspector(options.allowGlobals);
  if (flavour.keras && member.name === 'config.json') return new KerasConfigInspector();
  if (flavour.pytorch && names.every((n) => /(^|\/)data\/\d+$/.test(n))) return 'storage';
  return new SniffInspector(options);
}

async function scanZip(source: ByteSource, options: ScanOptions): Promise<Array<LocalFinding & { member?: string }>> {
  const findings: Array<LocalFinding & { member?: string }> = [];
  let listing;
  try {
    listing = await listZipMembers(source);
  } catch (err) {
    if (err instanceof ZipFormatError) return [{ kind: 'corrupt_archive', severity: 'high', detail: `the archive cannot be read: ${err.message}` }];
    throw err;
  }
  for (const a of listing.anomalies) findings.push({ kind: a.kind, severity: a.severity, detail: a.message, member: a.member });
  const limit = options.maxUncompressedBytes ?? 64 * 1024 ** 3;
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
  const budget: InflateBudget = { remaining: limit };
  let storageMembers = 0;
  let scannedMembers = 0;
  for (const member of listing.members) {
    const inspector = memberInspector(member, flavour, options);
    if (inspector === 'storage') {
      storageMembers += 1;
      continue;
    }
    scannedMembers += 1;
    let crcOk: boolean | undefined;
    try {
      for await (const chunk of memberChunks(source, member, budget, (ok) => (crcOk = ok))) {
        inspector.push(chunk);
        if ((inspector as { done?: boolean }).done) break;
      }
    } catch (err) {
      if (!(err instanceof ZipMemberError)) throw err;
      findings.push({
        kind: err.kind === 'archive_bomb' ? 'archive_bomb' : 'unreadable_member',
        severity: err.kind === 'archive_bomb' ? 'critical' : 'high',
        detail: `${err.message}; failing closed`,
        member: member.name,
      });
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

async function scanGzip(filePath: string, options: ScanOptions): Promise<LocalFinding[]> {
  const inspector = new PickleInspector(options.allowGlobals);
  const limit = options.maxUncompressedBytes ?? 64 * 1024 ** 3;
  let produced = 0;
  const gunzip = createGunzip();
  const input = createReadStream(filePath);
  input.on('error', (err) => gunzip.destroy(err));
  input.pipe(gunzip);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      produced += chunk.length;
      if (produced > limit) return [{ kind: 'archive_bomb', severity: 'critical', detail: `decompresses to more than ${limit} bytes` }];
      inspector.push(chunk);
    }
  } catch (err) {
    return [...inspector.end(), { kind: 'corrupt_archive', severity: 'high', detail: `gzip stream cannot be decompressed: ${err instanceof Error ? err.message : String(err)}` }];
  } finally {
    input.destroy();
    gunzip.destroy();
  }
  return [{ kind: 'compressed_pickle', severity: 'info', detail: 'gzip-compressed (joblib): the decompressed stream was scanned as a pickle' }, ...inspector.end()];
}

/**
 * Scans one file. With `hash`, the file is read once, front to back: each chunk goes to the
 * sha256 and to the streaming inspector of its format; archives and ONNX models, which need
 * their directories first, are read with random access alongside that pass.
 */
export async function scanFile(filePath: string, displayName: string, options: ScanOptions = {}, hash = false): Promise<FileScan> {
  const progress = options.progress ?? noProgress;
  const source = await FileByteSource.open(filePath);
  try {
    const head = await source.read(0, 64);
    const format = detectFormat(head, displayName, source.size, options.declaredFormat);
    const inspector = streamInspectorFor(format, options);
    const located = (list: Array<LocalFinding & { member?: string }>): SecurityFinding[] =>
      list.map((f) => ({ file: displayName, ...(f.member !== undefined ? { member: f.member } : {}), kind: f.kind, ...(f.global ? { global: f.global } : {}), severity: f.severity, detail: f.detail }));
    const randomAccess = async (): Promise<Array<LocalFinding & { member?: string }>> => {
      if (format === 'zip') return scanZip(source, options);
      if (format === 'onnx') return inspectOnnx(source, filePath);
      if (format === 'gzip') return scanGzip(filePath, options);
      if (format === 'unknown') return [{ kind: 'not_a_model_format', severity: 'info', detail: 'not a recognised model serialization format; not scanned' }];
      return [];
    };
    if (inspector) {
      let sha256: string | undefined;
      let bytes: number;
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
        }
      }
      return { file: displayName, format, bytes, findings: located(inspector.end()), ...(sha256 ? { sha256 } : {}) };
    }
    const [digest, found] = await Promise.all([hash ? sha256File(filePath, { progress }) : Promise.resolve(undefined), randomAccess()]);
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
    const display = artifact.kind === 'file' ? file.absolutePath : file.relativePath;
    files.push(await scanFile(file.absolutePath, display, options, hash));
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

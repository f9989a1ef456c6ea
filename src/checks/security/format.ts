// Recognising a file: what its first bytes, its name and the declared model format say it is.
import path from 'node:path';
import { NPY_MAGIC } from './npy-inspector';
import { looksLikeSafetensors } from './safetensors-inspector';
import { looksLikeZip } from './zip-archive';

/** What the scanner recognised a file as. `compressed` is a compression joblib reads that the scanner cannot (bz2, xz, lzma, lz4). */
export type DetectedFormat = 'zip' | 'pickle' | 'npy' | 'safetensors' | 'onnx' | 'hdf5' | 'gzip' | 'zlib' | 'compressed' | 'unknown';

const PICKLE_EXTENSIONS = new Set(['.pkl', '.pickle', '.joblib', '.pt', '.pth', '.bin', '.ckpt', '.sav', '.p', '.dill', '.pck', '.pcl', '.data']);
/** Declared formats whose files are pickles (possibly compressed, possibly in a zip). */
const PICKLE_FORMATS = new Set(['pickle', 'joblib', 'pytorch', 'sklearn']);
/** Declared formats whose loader is joblib.load (inline arrays are read as joblib does). */
export const JOBLIB_FORMATS = new Set(['joblib', 'sklearn']);
/** What each declared model format may contain, for a single-file artifact. */
export const FORMAT_CONTENTS: Record<string, readonly DetectedFormat[]> = {
  pickle: ['pickle', 'gzip', 'zlib'],
  joblib: ['pickle', 'gzip', 'zlib'],
  sklearn: ['pickle', 'gzip', 'zlib'],
  pytorch: ['zip', 'pickle'],
  safetensors: ['safetensors'],
  onnx: ['onnx'],
  keras: ['zip', 'hdf5'],
};
/** Extensions of model files: one whose content matches no format fails even inside a directory. */
export const MODEL_EXTENSIONS = new Set([...PICKLE_EXTENSIONS, '.npy', '.npz', '.safetensors', '.onnx', '.h5', '.hdf5', '.keras', '.gz', '.z']);
/** Compressions joblib.load detects by their magic bytes but the scanner cannot decompress. */
const UNSUPPORTED_COMPRESSIONS: Array<{ name: string; magic: Buffer }> = [
  { name: 'bz2', magic: Buffer.from('BZh') },
  { name: 'xz', magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a]) },
  { name: 'lzma', magic: Buffer.from([0x5d, 0x00]) },
  { name: 'lz4', magic: Buffer.from([0x04, 0x22, 0x4d, 0x18]) },
];

/** True when `head` opens a zlib stream (joblib's default compression): deflate method, valid header check. */
function looksLikeZlib(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x78 && ((head[0] << 8) | head[1]!) % 31 === 0;
}

/**
 * Companion files of a model directory that the declared format does not claim: JSON configs, and
 * OMS signature bundles (`model.sig`) whose content opens a JSON object (no pickle opcode is `{`).
 * Their content is still recognised by its magic bytes first.
 */
function isCompanion(ext: string, head: Buffer): boolean {
  return ext === '.json' || (ext === '.sig' && head[0] === 0x7b);
}

/** Decides how to read a file from its first bytes, its name and the declared format. */
export function detectFormat(head: Buffer, fileName: string, size: number, declaredFormat?: string): DetectedFormat {
  const ext = path.extname(fileName).toLowerCase();
  if (looksLikeZip(head)) return 'zip';
  if (head.length >= 6 && head.subarray(0, 6).equals(NPY_MAGIC)) return 'npy';
  if (head.length >= 8 && head.subarray(0, 8).equals(Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'hdf5';
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (looksLikeZlib(head)) return 'zlib';
  if (UNSUPPORTED_COMPRESSIONS.some((c) => head.length >= c.magic.length && head.subarray(0, c.magic.length).equals(c.magic))) return 'compressed';
  if (ext === '.safetensors' || (declaredFormat === 'safetensors' && !isCompanion(ext, head)) || looksLikeSafetensors(head, size)) return 'safetensors';
  if (ext === '.onnx' || (declaredFormat === 'onnx' && ext !== '.data' && !isCompanion(ext, head))) return 'onnx';
  if (head.length >= 2 && head[0] === 0x80 && head[1]! <= 5) return 'pickle';
  if (PICKLE_EXTENSIONS.has(ext)) return 'pickle';
  if (['.npz', '.keras', '.zip'].includes(ext)) return 'zip';
  if (declaredFormat && PICKLE_FORMATS.has(declaredFormat) && !isCompanion(ext, head) && !['.txt', '.md', '.yaml', '.yml'].includes(ext)) return 'pickle';
  return 'unknown';
}

import { Readable } from 'node:stream';
import { createInflateRaw, crc32 } from 'node:zlib';
import { type ByteSource, readRange } from './byte-source';
import { quoteForFinding } from './limits';

/**
 * A lenient reader of zip archives (PyTorch `.pt`/`.pth`/`.bin`, `.npz`, `.keras`). It reads
 * members the way PyTorch's loader does — through the central directory, ignoring general
 * purpose flag bits and CRC values — and additionally walks the local headers in order, so that
 * a member the central directory hides, a name that differs between the two records, an
 * encryption bit or a bad CRC is reported instead of hiding a member from the scan.
 */

/** One member of an archive. */
export interface ZipMember {
  /** Name from the central directory (or from the local header for a hidden member). */
  name: string;
  /** Name in the local header when it differs. */
  localName?: string;
  method: number;
  flags: number;
  compressedSize: number;
  uncompressedSize: number;
  crc32: number;
  localHeaderOffset: number;
  dataOffset: number;
  /** `central`: listed in the central directory; `local`: found only by walking local headers. */
  foundIn: 'central' | 'local';
}

/** Something unusual about the archive's structure. */
export interface ZipAnomaly {
  kind: string;
  severity: 'low' | 'medium' | 'high';
  message: string;
  member?: string;
}

/** The members of an archive and what was odd about it. */
export interface ZipListing {
  members: ZipMember[];
  anomalies: ZipAnomaly[];
}

/** Raised when an archive cannot be read at all (no end-of-central-directory record, …, or more members than the bound). */
export class ZipFormatError extends Error {
  override readonly name = 'ZipFormatError';
  constructor(
    message: string,
    readonly kind: 'corrupt_archive' | 'archive_member_limit' = 'corrupt_archive',
  ) {
    super(message);
  }
}

/** Raised when one member cannot be read: unsupported compression, corrupt data, over the size budget. */
export class ZipMemberError extends Error {
  override readonly name = 'ZipMemberError';
  constructor(
    message: string,
    readonly kind: 'unsupported_compression' | 'corrupt_member' | 'archive_bomb' | 'compression_ratio',
  ) {
    super(message);
  }
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const SIG_DESCRIPTOR = 0x08074b50;
const MAX_CENTRAL_DIRECTORY_BYTES = 256 * 1024 * 1024;

/** True when the buffer starts like a zip archive (a local header or an empty archive). */
export function looksLikeZip(head: Buffer): boolean {
  return head.length >= 4 && (head.readUInt32LE(0) === SIG_LOCAL || head.readUInt32LE(0) === SIG_EOCD);
}

function readZip64Extra(extra: Buffer, needs: { usize: boolean; csize: boolean; offset: boolean }): { usize?: number; csize?: number; offset?: number } {
  const out: { usize?: number; csize?: number; offset?: number } = {};
  let p = 0;
  while (p + 4 <= extra.length) {
    const id = extra.readUInt16LE(p);
    const len = extra.readUInt16LE(p + 2);
    if (id === 0x0001) {
      let q = p + 4;
      const end = Math.min(extra.length, q + len);
      const next = (): number | undefined => {
        if (q + 8 > end) return undefined;
        const v = Number(extra.readBigUInt64LE(q));
        q += 8;
        return v;
      };
      if (needs.usize) out.usize = next();
      if (needs.csize) out.csize = next();
      if (needs.offset) out.offset = next();
      return out;
    }
    p += 4 + len;
  }
  return out;
}

async function findEndOfCentralDirectory(source: ByteSource): Promise<{ cdOffset: number; cdSize: number; entries: number; eocdPos: number; zip64: boolean }> {
  const tailLength = Math.min(source.size, 22 + 65535 + 20);
  const tailStart = source.size - tailLength;
  const tail = await source.read(tailStart, tailLength);
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) !== SIG_EOCD) continue;
    const eocdPos = tailStart + i;
    let entries = tail.readUInt16LE(i + 10);
    let cdSize = tail.readUInt32LE(i + 12);
    let cdOffset = tail.readUInt32LE(i + 16);
    let zip64 = false;
    if (i >= 20 && tail.readUInt32LE(i - 20) === SIG_EOCD64_LOCATOR) {
      const eocd64Offset = Number(tail.readBigUInt64LE(i - 20 + 8));
      const rec = await source.read(eocd64Offset, 56);
      if (rec.length === 56 && rec.readUInt32LE(0) === SIG_EOCD64) {
        entries = Number(rec.readBigUInt64LE(32));
        cdSize = Number(rec.readBigUInt64LE(40));
        cdOffset = Number(rec.readBigUInt64LE(48));
        zip64 = true;
      }
    }
    return { cdOffset, cdSize, entries, eocdPos, zip64 };
  }
  throw new ZipFormatError('no end-of-central-directory record: not a zip archive, or truncated');
}

async function readLocalHeader(source: ByteSource, offset: number): Promise<{ name: string; flags: number; method: number; csize: number; usize: number; crc: number; dataOffset: number; extra: Buffer } | undefined> {
  const head = await source.read(offset, 30);
  if (head.length < 30 || head.readUInt32LE(0) !== SIG_LOCAL) return undefined;
  const nameLen = head.readUInt16LE(26);
  const extraLen = head.readUInt16LE(28);
  const rest = await source.read(offset + 30, nameLen + extraLen);
  if (rest.length < nameLen + extraLen) return undefined;
  const extra = rest.subarray(nameLen);
  let csize = head.readUInt32LE(18);
  let usize = head.readUInt32LE(22);
  if (csize === 0xffffffff || usize === 0xffffffff) {
    const z = readZip64Extra(extra, { usize: usize === 0xffffffff, csize: csize === 0xffffffff, offset: false });
    csize = z.csize ?? csize;
    usize = z.usize ?? usize;
  }
  return {
    name: rest.subarray(0, nameLen).toString('utf8'),
    flags: head.readUInt16LE(6),
    method: head.readUInt16LE(8),
    crc: head.readUInt32LE(14),
    csize,
    usize,
    dataOffset: offset + 30 + nameLen + extraLen,
    extra,
  };
}

/**
 * Lists the members of an archive from its central directory and its local headers.
 * Throws {@link ZipFormatError} when there is no readable central directory.
 */
export async function listZipMembers(source: ByteSource, maxMembers = 100_000): Promise<ZipListing> {
  const anomalies: ZipAnomaly[] = [];
  const eocd = await findEndOfCentralDirectory(source);
  if (eocd.cdSize > MAX_CENTRAL_DIRECTORY_BYTES) throw new ZipFormatError(`central directory of ${eocd.cdSize} bytes is larger than the limit`);
  // Data prepended to the archive shifts every offset (Python's zipfile allows it).
  let shift = 0;
  let cdStart = eocd.cdOffset;
  const probe = await source.read(cdStart, 4);
  if (eocd.entries > 0 && (probe.length < 4 || probe.readUInt32LE(0) !== SIG_CENTRAL)) {
    const alt = eocd.eocdPos - eocd.cdSize;
    const altProbe = alt >= 0 ? await source.read(alt, 4) : Buffer.alloc(0);
    if (altProbe.length === 4 && altProbe.readUInt32LE(0) === SIG_CENTRAL) {
      shift = alt - eocd.cdOffset;
      cdStart = alt;
      anomalies.push({ kind: 'prepended_data', severity: 'low', message: `${shift} bytes precede the archive` });
    } else throw new ZipFormatError(`the central directory is not at offset ${eocd.cdOffset}`);
  }
  const cd = await source.read(cdStart, Math.min(eocd.cdSize, Math.max(0, eocd.eocdPos - cdStart)));
  const members: ZipMember[] = [];
  let p = 0;
  while (p + 46 <= cd.length && cd.readUInt32LE(p) === SIG_CENTRAL) {
    if (members.length >= maxMembers) throw new ZipFormatError(`more than ${maxMembers} members: refusing the archive`, 'archive_member_limit');
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    if (p + 46 + nameLen + extraLen + commentLen > cd.length) {
      anomalies.push({ kind: 'truncated_central_directory', severity: 'high', message: 'a central directory record runs past the directory' });
      break;
    }
    const name = cd.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    const extra = cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen);
    let csize = cd.readUInt32LE(p + 20);
    let usize = cd.readUInt32LE(p + 24);
    let offset = cd.readUInt32LE(p + 42);
    if (csize === 0xffffffff || usize === 0xffffffff || offset === 0xffffffff) {
      const z = readZip64Extra(extra, { usize: usize === 0xffffffff, csize: csize === 0xffffffff, offset: offset === 0xffffffff });
      usize = z.usize ?? usize;
      csize = z.csize ?? csize;
      offset = z.offset ?? offset;
    }
    members.push({
      name,
      method: cd.readUInt16LE(p + 10),
      flags: cd.readUInt16LE(p + 8),
      compressedSize: csize,
      uncompressedSize: usize,
      crc32: cd.readUInt32LE(p + 16),
      localHeaderOffset: offset + shift,
      dataOffset: -1,
      foundIn: 'central',
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  if (members.length !== eocd.entries) {
    anomalies.push({ kind: 'entry_count_mismatch', severity: 'low', message: `the end record declares ${eocd.entries} members, the central directory lists ${members.length}` });
  }

  const byOffset = new Map<number, ZipMember>();
  for (const m of members) {
    const local = await readLocalHeader(source, m.localHeaderOffset);
    if (!local) {
      anomalies.push({ kind: 'missing_local_header', severity: 'high', member: m.name, message: `no local header at offset ${m.localHeaderOffset}` });
      continue;
    }
    m.dataOffset = local.dataOffset;
    if (local.name !== m.name) {
      m.localName = local.name;
      anomalies.push({ kind: 'name_mismatch', severity: 'medium', member: m.name, message: `the local header names this member ${quoteForFinding(local.name)}` });
    }
    if ((m.flags | local.flags) & 0x0001) {
      anomalies.push({ kind: 'encryption_flag', severity: 'medium', member: m.name, message: 'the encryption flag is set; the member is read as stored, as PyTorch does' });
    }
    if (m.dataOffset + m.compressedSize > cdStart) {
      anomalies.push({ kind: 'member_overruns', severity: 'high', member: m.name, message: 'member data runs into the central directory' });
    }
    byOffset.set(m.localHeaderOffset, m);
  }
  const located = members.filter((m) => m.dataOffset >= 0).sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  for (let i = 1; i < located.length; i++) {
    const prev = located[i - 1]!;
    if (located[i]!.localHeaderOffset < prev.dataOffset + prev.compressedSize) {
      anomalies.push({ kind: 'overlapping_members', severity: 'high', member: located[i]!.name, message: `overlaps member ${quoteForFinding(prev.name)} (a zip-bomb technique)` });
    }
  }

  // Walk the local headers in order: members the central directory does not list are hidden.
  let pos = shift;
  while (pos < cdStart) {
    const known = byOffset.get(pos);
    if (known) {
      pos = known.dataOffset + known.compressedSize;
      if (known.flags & 0x0008) {
        const d = await source.read(pos, 4);
        const hasSig = d.length === 4 && d.readUInt32LE(0) === SIG_DESCRIPTOR;
        const zip64 = known.compressedSize >= 0xffffffff || known.uncompressedSize >= 0xffffffff;
        pos += (hasSig ? 4 : 0) + (zip64 ? 20 : 12);
      }
      continue;
    }
    const local = await readLocalHeader(source, pos);
    if (!local) {
      if (cdStart - pos > 0) anomalies.push({ kind: 'unexplained_bytes', severity: 'low', message: `${cdStart - pos} bytes at offset ${pos} belong to no member` });
      break;
    }
    const hidden: ZipMember = {
      name: local.name,
      method: local.method,
      flags: local.flags,
      compressedSize: local.csize,
      uncompressedSize: local.usize,
      crc32: local.crc,
      localHeaderOffset: pos,
      dataOffset: local.dataOffset,
      foundIn: 'local',
    };
    if ((local.flags & 0x0008) && local.csize === 0) {
      anomalies.push({ kind: 'hidden_member', severity: 'high', member: local.name, message: `member ${quoteForFinding(local.name)} at offset ${pos} is not in the central directory and its size is unknown` });
      break;
    }
    anomalies.push({ kind: 'hidden_member', severity: 'high', member: local.name, message: `member ${quoteForFinding(local.name)} at offset ${pos} is not in the central directory` });
    if (members.length >= maxMembers) throw new ZipFormatError(`more than ${maxMembers} members: refusing the archive`, 'archive_member_limit');
    members.push(hidden);
    pos = local.dataOffset + local.csize;
  }
  return { members, anomalies };
}

/** Byte budget shared by the members of one archive (archive-bomb bound), and the per-member ratio bound. */
export interface InflateBudget {
  remaining: number;
  /** Most output bytes per compressed byte of a member, enforced past `ratioGraceBytes` of output. */
  maxRatio: number;
  ratioGraceBytes: number;
}

/**
 * Streams a member's uncompressed bytes (stored or deflated). Throws {@link ZipMemberError} on an
 * unsupported method, corrupt data, when the archive's budget is exhausted, or when the member
 * inflates beyond the budget's ratio (once past its grace bytes). `onCrc` receives whether the CRC matched.
 */
export async function* memberChunks(
  source: ByteSource,
  member: ZipMember,
  budget: InflateBudget,
  onCrc?: (matches: boolean, actual: number) => void,
): AsyncGenerator<Buffer> {
  if (member.dataOffset < 0) throw new ZipMemberError(`member ${quoteForFinding(member.name)} has no readable local header`, 'corrupt_member');
  if (member.dataOffset + member.compressedSize > source.size) {
    throw new ZipMemberError(`member ${quoteForFinding(member.name)} is truncated: its data runs past the end of the file`, 'corrupt_member');
  }
  let crc = 0;
  let produced = 0;
  const account = (chunk: Buffer): void => {
    produced += chunk.length;
    budget.remaining -= chunk.length;
    if (budget.remaining < 0) throw new ZipMemberError(`member ${quoteForFinding(member.name)} exceeds the archive's uncompressed size limit`, 'archive_bomb');
    if (produced > budget.ratioGraceBytes && produced > budget.maxRatio * Math.max(1, member.compressedSize)) {
      throw new ZipMemberError(`member ${quoteForFinding(member.name)} inflates more than ${budget.maxRatio}× its compressed size`, 'compression_ratio');
    }
    crc = crc32(chunk, crc);
  };
  const raw = readRange(source, member.dataOffset, member.compressedSize);
  if (member.method === 0) {
    for await (const chunk of raw) {
      account(chunk);
      yield chunk;
    }
  } else if (member.method === 8) {
    const inflater = createInflateRaw({ chunkSize: 1024 * 1024 });
    const input = Readable.from(raw);
    input.on('error', (err) => inflater.destroy(err));
    input.pipe(inflater);
    try {
      for await (const chunk of inflater as AsyncIterable<Buffer>) {
        account(chunk);
        yield chunk;
      }
    } catch (err) {
      if (err instanceof ZipMemberError) throw err;
      throw new ZipMemberError(`member ${quoteForFinding(member.name)} cannot be inflated: ${err instanceof Error ? err.message : String(err)}`, 'corrupt_member');
    } finally {
      input.destroy();
      inflater.destroy();
    }
  } else {
    throw new ZipMemberError(`member ${quoteForFinding(member.name)} uses compression method ${member.method}, which the scanner cannot read`, 'unsupported_compression');
  }
  onCrc?.(crc >>> 0 === member.crc32 >>> 0, crc >>> 0);
}

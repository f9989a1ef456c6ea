// Writes PyTorch-style checkpoints for the checks benchmarks.
import { closeSync, openSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';

interface Member {
  name: string;
  size: number;
  crc: number;
  offset: number;
  write: (fd: number) => void;
}

/**
 * Writes a stored (uncompressed) zip in torch.save's layout: `archive/data.pkl` (the given
 * pickle), 16 storages of pseudo-random floats together `storageBytes` long, `archive/version`.
 */
export function writeTorchCheckpoint(file: string, pickle: Buffer, storageBytes: number): void {
  const chunk = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < chunk.length; i += 4) chunk.writeFloatLE(Math.sin(i), i);
  const storages = 16;
  const per = Math.floor(storageBytes / storages / chunk.length) * chunk.length;
  let crcStorage = 0;
  for (let i = 0; i < per / chunk.length; i++) crcStorage = crc32(chunk, crcStorage);
  const members: Member[] = [{ name: 'archive/data.pkl', size: pickle.length, crc: crc32(pickle), offset: 0, write: (fd) => writeSync(fd, pickle) }];
  for (let s = 0; s < storages; s++) {
    members.push({ name: `archive/data/${s}`, size: per, crc: crcStorage, offset: 0, write: (fd) => { for (let i = 0; i < per; i += chunk.length) writeSync(fd, chunk); } });
  }
  const version = Buffer.from('3\n');
  members.push({ name: 'archive/version', size: version.length, crc: crc32(version), offset: 0, write: (fd) => writeSync(fd, version) });
  const fd = openSync(file, 'w');
  let offset = 0;
  for (const m of members) {
    const name = Buffer.from(m.name);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0); h.writeUInt16LE(20, 4); h.writeUInt32LE(m.crc >>> 0, 14);
    h.writeUInt32LE(m.size, 18); h.writeUInt32LE(m.size, 22); h.writeUInt16LE(name.length, 26);
    m.offset = offset;
    writeSync(fd, h); writeSync(fd, name); m.write(fd);
    offset += 30 + name.length + m.size;
  }
  const cdStart = offset;
  for (const m of members) {
    const name = Buffer.from(m.name);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0); c.writeUInt16LE(20, 4); c.writeUInt16LE(20, 6); c.writeUInt32LE(m.crc >>> 0, 16);
    c.writeUInt32LE(m.size, 20); c.writeUInt32LE(m.size, 24); c.writeUInt16LE(name.length, 28); c.writeUInt32LE(m.offset, 42);
    writeSync(fd, c); writeSync(fd, name);
    offset += 46 + name.length;
  }
  const e = Buffer.alloc(22);
  e.writeUInt32LE(0x06054b50, 0); e.writeUInt16LE(members.length, 8); e.writeUInt16LE(members.length, 10);
  e.writeUInt32LE(offset - cdStart, 12); e.writeUInt32LE(cdStart, 16);
  writeSync(fd, e);
  closeSync(fd);
}

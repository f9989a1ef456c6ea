// Signed chain heads kept outside the database (docs/operations.md#the-audit-archive): after a
// process appends to a chain it signs the chain's new head with its own ed25519 key and appends the
// signed head to its checkpoint file (JSON lines, append-only). `modelgate audit --verify` compares
// the tables with these heads, so a chain rewritten, cut or deleted by someone holding the database
// (even as its owner) no longer matches what the process signed.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { z } from 'zod';
import { canonicalJson } from '../shared/canonical-json';

/** Longest checkpoint line read or written (a chain id is at most 1,000 characters). */
export const MAX_CHECKPOINT_LINE = 4096;
/** Largest key file read (a PEM ed25519 key is about 120 bytes). */
const MAX_KEY_FILE_BYTES = 16 * 1024;

/** The chain of `refused_attempts` (one chain for the whole table). */
export const REFUSED_ATTEMPTS_CHAIN = 'refused_attempts';
/** The chain name of a promotion's (or another trail's) rows in `audit_events`. */
export const auditEventsChain = (promotionId: string) => `audit_events/${promotionId}`;

/** A chain's head as a process saw it right after appending: rows `fromSeq`..`seq` are the ones it wrote or confirmed. */
export interface ChainHead {
  chain: string;
  fromSeq: number;
  seq: number;
  hash: string;
}

/** One line of a checkpoint file. */
export interface SignedHead extends ChainHead {
  signedAt: string;
  keyId: string;
  /** base64 ed25519 signature over the canonical JSON of every other field. */
  signature: string;
}

const SignedHeadSchema = z
  .object({
    chain: z.string().min(1).max(1100),
    fromSeq: z.number().int().min(1),
    seq: z.number().int().min(1),
    hash: z.string().regex(/^[0-9a-f]{64}$/),
    signedAt: z.string().max(40),
    keyId: z.string().regex(/^[0-9a-f]{16}$/),
    signature: z.string().max(200),
  })
  .strict()
  .refine((h) => h.fromSeq <= h.seq, 'fromSeq must not be after seq');

/** The id of a public key: the first 16 hex digits of the sha256 of its SPKI DER encoding. */
export function keyIdOf(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

const signedBytes = (head: Omit<SignedHead, 'signature'>) =>
  Buffer.from(canonicalJson({ chain: head.chain, fromSeq: head.fromSeq, seq: head.seq, hash: head.hash, signedAt: head.signedAt, keyId: head.keyId }));

/** Signs a head with an ed25519 private key. */
export function signHead(head: ChainHead, privateKey: KeyObject, signedAt = new Date().toISOString()): SignedHead {
  const unsigned = { chain: head.chain, fromSeq: head.fromSeq, seq: head.seq, hash: head.hash, signedAt, keyId: keyIdOf(privateKey) };
  return { ...unsigned, signature: sign(null, signedBytes(unsigned), privateKey).toString('base64') };
}

/** Whether a signed head's signature verifies with `publicKey`. */
export function headSignatureValid(head: SignedHead, publicKey: KeyObject): boolean {
  try {
    return verify(null, signedBytes(head), publicKey, Buffer.from(head.signature, 'base64'));
  } catch {
    return false;
  }
}

/** A new ed25519 key pair as PEM (PKCS#8 private key, SPKI public key). */
export function generateAuditKeyPair(): { privateKeyPem: string; publicKeyPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

async function readSmallFile(file: string, what: string): Promise<string> {
  const info = await stat(file).catch((e: NodeJS.ErrnoException) => {
    throw new Error(`cannot read the ${what} ${file} (${e.code ?? 'error'})`);
  });
  if (!info.isFile()) throw new Error(`the ${what} ${file} is not a regular file`);
  if (info.size > MAX_KEY_FILE_BYTES) throw new Error(`the ${what} ${file} is larger than ${MAX_KEY_FILE_BYTES} bytes`);
  if (what === 'audit signing key' && process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    throw new Error(`the audit signing key ${file} may be read by other users (mode ${(info.mode & 0o777).toString(8)}): chmod 600 it`);
  }
  return readFile(file, 'utf8');
}

/** Reads an ed25519 private key (PEM) that only its owner may read. */
export async function loadSigningKey(file: string): Promise<KeyObject> {
  const pem = await readSmallFile(file, 'audit signing key');
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new Error(`the audit signing key ${file} is not a PEM private key`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`the audit signing key ${file} is not an ed25519 key`);
  return key;
}

/** Reads ed25519 public keys (PEM files), keyed by their key id. */
export async function loadPublicKeys(files: ReadonlyArray<string>): Promise<Map<string, KeyObject>> {
  const keys = new Map<string, KeyObject>();
  for (const file of files) {
    const pem = await readSmallFile(file, 'audit public key');
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch {
      throw new Error(`the audit public key ${file} is not a PEM public key`);
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`the audit public key ${file} is not an ed25519 key`);
    keys.set(keyIdOf(key), key);
  }
  return keys;
}

/** A line of a checkpoint file that could not be read as a signed head. */
export interface UnreadableCheckpoint {
  file: string;
  line: number;
  reason: string;
}

/** Reads checkpoint files: the signed heads, and the lines that are not signed heads. */
export async function readCheckpoints(files: ReadonlyArray<string>): Promise<{ heads: Array<SignedHead & { file: string; line: number }>; unreadable: UnreadableCheckpoint[] }> {
  const heads: Array<SignedHead & { file: string; line: number }> = [];
  const unreadable: UnreadableCheckpoint[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new Error(`cannot read the checkpoint file ${file} (${e.code ?? 'error'})`);
    });
    const lines = text.split('\n');
    lines.forEach((raw, index) => {
      if (raw.trim() === '') return;
      const line = index + 1;
      if (raw.length > MAX_CHECKPOINT_LINE) return void unreadable.push({ file, line, reason: `longer than ${MAX_CHECKPOINT_LINE} characters` });
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch {
        return void unreadable.push({ file, line, reason: 'not JSON' });
      }
      const parsed = SignedHeadSchema.safeParse(value);
      if (!parsed.success) return void unreadable.push({ file, line, reason: `not a signed head (${parsed.error.issues[0]?.path.join('.') || 'line'}: ${parsed.error.issues[0]?.message})` });
      heads.push({ ...parsed.data, file, line });
    });
  }
  return { heads, unreadable };
}

/**
 * What a process uses to seal the chains it appends to: its private key and its checkpoint file.
 * `seal` signs a head and appends it (one line, written and flushed to disk before it resolves);
 * calls are written in order.
 */
export interface AuditSealer {
  readonly keyId: string;
  seal(head: ChainHead): Promise<SignedHead>;
}

/** A sealer signing with `privateKey` and appending to `checkpointFile` (created when missing, mode 0600). */
export function createAuditSealer(privateKey: KeyObject, checkpointFile: string): AuditSealer {
  let queue: Promise<unknown> = Promise.resolve();
  return {
    keyId: keyIdOf(privateKey),
    seal(head) {
      const signed = signHead(head, privateKey);
      const line = `${JSON.stringify(signed)}\n`;
      if (line.length > MAX_CHECKPOINT_LINE) return Promise.reject(new Error(`the chain name ${head.chain.slice(0, 80)}… is too long to checkpoint`));
      const write = queue.then(async () => {
        const handle = await open(checkpointFile, 'a', 0o600);
        try {
          await handle.appendFile(line);
          await handle.datasync();
        } finally {
          await handle.close();
        }
        return signed;
      });
      queue = write.catch(() => undefined);
      return write;
    },
  };
}

/** Loads a process's sealer from its key file and checkpoint file (the files checked at start). */
export async function loadAuditSealer(settings: { signingKeyFile: string; checkpointFile: string }): Promise<AuditSealer> {
  const key = await loadSigningKey(settings.signingKeyFile);
  const sealer = createAuditSealer(key, settings.checkpointFile);
  // Fail at start, not at the first archive, when the checkpoint file cannot be appended to.
  const handle = await open(settings.checkpointFile, 'a', 0o600).catch((e: NodeJS.ErrnoException) => {
    throw new Error(`cannot append to the audit checkpoint file ${settings.checkpointFile} (${e.code ?? 'error'})`);
  });
  await handle.close();
  return sealer;
}

/**
 * The sealer of a worker or API process from its settings (AUDIT_SIGNING_KEY_FILE,
 * AUDIT_CHECKPOINT_FILE); without them (outside production: the configuration refuses that in
 * production) none, and `warn` says the chains are not sealed.
 */
export async function loadProcessAuditSealer(
  settings: { signingKeyFile: string; checkpointFile: string } | undefined,
  warn: (message: string) => void,
): Promise<AuditSealer | undefined> {
  if (!settings) {
    warn('AUDIT_SIGNING_KEY_FILE is not set: the audit chains this process appends to are not signed or checkpointed (refused when NODE_ENV is production)');
    return undefined;
  }
  try {
    return await loadAuditSealer(settings);
  } catch (err) {
    throw new Error(`loading the audit signing key failed: ${(err as Error).message}\n  check AUDIT_SIGNING_KEY_FILE and AUDIT_CHECKPOINT_FILE`);
  }
}

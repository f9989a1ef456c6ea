import { createPublicKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';

/**
 * A public key the policy trusts to sign artifacts: `publicKey` is the base64 of the raw
 * 32-byte Ed25519 key, or a PEM-encoded SubjectPublicKeyInfo.
 */
export const TrustedKeySchema = z.object({
  keyId: z.string().min(1),
  algorithm: z.literal('ed25519'),
  publicKey: z.string().min(1),
});

/** A public key the policy trusts to sign artifacts (see {@link TrustedKeySchema}). */
export type TrustedKey = z.infer<typeof TrustedKeySchema>;

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 raw key bytes follow it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * Parses a trusted key into a Node key object. Throws an Error naming the key when it is
 * neither a PEM SPKI Ed25519 key nor base64 of exactly 32 bytes.
 */
export function parseTrustedPublicKey(key: TrustedKey): KeyObject {
  const text = key.publicKey.trim();
  let parsed: KeyObject;
  try {
    if (text.startsWith('-----BEGIN')) {
      parsed = createPublicKey({ key: text, format: 'pem' });
    } else {
      if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) throw new Error('not base64');
      const raw = Buffer.from(text, 'base64');
      if (raw.length !== 32) throw new Error(`decodes to ${raw.length} bytes, not 32`);
      parsed = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    }
  } catch (err) {
    throw new Error(`trusted key '${key.keyId}' is not a valid Ed25519 public key: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (parsed.asymmetricKeyType !== 'ed25519') {
    throw new Error(`trusted key '${key.keyId}' is a ${parsed.asymmetricKeyType ?? 'unknown'} key, not ed25519`);
  }
  return parsed;
}

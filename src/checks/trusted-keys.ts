import { createPublicKey, type KeyObject } from 'node:crypto';
import { TrustedKeySchema, TrustedRootSchema, type PolicyTrustedKey, type PolicyTrustedRoot } from '../policy/schema';

export { TrustedKeySchema, TrustedRootSchema };

/** A public key the policy trusts to sign artifacts (see {@link TrustedKeySchema}). */
export type TrustedKey = PolicyTrustedKey;
/** A certificate authority the policy trusts to issue signing certificates (see {@link TrustedRootSchema}). */
export type TrustedRoot = PolicyTrustedRoot;

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 raw key bytes follow it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The named curve of each ECDSA algorithm, as Node reports it. */
const ECDSA_CURVES: Record<Exclude<TrustedKey['algorithm'], 'ed25519'>, string> = {
  'ecdsa-p256': 'prime256v1',
  'ecdsa-p384': 'secp384r1',
  'ecdsa-p521': 'secp521r1',
};

/**
 * Parses a trusted key into a Node key object and checks it is of the algorithm the policy
 * names. Throws an Error naming the key when it is not: an Ed25519 key is a PEM SPKI block or
 * base64 of exactly 32 bytes; an ECDSA key a PEM SPKI block on the named curve.
 */
export function parseTrustedPublicKey(key: TrustedKey): KeyObject {
  const text = key.publicKey.trim();
  let parsed: KeyObject;
  try {
    if (text.startsWith('-----BEGIN')) {
      parsed = createPublicKey({ key: text, format: 'pem' });
    } else {
      if (key.algorithm !== 'ed25519') throw new Error('an ECDSA key must be a PEM public key block');
      if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) throw new Error('not base64');
      const raw = Buffer.from(text, 'base64');
      if (raw.length !== 32) throw new Error(`decodes to ${raw.length} bytes, not 32`);
      parsed = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    }
  } catch (err) {
    throw new Error(`trusted key '${key.keyId}' is not a valid ${key.algorithm} public key: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (key.algorithm === 'ed25519') {
    if (parsed.asymmetricKeyType !== 'ed25519') throw new Error(`trusted key '${key.keyId}' is a ${parsed.asymmetricKeyType ?? 'unknown'} key, not ed25519`);
    return parsed;
  }
  const curve = parsed.asymmetricKeyType === 'ec' ? parsed.asymmetricKeyDetails?.namedCurve : undefined;
  if (curve !== ECDSA_CURVES[key.algorithm]) {
    throw new Error(`trusted key '${key.keyId}' is a ${parsed.asymmetricKeyType ?? 'unknown'}${curve ? ` ${curve}` : ''} key, not ${key.algorithm}`);
  }
  return parsed;
}

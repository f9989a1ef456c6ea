import { verify } from 'node:crypto';
import { type TrustedKey, parseTrustedPublicKey } from './trusted-keys';

/** An artifact signature as the manifest carries it. */
export interface ArtifactSignature {
  keyId: string;
  algorithm: 'ed25519';
  /** Base64 Ed25519 signature over the digest's 64-character lowercase hex string. */
  value: string;
}

/** Outcome of verifying a signature. */
export type SignatureVerdict =
  | { valid: true; keyId: string }
  | { valid: false; keyId: string; reason: 'unknown_key' | 'bad_key' | 'malformed_signature' | 'mismatch'; message: string };

/**
 * Verifies an Ed25519 signature over `digestHex` (the lowercase hex digest, as UTF-8 bytes)
 * with the trusted key of the same `keyId`. Never throws.
 */
export function verifyDigestSignature(digestHex: string, signature: ArtifactSignature, trustedKeys: TrustedKey[]): SignatureVerdict {
  const key = trustedKeys.find((k) => k.keyId === signature.keyId);
  if (!key) {
    return { valid: false, keyId: signature.keyId, reason: 'unknown_key', message: `key '${signature.keyId}' is not among the policy's trusted keys` };
  }
  if (key.algorithm !== 'ed25519') {
    return { valid: false, keyId: key.keyId, reason: 'bad_key', message: `trusted key '${key.keyId}' is an ${key.algorithm} key; a digest signature needs an ed25519 key` };
  }
  let publicKey;
  try {
    publicKey = parseTrustedPublicKey(key);
  } catch (err) {
    return { valid: false, keyId: key.keyId, reason: 'bad_key', message: err instanceof Error ? err.message : String(err) };
  }
  const raw = signature.value.trim();
  const bytes = /^[A-Za-z0-9+/_-]+={0,2}$/.test(raw) ? Buffer.from(raw, 'base64') : Buffer.alloc(0);
  if (bytes.length !== 64) {
    return { valid: false, keyId: key.keyId, reason: 'malformed_signature', message: `signature is not base64 of a 64-byte Ed25519 signature (${bytes.length} bytes)` };
  }
  const ok = verify(null, Buffer.from(digestHex.toLowerCase(), 'utf8'), publicKey, bytes);
  return ok
    ? { valid: true, keyId: key.keyId }
    : { valid: false, keyId: key.keyId, reason: 'mismatch', message: `signature does not verify with key '${key.keyId}'` };
}

import { createHash, verify, type KeyObject } from 'node:crypto';
import { type TrustedKey, type TrustedRoot, parseTrustedPublicKey } from '../trusted-keys';
import { verifyCertificateChain } from './certificates';
import { type JsonObject, arrayField, decodeBase64, isObject, objectField, parseBoundedObject, stringField } from './json';
import { OMS_LIMITS, OmsRefusal } from './refusal';

/** Media types of the Sigstore bundle (v0.3) that `model-signing` writes. */
export const OMS_BUNDLE_MEDIA_TYPES = ['application/vnd.dev.sigstore.bundle.v0.3+json', 'application/vnd.dev.sigstore.bundle+json;version=0.3'] as const;
/** The DSSE payload type of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** Who signed a verified envelope. */
export type OmsSigner =
  | { kind: 'key'; keyId: string }
  | { kind: 'certificate'; root: string; subject: string; signingTime: string };

/** A DSSE envelope whose signature verified: the signed statement's bytes and its signer. */
export interface VerifiedEnvelope {
  payload: Buffer;
  signer: OmsSigner;
}

/** DSSE pre-authentication encoding (DSSE v1 protocol): what the signature covers. */
export function preAuthenticationEncoding(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `, 'utf8'), type, Buffer.from(` ${payload.length} `, 'utf8'), payload]);
}

/** The digest ECDSA uses with a key of each curve, as `model-signing` pairs them. */
const ECDSA_HASHES: Record<string, string> = { prime256v1: 'sha256', secp384r1: 'sha384', secp521r1: 'sha512' };

function verifyEcdsa(publicKey: KeyObject, message: Buffer, signature: Buffer): boolean {
  const curve = publicKey.asymmetricKeyType === 'ec' ? publicKey.asymmetricKeyDetails?.namedCurve : undefined;
  const hash = curve ? ECDSA_HASHES[curve] : undefined;
  if (!hash) throw new OmsRefusal('bad_key', `the signing key is not an ECDSA P-256, P-384 or P-521 key`);
  try {
    return verify(hash, message, publicKey, signature);
  } catch {
    return false;
  }
}

/** `model-signing`'s key hint: the sha256 (hex) of the public key's PEM SubjectPublicKeyInfo. */
export function publicKeyHint(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'pem' })).digest('hex');
}

function certificateBytes(entry: unknown, where: string): Buffer {
  if (!isObject(entry)) throw new OmsRefusal('bundle_malformed', `${where} is not an object`);
  return decodeBase64(stringField(entry, 'rawBytes', where, 'bundle_malformed', OMS_LIMITS.certificateBytes * 2), `${where}.rawBytes`, 'bundle_malformed');
}

/**
 * Reads an OMS bundle (a Sigstore bundle v0.3 with a DSSE envelope) and verifies its envelope
 * offline: with the policy's trusted ECDSA keys for a key-based bundle (the bundle's key hint
 * picks the key), or with the certificate chain to the policy's trusted roots for a
 * certificate-based one. A keyless bundle (one Fulcio-style certificate, transparency-log
 * entries) is accepted only when its certificate chains to a configured root; the transparency
 * log is never consulted. Throws {@link OmsRefusal}.
 */
export function verifyOmsEnvelope(bundleText: string, keys: TrustedKey[], roots: TrustedRoot[]): VerifiedEnvelope {
  const bundle = parseBoundedObject(bundleText, 'the bundle', 'bundle_malformed');
  const mediaType = stringField(bundle, 'mediaType', 'bundle', 'bundle_malformed', 200);
  if (!(OMS_BUNDLE_MEDIA_TYPES as readonly string[]).includes(mediaType)) {
    throw new OmsRefusal('bundle_unsupported', `the bundle's mediaType is not a Sigstore bundle v0.3 (${OMS_BUNDLE_MEDIA_TYPES[0]})`);
  }
  if (!isObject(bundle.dsseEnvelope)) {
    throw new OmsRefusal('bundle_unsupported', 'the bundle holds no DSSE envelope (an OMS signature signs an in-toto statement in a DSSE envelope)');
  }
  const envelope: JsonObject = bundle.dsseEnvelope;
  const payloadType = stringField(envelope, 'payloadType', 'dsseEnvelope', 'bundle_malformed', 200);
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) throw new OmsRefusal('bundle_unsupported', `the envelope's payloadType is not ${IN_TOTO_PAYLOAD_TYPE}`);
  const payload = decodeBase64(stringField(envelope, 'payload', 'dsseEnvelope', 'bundle_malformed'), 'dsseEnvelope.payload', 'bundle_malformed');
  const signatures = arrayField(envelope, 'signatures', 'dsseEnvelope', 'bundle_malformed', 1);
  if (signatures.length !== 1 || !isObject(signatures[0])) throw new OmsRefusal('bundle_malformed', 'the envelope must carry exactly one signature');
  const signature = decodeBase64(stringField(signatures[0], 'sig', 'dsseEnvelope.signatures[0]', 'bundle_malformed', 1_000), 'dsseEnvelope.signatures[0].sig', 'bundle_malformed');
  const signed = preAuthenticationEncoding(payloadType, payload);

  const material = objectField(bundle, 'verificationMaterial', 'bundle', 'bundle_malformed');
  const tlogEntries = material.tlogEntries === undefined ? [] : arrayField(material, 'tlogEntries', 'verificationMaterial', 'bundle_malformed', 100);
  const kinds = ['publicKey', 'x509CertificateChain', 'certificate'].filter((k) => material[k] !== undefined);
  if (kinds.length !== 1) throw new OmsRefusal('bundle_malformed', 'verificationMaterial must hold exactly one of publicKey, x509CertificateChain, certificate');

  if (kinds[0] === 'publicKey') {
    const ecdsaKeys = keys.filter((k) => k.algorithm !== 'ed25519');
    if (ecdsaKeys.length === 0) throw new OmsRefusal('no_trusted_key', 'the bundle is key-based and the policy trusts no ECDSA key (trustedKeys)');
    const hintValue = objectField(material, 'publicKey', 'verificationMaterial', 'bundle_malformed').hint;
    const hint = typeof hintValue === 'string' && hintValue.length > 0 ? hintValue.toLowerCase() : undefined;
    const candidates: Array<{ key: TrustedKey; publicKey: KeyObject }> = [];
    for (const key of ecdsaKeys) {
      let publicKey: KeyObject;
      try {
        publicKey = parseTrustedPublicKey(key);
      } catch (err) {
        if (hint === undefined) continue;
        throw new OmsRefusal('bad_key', err instanceof Error ? err.message : String(err));
      }
      if (hint === undefined || publicKeyHint(publicKey) === hint) candidates.push({ key, publicKey });
    }
    if (candidates.length === 0) throw new OmsRefusal('unknown_key', 'the bundle was signed with a key that is not among the policy\'s trusted keys');
    const match = candidates.find((c) => verifyEcdsa(c.publicKey, signed, signature));
    if (!match) {
      throw new OmsRefusal('signature_mismatch', `the envelope's signature does not verify with trusted key ${candidates.map((c) => `'${c.key.keyId}'`).join(', ')}`);
    }
    return { payload, signer: { kind: 'key', keyId: match.key.keyId } };
  }

  let chainDer: Buffer[];
  const keyless = kinds[0] === 'certificate';
  if (keyless) chainDer = [certificateBytes(material.certificate, 'verificationMaterial.certificate')];
  else {
    const chain = objectField(material, 'x509CertificateChain', 'verificationMaterial', 'bundle_malformed');
    chainDer = arrayField(chain, 'certificates', 'verificationMaterial.x509CertificateChain', 'bundle_malformed', OMS_LIMITS.certificates).map((c, i) =>
      certificateBytes(c, `verificationMaterial.x509CertificateChain.certificates[${i}]`),
    );
  }
  let verified;
  try {
    verified = verifyCertificateChain(chainDer, roots);
  } catch (err) {
    if (err instanceof OmsRefusal && err.reason === 'untrusted_certificate' && (keyless || tlogEntries.length > 0)) {
      throw new OmsRefusal(
        'transparency_log_required',
        `the bundle is a Sigstore keyless signature whose certificate does not chain to a trusted root of the policy (${err.message}); verifying it needs the Sigstore transparency log and roots, which offline verification does not consult`,
      );
    }
    throw err;
  }
  if (!verifyEcdsa(verified.publicKey, signed, signature)) {
    throw new OmsRefusal('signature_mismatch', 'the envelope\'s signature does not verify with the signing certificate\'s key');
  }
  return { payload, signer: { kind: 'certificate', root: verified.root, subject: verified.subject, signingTime: verified.signingTime.toISOString() } };
}

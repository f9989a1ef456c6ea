import { X509Certificate, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  KeyUsage,
  KeyUsageFlags,
  anyExtendedKeyUsage,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_kp_codeSigning,
} from '@peculiar/asn1-x509';
import type { TrustedRoot } from '../trusted-keys';
import { OMS_LIMITS, OmsRefusal } from './refusal';

/** What a verified certificate chain yields: the signing key and who vouches for it. */
export interface VerifiedChain {
  publicKey: KeyObject;
  /** The trusted root's name in the policy. */
  root: string;
  /** The signing certificate's subject (as the certificate states it). */
  subject: string;
  /** The instant the chain was checked at: the signing certificate's notBefore. */
  signingTime: Date;
}

/** Extensions this verifier understands; any other one marked critical refuses the certificate (RFC 5280, 4.2). */
const UNDERSTOOD_EXTENSIONS = new Set([id_ce_basicConstraints, id_ce_keyUsage, id_ce_extKeyUsage, id_ce_subjectAltName]);

interface ParsedCertificate {
  x509: X509Certificate;
  /** Where it sits, for messages: "the signing certificate", "certificate 2 of the bundle", "trusted root 'x'". */
  label: string;
  keyUsage?: number;
  basicConstraints?: { ca: boolean; pathLength?: number };
  extendedKeyUsage?: string[];
  unknownCritical: string[];
}

function parseCertificate(der: Buffer, label: string): ParsedCertificate {
  let x509: X509Certificate;
  let asn: Certificate;
  try {
    x509 = new X509Certificate(der);
    asn = AsnConvert.parse(der, Certificate);
  } catch {
    throw new OmsRefusal('bundle_malformed', `${label} is not a valid X.509 certificate`);
  }
  const parsed: ParsedCertificate = { x509, label, unknownCritical: [] };
  try {
    for (const extension of asn.tbsCertificate.extensions ?? []) {
      const value = extension.extnValue.buffer;
      if (extension.extnID === id_ce_keyUsage) parsed.keyUsage = AsnConvert.parse(value, KeyUsage).toNumber();
      else if (extension.extnID === id_ce_basicConstraints) {
        const constraints = AsnConvert.parse(value, BasicConstraints);
        parsed.basicConstraints = { ca: constraints.cA, ...(constraints.pathLenConstraint !== undefined ? { pathLength: constraints.pathLenConstraint } : {}) };
      } else if (extension.extnID === id_ce_extKeyUsage) parsed.extendedKeyUsage = [...AsnConvert.parse(value, ExtendedKeyUsage)];
      else if (extension.critical && !UNDERSTOOD_EXTENSIONS.has(extension.extnID)) parsed.unknownCritical.push(extension.extnID);
    }
  } catch {
    throw new OmsRefusal('bundle_malformed', `${label} has an extension that cannot be parsed`);
  }
  return parsed;
}

/** Parses the policy's root certificates; a root that cannot be read is skipped and named. */
export function parseTrustedRoots(roots: TrustedRoot[]): { roots: Array<ParsedCertificate & { name: string }>; unreadable: string[] } {
  const parsed: Array<ParsedCertificate & { name: string }> = [];
  const unreadable: string[] = [];
  for (const root of roots) {
    try {
      const x509 = new X509Certificate(root.certificate);
      parsed.push({ ...parseCertificate(x509.raw, `trusted root '${root.name}'`), name: root.name });
    } catch {
      unreadable.push(root.name);
    }
  }
  return { roots: parsed, unreadable };
}

const issues = (child: ParsedCertificate, issuer: ParsedCertificate): boolean => {
  try {
    return child.x509.checkIssued(issuer.x509) && child.x509.verify(issuer.x509.publicKey);
  } catch {
    return false;
  }
};

/**
 * Verifies an OMS bundle's certificate chain offline: the signing certificate (first) chains
 * through the bundle's other certificates to one of the policy's roots, each link's signature
 * verifies, every certificate of the path is valid at the signing time (the signing
 * certificate's notBefore, as `model-signing` checks it: an offline bundle carries no trusted
 * timestamp), each issuer is a CA allowed to sign certificates within its path length, no
 * certificate has a critical extension this verifier does not understand, and the signing
 * certificate may sign: key usage `digitalSignature` and extended key usage `codeSigning`, each
 * where present and at least one of them present.
 */
export function verifyCertificateChain(chainDer: Buffer[], trustedRoots: TrustedRoot[]): VerifiedChain {
  if (chainDer.length === 0) throw new OmsRefusal('bundle_malformed', 'the bundle holds no certificate');
  if (chainDer.length > OMS_LIMITS.certificates) throw new OmsRefusal('bundle_malformed', `the bundle holds ${chainDer.length} certificates, more than the limit of ${OMS_LIMITS.certificates}`);
  for (const der of chainDer) {
    if (der.length > OMS_LIMITS.certificateBytes) throw new OmsRefusal('bundle_malformed', `a certificate of the bundle is larger than ${OMS_LIMITS.certificateBytes} bytes`);
  }
  const chain = chainDer.map((der, i) => parseCertificate(der, i === 0 ? 'the signing certificate' : `certificate ${i + 1} of the bundle`));
  const { roots } = parseTrustedRoots(trustedRoots);
  if (roots.length === 0) throw new OmsRefusal('untrusted_certificate', 'the bundle is certificate-based and the policy names no readable trusted root (trustedRoots)');
  const leaf = chain[0]!;
  const path: ParsedCertificate[] = [leaf];
  const unused = chain.slice(1);
  let anchor: (ParsedCertificate & { name: string }) | undefined;
  for (let current = leaf; ; ) {
    const sameAsRoot = roots.find((r) => r.x509.fingerprint256 === current.x509.fingerprint256);
    if (sameAsRoot) {
      anchor = sameAsRoot;
      path[path.length - 1] = sameAsRoot;
      break;
    }
    const root = roots.find((r) => issues(current, r));
    if (root) {
      anchor = root;
      path.push(root);
      break;
    }
    const index = unused.findIndex((c) => issues(current, c));
    if (index < 0 || path.length >= OMS_LIMITS.chainLength) {
      throw new OmsRefusal('untrusted_certificate', `${current === leaf ? 'the signing certificate' : current.label} does not chain to a trusted root of the policy`);
    }
    current = unused.splice(index, 1)[0]!;
    path.push(current);
  }
  const signingTime = new Date(leaf.x509.validFrom);
  for (const cert of path) {
    const from = new Date(cert.x509.validFrom);
    const to = new Date(cert.x509.validTo);
    if (!(from.getTime() <= signingTime.getTime() && signingTime.getTime() <= to.getTime())) {
      throw new OmsRefusal('certificate_expired', `${cert.label} is not valid at the signing time ${signingTime.toISOString()} (valid ${from.toISOString()} to ${to.toISOString()})`);
    }
    if (cert.unknownCritical.length > 0) {
      throw new OmsRefusal('untrusted_certificate', `${cert.label} has a critical extension this verifier does not process (${cert.unknownCritical.slice(0, 3).join(', ')})`);
    }
  }
  // Issuers: every certificate above the signing one (the root included) must be a CA allowed to sign certificates.
  for (let i = 1; i < path.length; i++) {
    const issuer = path[i]!;
    if (!issuer.basicConstraints?.ca) throw new OmsRefusal('untrusted_certificate', `${issuer.label} issues a certificate but is not a CA (basicConstraints)`);
    if (issuer.keyUsage !== undefined && (issuer.keyUsage & KeyUsageFlags.keyCertSign) === 0) {
      throw new OmsRefusal('untrusted_certificate', `${issuer.label} issues a certificate but its key usage lacks keyCertSign`);
    }
    const below = i - 1; // intermediate CAs between it and the signing certificate
    if (issuer.basicConstraints.pathLength !== undefined && below > issuer.basicConstraints.pathLength) {
      throw new OmsRefusal('untrusted_certificate', `${issuer.label} allows ${issuer.basicConstraints.pathLength} intermediate CA(s) below it; the chain has ${below}`);
    }
  }
  {
    const usage = leaf.keyUsage;
    const extended = leaf.extendedKeyUsage;
    if (usage === undefined && extended === undefined) {
      throw new OmsRefusal('certificate_not_for_signing', 'the signing certificate states neither key usage nor extended key usage');
    }
    if (usage !== undefined && (usage & KeyUsageFlags.digitalSignature) === 0) {
      throw new OmsRefusal('certificate_not_for_signing', 'the signing certificate\'s key usage lacks digitalSignature');
    }
    if (extended !== undefined && !extended.includes(id_kp_codeSigning) && !extended.includes(anyExtendedKeyUsage)) {
      throw new OmsRefusal('certificate_not_for_signing', 'the signing certificate\'s extended key usage lacks codeSigning');
    }
  }
  return { publicKey: leaf.x509.publicKey, root: anchor.name, subject: leaf.x509.subject, signingTime };
}

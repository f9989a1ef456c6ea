/**
 * Personal-data detection for the privacy check, in linear time on hostile text: every pattern
 * has bounded quantifiers only (a match is at most a few dozen characters, so the work at each
 * start position is bounded), and e-mail addresses are found by a hand-written scan around each
 * `@`. What is found is never echoed: findings carry a masked sample.
 */
import { EVIDENCE_LIMITS } from './limits';

/** One kind of personal data found in a text. */
export interface PersonalDataHit {
  kind: string;
  severity: 'medium' | 'high';
  /** A masked form of the first match (e.g. `j***@e***.com`, `card ending 1234`), never the match. */
  sample: string;
}

/** A detector: finds the first match of its kind in a text, or `undefined`. */
export interface PersonalDataDetector {
  kind: string;
  severity: 'medium' | 'high';
  find: (text: string) => string | undefined;
  mask: (match: string) => string;
}

/** Bounds on the parts of an e-mail address looked at around an `@`. */
const MAX_LOCAL = 64;
const MAX_DOMAIN = 255;

function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** `[A-Za-z0-9-]`: a character of a domain label. */
function isLabelChar(c: number): boolean {
  return isLetter(c) || (c >= 0x30 && c <= 0x39) || c === 0x2d;
}

/** `[A-Za-z0-9._%+-]`: a character of a local part. */
function isLocalChar(c: number): boolean {
  return isLabelChar(c) || c === 0x2e || c === 0x5f || c === 0x25 || c === 0x2b;
}

/**
 * End (exclusive) of the domain starting at `from`, as the former pattern
 * `[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}` matched it, or -1: non-empty labels
 * separated by dots, the last one starting with two letters (those letters end the match).
 */
function domainEnd(text: string, from: number, limit: number): number {
  let best = -1;
  let i = from;
  for (let label = 0; i < limit; label++) {
    const start = i;
    while (i < limit && isLabelChar(text.charCodeAt(i))) i += 1;
    if (i === start) break;
    if (label > 0) {
      let letters = start;
      while (letters < i && isLetter(text.charCodeAt(letters))) letters += 1;
      if (letters - start >= 2) best = letters;
    }
    if (i >= limit || text.charCodeAt(i) !== 0x2e) break;
    i += 1;
  }
  return best;
}

/**
 * The first e-mail address in `text`: for each `@`, the local part is the run of local-part
 * characters before it (at most 64 are looked at) and the domain the labels after it (at most
 * 255 characters). Each `@` costs a bounded amount of work: linear in the text.
 */
export function findEmail(text: string): string | undefined {
  for (let at = text.indexOf('@'); at >= 0; at = text.indexOf('@', at + 1)) {
    let start = at;
    while (start > 0 && at - start < MAX_LOCAL && isLocalChar(text.charCodeAt(start - 1))) start -= 1;
    if (start === at) continue;
    const end = domainEnd(text, at + 1, Math.min(text.length, at + 1 + MAX_DOMAIN));
    if (end > 0) return text.slice(start, end);
  }
  return undefined;
}

/** `john.doe@example.com` → `j***@e***.com`. */
function maskEmail(email: string): string {
  const at = email.indexOf('@');
  const domain = email.slice(at + 1);
  const tld = domain.slice(domain.lastIndexOf('.') + 1).slice(0, 10);
  return `${email.charAt(0)}***@${domain.charAt(0)}***.${tld}`;
}

function firstMatch(pattern: RegExp): (text: string) => string | undefined {
  return (text) => pattern.exec(text)?.[0];
}

function digitsOf(text: string): string {
  let digits = '';
  for (const c of text) if (c >= '0' && c <= '9') digits += c;
  return digits;
}

function luhn(candidate: string): boolean {
  const digits = digitsOf(candidate);
  if (digits.length < 13 || digits.length > 19) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

const PAYMENT_CARD = /(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)/g;

/** The first card-like digit run that passes the Luhn check (the pattern is bounded: {12,18}). */
function findPaymentCard(text: string): string | undefined {
  PAYMENT_CARD.lastIndex = 0;
  for (let m = PAYMENT_CARD.exec(text); m; m = PAYMENT_CARD.exec(text)) if (luhn(m[0])) return m[0];
  return undefined;
}

/**
 * The detectors, in reporting order. Patterns are linear: bounded quantifiers only, and no
 * quantified group whose body can match the same text in two ways at an unbounded length.
 */
export const PERSONAL_DATA_DETECTORS: readonly PersonalDataDetector[] = [
  { kind: 'email', severity: 'medium', find: findEmail, mask: maskEmail },
  {
    kind: 'phone',
    severity: 'medium',
    find: firstMatch(/(?<![\w.])(?:\+\d{1,3}[ .-]?\(?\d{1,4}\)?(?:[ .-]?\d{2,4}){2,4}|\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4})(?![\w.])/),
    mask: (m) => `phone number ending ${digitsOf(m).slice(-2)}`,
  },
  { kind: 'us_ssn', severity: 'high', find: firstMatch(/(?<!\d)(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?!\d)/), mask: () => '***-**-****' },
  {
    kind: 'uk_nino',
    severity: 'high',
    find: firstMatch(/\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b/),
    mask: () => '** ** ** ** *',
  },
  { kind: 'payment_card', severity: 'high', find: findPaymentCard, mask: (m) => `card ending ${digitsOf(m).slice(-4)}` },
];

/**
 * Kinds of personal data found in the first `maxChars` characters of a text (the first match of
 * each kind, masked).
 */
export function findPersonalData(text: string, maxChars: number = EVIDENCE_LIMITS.scanFieldChars): PersonalDataHit[] {
  const scanned = text.length > maxChars ? text.slice(0, maxChars) : text;
  const found: PersonalDataHit[] = [];
  for (const d of PERSONAL_DATA_DETECTORS) {
    const match = d.find(scanned);
    if (match !== undefined) found.push({ kind: d.kind, severity: d.severity, sample: d.mask(match) });
  }
  return found;
}

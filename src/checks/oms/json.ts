import { jsonNestedDeeperThan } from '../evaluation/report-text';
import { OMS_LIMITS, OmsRefusal, type OmsRefusalReason } from './refusal';

/** A JSON object as parsed (keys to unknown values). */
export type JsonObject = Record<string, unknown>;

/** Parses JSON text bounded in depth; refuses with `reason` naming `what` when it is not a JSON object. */
export function parseBoundedObject(text: string, what: string, reason: OmsRefusalReason): JsonObject {
  if (jsonNestedDeeperThan(text, OMS_LIMITS.jsonDepth)) throw new OmsRefusal(reason, `${what} is nested more than ${OMS_LIMITS.jsonDepth} levels deep`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new OmsRefusal(reason, `${what} is not valid JSON`);
  }
  if (!isObject(value)) throw new OmsRefusal(reason, `${what} is not a JSON object`);
  return value;
}

/** True for a plain JSON object (not an array, not null). */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object at `key`, or a refusal naming the field. */
export function objectField(parent: JsonObject, key: string, where: string, reason: OmsRefusalReason): JsonObject {
  const value = parent[key];
  if (!isObject(value)) throw new OmsRefusal(reason, `${where}.${key} is missing or not an object`);
  return value;
}

/** The string at `key`, or a refusal naming the field. */
export function stringField(parent: JsonObject, key: string, where: string, reason: OmsRefusalReason, maxLength = OMS_LIMITS.bundleBytes): string {
  const value = parent[key];
  if (typeof value !== 'string') throw new OmsRefusal(reason, `${where}.${key} is missing or not a string`);
  if (value.length > maxLength) throw new OmsRefusal(reason, `${where}.${key} is longer than ${maxLength} characters`);
  return value;
}

/** The array at `key` (at most `max` items), or a refusal naming the field. */
export function arrayField(parent: JsonObject, key: string, where: string, reason: OmsRefusalReason, max: number, tooMany: OmsRefusalReason = reason): unknown[] {
  const value = parent[key];
  if (!Array.isArray(value)) throw new OmsRefusal(reason, `${where}.${key} is missing or not an array`);
  if (value.length > max) throw new OmsRefusal(tooMany, `${where}.${key} has ${value.length} entries, more than the limit of ${max}`);
  return value;
}

/** Decodes strict base64 (standard alphabet, padding optional), or refuses naming the field. */
export function decodeBase64(text: string, where: string, reason: OmsRefusalReason): Buffer {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new OmsRefusal(reason, `${where} is not base64`);
  return Buffer.from(text, 'base64');
}

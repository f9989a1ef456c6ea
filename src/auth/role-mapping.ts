// Modelgate roles from a token's roles claim: the claim's values as they are, or, with a mapping
// file (AUTH_ROLE_MAPPING_FILE), the roles the identity provider's groups map to. A value the
// mapping does not name gives no role, and a token without the claim has no roles: never a
// default role.
import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/** Provider groups (or roles) → the Modelgate roles each gives. */
export interface RoleMapping {
  readonly roles: ReadonlyMap<string, readonly string[]>;
}

/** The roles a token gives, and why it gives none when that is so. */
export interface ClaimedRoles {
  roles: string[];
  /** Why the token gives no role (no claim, not a list, nothing mapped); absent when it gives some. */
  problem?: string;
}

/** Largest mapping file read (bytes). */
export const MAX_ROLE_MAPPING_BYTES = 256 * 1024;
/** Most values of a roles claim looked at (a provider may send hundreds of groups). */
export const MAX_CLAIM_VALUES = 1000;
/** Longest claim value looked at; longer ones are ignored. */
export const MAX_CLAIM_VALUE_LENGTH = 256;

const roleName = z.string().min(1).max(MAX_CLAIM_VALUE_LENGTH);
const RoleMappingSchema = z
  .object({
    roles: z.record(roleName, z.union([roleName, z.array(roleName).max(100)])),
  })
  .strict();

/**
 * Parses a mapping document (YAML or JSON): `roles: { <provider group>: <role> | [<role>, …] }`.
 *
 * @throws {Error} naming `source` and what is wrong.
 */
export function parseRoleMapping(text: string, source: string): RoleMapping {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (err) {
    throw new Error(`${source}: not YAML or JSON (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
  }
  const parsed = RoleMappingSchema.safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${source}: ${issue.path.join('.') || '(document)'}: ${issue.message} (expected roles: { <provider group>: [<Modelgate role>, …] })`);
  }
  return { roles: new Map(Object.entries(parsed.data.roles).map(([group, roles]) => [group, typeof roles === 'string' ? [roles] : roles])) };
}

/**
 * Reads and parses a mapping file (at most {@link MAX_ROLE_MAPPING_BYTES}).
 *
 * @throws {Error} naming the file and what is wrong.
 */
export function loadRoleMappingFile(file: string): RoleMapping {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    throw new Error(`${file}: cannot be read (AUTH_ROLE_MAPPING_FILE)`);
  }
  if (size > MAX_ROLE_MAPPING_BYTES) throw new Error(`${file}: larger than ${MAX_ROLE_MAPPING_BYTES} bytes (AUTH_ROLE_MAPPING_FILE)`);
  return parseRoleMapping(readFileSync(file, 'utf8'), file);
}

/** The values of a roles claim: an array of strings, or a space-separated string. */
function claimValues(claim: unknown): string[] | undefined {
  const values = Array.isArray(claim) ? claim : typeof claim === 'string' ? claim.split(/\s+/) : undefined;
  return values
    ?.slice(0, MAX_CLAIM_VALUES)
    .filter((v): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_CLAIM_VALUE_LENGTH);
}

/**
 * The Modelgate roles of a token's claim `claimName` (value `claim`), through `mapping` when given.
 * Every way of giving no role says why, for the caller to show (`GET /v1/me`, `modelgate whoami`).
 */
export function rolesFromClaim(claim: unknown, claimName: string, mapping?: RoleMapping): ClaimedRoles {
  if (claim === undefined || claim === null) return { roles: [], problem: `the token has no "${claimName}" claim: no roles` };
  const values = claimValues(claim);
  if (values === undefined) return { roles: [], problem: `the token's "${claimName}" claim is not a list of strings: no roles` };
  if (!mapping) return values.length > 0 ? { roles: [...new Set(values)] } : { roles: [], problem: `the token's "${claimName}" claim is empty: no roles` };
  const roles = [...new Set(values.flatMap((value) => mapping.roles.get(value) ?? []))];
  if (roles.length > 0) return { roles };
  const shown = values.slice(0, 5).map((v) => JSON.stringify(v)).join(', ') + (values.length > 5 ? ', …' : '');
  return { roles: [], problem: `none of the token's "${claimName}" (${shown || 'none'}) maps to a Modelgate role (AUTH_ROLE_MAPPING_FILE): no roles` };
}

import { BlockList, isIP } from 'node:net';
import path from 'node:path';
import { MLFLOW_MODEL_URI } from '../manifest/schema';
import type { MlflowClient } from './mlflow';

/**
 * Where a manifest's sources (artifact, evaluation file, model card, training data) may be read
 * from, and how much of them. Hostile submitters name these URIs, so everything outside the
 * configured roots and hosts is refused (docs/security.md, "Sources").
 */
export interface SourceRules {
  /** Absolute folders a `file://` source may be in (after every symlink is resolved). Empty: no file:// source at all. */
  roots: readonly string[];
  /** Hosts an `http(s)://` source may name, and the special addresses explicitly allowed. */
  hosts: HostAllowList;
  /** Largest artifact accepted, in bytes (downloads and local copies). */
  maxArtifactBytes: number;
  /** Largest evaluation file or model card accepted, in bytes. */
  maxDocumentBytes: number;
  /** Longest a whole HTTP download may take, in milliseconds. */
  httpTotalTimeoutMs: number;
  /** Longest an HTTP connection may stay silent (connect, headers, between chunks), in milliseconds. */
  httpIdleTimeoutMs: number;
  /** Most redirects followed (each checked like the first URI). */
  maxRedirects: number;
  /**
   * Folder that relative `file://name` URIs resolve against. Only the CLI sets it (the
   * manifest's folder on the user's own machine); the worker and the API refuse relative URIs.
   */
  relativeBase?: string;
  /**
   * The configured MLflow tracking server (MLFLOW_TRACKING_URI) that `models:/<name>/<version>`
   * artifacts are read from. Absent: `models:/` artifacts are refused where they are read.
   */
  mlflow?: MlflowClient;
}

/** Parsed `ARTIFACT_HOSTS`: host names (with an optional port) and IP addresses or networks. */
export interface HostAllowList {
  /** Lower-case host names, each with the port it is limited to (undefined: any port). */
  names: ReadonlyArray<{ host: string; port?: number }>;
  /** IP addresses and networks listed explicitly: allowed as hosts and as resolved addresses. */
  addresses: BlockList;
  /** Exact IP addresses listed (metadata addresses need one of these; a network is not enough). */
  exactAddresses: BlockList;
  /** The entries as configured, for messages. */
  entries: readonly string[];
}

/** Why a source was refused: the rule's name and a message naming the field and the rule. */
export class SourceRefusal extends Error {
  override readonly name = 'SourceRefusal';
  constructor(
    /** The rule that refused it (`outside-roots`, `address-not-allowed`, …). */
    readonly rule: SourceRule,
    message: string,
    /** The manifest field the URI came from (`artifact.uri`, …), when known. */
    readonly field?: string,
  ) {
    super(message);
  }
}

/** A source that could not be read for a reason that may pass (timeout, 5xx, dropped connection). */
export class SourceUnavailable extends Error {
  override readonly name = 'SourceUnavailable';
}

/** The rules a source can break, by name. */
export type SourceRule =
  | 'scheme'
  | 'relative-path'
  | 'dot-segments'
  | 'system-path'
  | 'no-roots'
  | 'outside-roots'
  | 'not-a-file'
  | 'hard-link'
  | 'credentials'
  | 'host-not-allowed'
  | 'address-not-allowed'
  | 'redirect'
  | 'too-large'
  | 'http-status';

/** Folders no source may be in, whatever the roots say: the kernel's views of processes and devices. */
const SYSTEM_FOLDERS = ['/proc', '/sys', '/dev'];

/** Cloud metadata services: refused unless that exact address is listed. */
const METADATA_ADDRESSES = (() => {
  const list = new BlockList();
  for (const a of ['169.254.169.254', '169.254.170.2', '100.100.100.200']) list.addAddress(a, 'ipv4');
  list.addAddress('fd00:ec2::254', 'ipv6');
  return list;
})();

/** Addresses that reach this machine or a private network: refused unless listed. */
const SPECIAL_ADDRESSES = (() => {
  const list = new BlockList();
  const v4: Array<[string, number]> = [
    ['0.0.0.0', 8], // "this network"
    ['10.0.0.0', 8],
    ['100.64.0.0', 10], // carrier-grade NAT
    ['127.0.0.0', 8],
    ['169.254.0.0', 16], // link-local, metadata
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['224.0.0.0', 4], // multicast
    ['240.0.0.0', 4], // reserved, broadcast
  ];
  for (const [net, prefix] of v4) list.addSubnet(net, prefix, 'ipv4');
  const v6: Array<[string, number]> = [
    ['::', 128],
    ['::1', 128],
    ['fc00::', 7], // unique local
    ['fe80::', 10], // link-local
    ['ff00::', 8], // multicast
    ['::', 96], // IPv4-compatible
    ['64:ff9b::', 96], // NAT64 reaches IPv4 addresses
    ['64:ff9b:1::', 48], // local-use NAT64
    ['100::', 64], // discard
    ['2001::', 32], // Teredo reaches IPv4 addresses
    ['2002::', 16], // 6to4 reaches IPv4 addresses
    ['fec0::', 10], // site-local (deprecated, still routed somewhere)
  ];
  for (const [net, prefix] of v6) list.addSubnet(net, prefix, 'ipv6');
  return list;
})();

/** Shows at most 200 characters of a URI the submitter gave, JSON-quoted (control characters escaped). */
export function quoteUri(uri: string): string {
  return JSON.stringify(uri.length > 200 ? `${uri.slice(0, 200)}…` : uri);
}

/**
 * Parses `ARTIFACT_ROOTS`: comma-separated absolute folders, none of them a system folder.
 * @throws Error naming the bad entry.
 */
export function parseRoots(value: string | undefined): string[] {
  const roots = (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const root of roots) {
    if (!path.isAbsolute(root)) throw new Error(`'${root}' is not an absolute path`);
    if (path.resolve(root) === '/') throw new Error(`'${root}' is the whole filesystem: name the folders sources may be in`);
    if (systemFolderOf(path.resolve(root))) throw new Error(`'${root}' is or is inside ${systemFolderOf(path.resolve(root))}, which no source may be read from`);
  }
  return roots.map((r) => path.resolve(r));
}

/**
 * Parses `ARTIFACT_HOSTS`: comma-separated host names (`models.example.com`, `models.example.com:8443`),
 * IP addresses (`127.0.0.1`, `[::1]:9000` is not accepted: list `::1`) and networks (`10.20.0.0/16`).
 * @throws Error naming the bad entry.
 */
export function parseHosts(value: string | undefined): HostAllowList {
  const entries = (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const names: Array<{ host: string; port?: number }> = [];
  const addresses = new BlockList();
  const exactAddresses = new BlockList();
  for (const entry of entries) {
    const cidr = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(entry);
    if (cidr) {
      const family = isIP(cidr[1]!);
      const prefix = Number(cidr[2]);
      if (!family || prefix > (family === 4 ? 32 : 128)) throw new Error(`'${entry}' is not an IP network`);
      addresses.addSubnet(cidr[1]!, prefix, family === 4 ? 'ipv4' : 'ipv6');
      continue;
    }
    const family = isIP(entry);
    if (family) {
      addresses.addAddress(entry, family === 4 ? 'ipv4' : 'ipv6');
      exactAddresses.addAddress(entry, family === 4 ? 'ipv4' : 'ipv6');
      continue;
    }
    const named = /^([A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*)(?::(\d{1,5}))?$/.exec(entry);
    if (!named) throw new Error(`'${entry}' is neither a host name, an IP address nor an IP network`);
    names.push({ host: named[1]!.toLowerCase(), ...(named[2] ? { port: Number(named[2]) } : {}) });
  }
  return { names, addresses, exactAddresses, entries };
}

/** An IP address as written, IPv4-mapped IPv6 (`::ffff:127.0.0.1`) as the IPv4 address it maps. */
export function normalizeAddress(address: string): string {
  return /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] ?? address.toLowerCase();
}

function familyOf(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 4 ? 'ipv4' : 'ipv6';
}

/**
 * Decides whether an address a host resolved to (or an IP literal) may be connected to:
 * public addresses may; loopback, private, link-local, multicast and reserved ones only when
 * listed; metadata services only when their exact address is listed.
 */
export function addressRefusal(address: string, hosts: HostAllowList): string | undefined {
  const a = normalizeAddress(address);
  if (METADATA_ADDRESSES.check(a, familyOf(a))) {
    return hosts.exactAddresses.check(a, familyOf(a)) ? undefined : `${a} is a cloud metadata address (allowed only when ARTIFACT_HOSTS lists it exactly)`;
  }
  if (!SPECIAL_ADDRESSES.check(a, familyOf(a))) return undefined;
  if (hosts.addresses.check(a, familyOf(a))) return undefined;
  return `${a} is a loopback, private, link-local or reserved address that ARTIFACT_HOSTS does not list`;
}

/** The system folder a path is in, if any. */
function systemFolderOf(absolute: string): string | undefined {
  return SYSTEM_FOLDERS.find((f) => absolute === f || absolute.startsWith(`${f}/`));
}

/** True when `child` is `root` or inside it (both absolute, normalised). */
export function isInside(child: string, root: string): boolean {
  const rel = path.relative(root, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Checks that an absolute, normalised local path is in a root and in no system folder.
 * @throws {SourceRefusal}
 */
export function checkLocalPath(absolute: string, roots: readonly string[], field: string, what = 'path'): void {
  const system = systemFolderOf(absolute);
  if (system) throw new SourceRefusal('system-path', `${field}: the ${what} is in ${system}, which no source may be read from`, field);
  if (roots.length === 0) throw new SourceRefusal('no-roots', `${field}: file:// sources are not allowed (ARTIFACT_ROOTS names no folder)`, field);
  if (!roots.some((root) => isInside(absolute, root))) {
    throw new SourceRefusal('outside-roots', `${field}: the ${what} is outside the folders sources may be read from (ARTIFACT_ROOTS)`, field);
  }
}

/**
 * Turns a `file://` URI into an absolute, normalised local path, refusing relative forms (unless
 * `rules.relativeBase` is set), `..` segments (also percent-encoded) and non-local hosts.
 * @throws {SourceRefusal}
 */
export function localPathOf(uri: string, rules: Pick<SourceRules, 'relativeBase'>, field: string): string {
  const rest = uri.slice('file://'.length);
  let decoded: string;
  try {
    decoded = decodeURIComponent(rest.startsWith('localhost/') ? rest.slice('localhost'.length) : rest);
  } catch {
    throw new SourceRefusal('scheme', `${field}: ${quoteUri(uri)} is not a valid file URI (bad percent-encoding)`, field);
  }
  if (decoded.includes('\0')) throw new SourceRefusal('scheme', `${field}: the file URI contains a NUL character`, field);
  if (decoded.split(/[\\/]/).includes('..')) throw new SourceRefusal('dot-segments', `${field}: '..' segments are not allowed in a file URI`, field);
  if (/[?#]/.test(rest)) throw new SourceRefusal('scheme', `${field}: a file URI has no query or fragment`, field);
  if (decoded.startsWith('/')) return path.resolve(decoded);
  if (rules.relativeBase === undefined) {
    throw new SourceRefusal('relative-path', `${field}: relative file URIs are not allowed; name an absolute path (file:///…)`, field);
  }
  return path.resolve(rules.relativeBase, decoded);
}

/**
 * Checks an `http(s)://` URI's host against the allow list (names exactly, IP literals by the
 * listed addresses and networks); the addresses a name resolves to are checked when connecting.
 * @throws {SourceRefusal}
 */
export function checkHttpUrl(uri: string, hosts: HostAllowList, field: string): URL {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new SourceRefusal('scheme', `${field}: ${quoteUri(uri)} is not a valid URL`, field);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SourceRefusal('scheme', `${field}: only file://, http:// and https:// sources are allowed`, field);
  if (url.username || url.password) throw new SourceRefusal('credentials', `${field}: URLs with credentials are not allowed`, field);
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  if (isIP(host)) {
    const listed = hosts.addresses.check(normalizeAddress(host), familyOf(normalizeAddress(host)));
    if (!listed && hosts.names.length + hosts.entries.length === 0) {
      throw new SourceRefusal('host-not-allowed', `${field}: http(s) sources are not allowed (ARTIFACT_HOSTS lists no host)`, field);
    }
    if (!listed) throw new SourceRefusal('host-not-allowed', `${field}: host ${host} is not in ARTIFACT_HOSTS`, field);
    const refusal = addressRefusal(host, hosts);
    if (refusal) throw new SourceRefusal('address-not-allowed', `${field}: ${refusal}`, field);
    return url;
  }
  if (hosts.entries.length === 0) throw new SourceRefusal('host-not-allowed', `${field}: http(s) sources are not allowed (ARTIFACT_HOSTS lists no host)`, field);
  if (!hosts.names.some((n) => n.host === host && (n.port === undefined || n.port === port))) {
    throw new SourceRefusal('host-not-allowed', `${field}: host ${JSON.stringify(host.slice(0, 255))} is not in ARTIFACT_HOSTS`, field);
  }
  return url;
}

/**
 * Everything about a source URI that can be decided without touching it: the scheme, the form of a
 * file path and whether it is in a root (before symlinks are resolved, which happens when it is
 * read), the host of a URL. The API refuses a submission on these; the worker checks them again.
 * @throws {SourceRefusal}
 */
export function checkSourceUri(uri: string, rules: SourceRules, field: string): void {
  if (uri.startsWith('file://')) {
    checkLocalPath(localPathOf(uri, rules, field), rules.roots, field);
    return;
  }
  if (/^https?:\/\//i.test(uri)) {
    checkHttpUrl(uri, rules.hosts, field);
    return;
  }
  // A version on the configured MLflow server (the worker refuses it when none is configured).
  if (field === 'artifact.uri' && MLFLOW_MODEL_URI.test(uri)) return;
  throw new SourceRefusal('scheme', `${field}: only file://, http:// and https:// sources are allowed`, field);
}

/** Default bounds of {@link SourceRules}, for processes that configure only roots and hosts. */
export const DEFAULT_SOURCE_LIMITS = {
  maxArtifactBytes: 16 * 1024 ** 3,
  maxDocumentBytes: 1024 ** 3,
  httpTotalTimeoutMs: 60 * 60_000,
  httpIdleTimeoutMs: 30_000,
  maxRedirects: 5,
} as const;

/** Rules built from roots and hosts (strings as in the environment) with the default bounds. */
export function sourceRules(roots: string | readonly string[], hosts: string | HostAllowList, overrides: Partial<SourceRules> = {}): SourceRules {
  return {
    roots: typeof roots === 'string' ? parseRoots(roots) : roots.map((r) => path.resolve(r)),
    hosts: typeof hosts === 'string' ? parseHosts(hosts) : hosts,
    ...DEFAULT_SOURCE_LIMITS,
    ...overrides,
  };
}

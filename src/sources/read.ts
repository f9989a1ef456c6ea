import { constants as fsConstants } from 'node:fs';
import { type FileHandle, open, readdir, readlink, realpath } from 'node:fs/promises';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  type HostAllowList,
  type SourceRules,
  SourceRefusal,
  SourceUnavailable,
  addressRefusal,
  checkHttpUrl,
  checkLocalPath,
  localPathOf,
  quoteUri,
} from './rules';

/** A local file opened for reading after every rule was checked on what was really opened. */
export interface OpenedLocalFile {
  handle: FileHandle;
  /** The real path (no symlinks) of the opened file. */
  realPath: string;
  size: number;
}

/** A local `file://` source: a file, or a directory whose regular files are opened one by one. */
export type LocalSource = { kind: 'file'; file: OpenedLocalFile } | { kind: 'directory'; realPath: string };

async function realRootsOf(rules: SourceRules): Promise<string[]> {
  return Promise.all(rules.roots.map((r) => realpath(r).catch(() => r)));
}

function errnoOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'unreadable';
}

/**
 * The real path of an open descriptor, as the kernel knows it (`/proc/self/fd`). Without it no
 * source can be checked after opening, so its absence refuses the source (fail closed).
 */
async function openedPath(fd: number, field: string): Promise<string> {
  try {
    return await readlink(`/proc/self/fd/${fd}`);
  } catch {
    throw new SourceRefusal('not-a-file', `${field}: the opened file's path cannot be verified (/proc/self/fd is unavailable)`, field);
  }
}

/** Resolves every symlink of a path and checks the real path against the real roots. */
async function realPathInRoots(absolute: string, roots: string[], field: string): Promise<string> {
  let real: string;
  try {
    real = await realpath(absolute);
  } catch (err) {
    throw new SourceRefusal('not-a-file', `${field}: the source cannot be read (${errnoOf(err)})`, field);
  }
  checkLocalPath(real, roots, field, 'path (symlinks resolved)');
  return real;
}

/**
 * Opens a local file that must be inside the real roots: the path is resolved through every
 * symlink first, opened without following a final symlink and without blocking on a FIFO, and
 * the opened descriptor's own path is checked again (a folder swapped for a symlink between the
 * check and the open is caught).
 * @throws {SourceRefusal}
 */
export async function openLocalFile(absolutePath: string, rules: SourceRules, field: string, realRoots?: string[]): Promise<OpenedLocalFile> {
  const roots = realRoots ?? (await realRootsOf(rules));
  const real = await realPathInRoots(absolutePath, roots, field);
  let handle: FileHandle;
  try {
    handle = await open(real, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (err) {
    throw new SourceRefusal('not-a-file', `${field}: the file cannot be opened (${errnoOf(err)})`, field);
  }
  try {
    const opened = await openedPath(handle.fd, field);
    checkLocalPath(opened, roots, field, 'opened file');
    const info = await handle.stat();
    if (!info.isFile()) throw new SourceRefusal('not-a-file', `${field}: not a regular file`, field);
    // A hard link inside a root can name any file on the same filesystem: the path says nothing.
    if (info.nlink > 1) throw new SourceRefusal('hard-link', `${field}: the file has ${info.nlink} hard links; sources must have one`, field);
    return { handle, realPath: opened, size: info.size };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/**
 * Resolves a `file://` source and checks it against the rules: a file is opened (see
 * {@link openLocalFile}); a directory is returned by its real path for {@link listLocalDirectory}.
 * @throws {SourceRefusal}
 */
export async function openLocalSource(uri: string, rules: SourceRules, field: string): Promise<LocalSource> {
  const absolute = localPathOf(uri, rules, field);
  checkLocalPath(absolute, rules.roots, field);
  const roots = await realRootsOf(rules);
  const real = await realPathInRoots(absolute, roots, field);
  try {
    await readdir(real);
    return { kind: 'directory', realPath: real };
  } catch (err) {
    if (errnoOf(err) !== 'ENOTDIR') throw new SourceRefusal('not-a-file', `${field}: the source cannot be read (${errnoOf(err)})`, field);
  }
  return { kind: 'file', file: await openLocalFile(real, rules, field, roots) };
}

/** A directory's entries: regular files (relative "/"-separated paths), symlinks and other entries, never followed. */
export interface DirectoryListing {
  files: string[];
  symlinks: string[];
  others: string[];
}

/**
 * Lists a directory source under the rules: every folder is opened without following a symlink,
 * its descriptor's real path is checked against the roots, and its entries are read through that
 * descriptor, so a folder swapped for a symlink while it is walked lists nothing outside a root.
 * Symlinks and special files are reported, never followed. Bounded in entries and depth.
 * @throws {SourceRefusal}
 */
export async function listLocalDirectory(root: string, rules: SourceRules, field: string, maxEntries = 100_000): Promise<DirectoryListing> {
  const roots = await realRootsOf(rules);
  const listing: DirectoryListing = { files: [], symlinks: [], others: [] };
  let seen = 0;
  const walk = async (dir: string, prefix: string, depth: number): Promise<void> => {
    if (depth > 64) throw new SourceRefusal('too-large', `${field}: the artifact directory is nested more than 64 levels deep`, field);
    let handle: FileHandle;
    try {
      handle = await open(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW);
    } catch (err) {
      throw new SourceRefusal('not-a-file', `${field}: a folder of the artifact cannot be opened (${errnoOf(err)})`, field);
    }
    try {
      const real = await openedPath(handle.fd, field);
      checkLocalPath(real, roots, field, 'folder');
      let entries;
      try {
        entries = await readdir(`/proc/self/fd/${handle.fd}`, { withFileTypes: true });
      } catch (err) {
        throw new SourceRefusal('not-a-file', `${field}: a folder of the artifact cannot be listed (${errnoOf(err)})`, field);
      }
      for (const entry of entries) {
        seen += 1;
        if (seen > maxEntries) throw new SourceRefusal('too-large', `${field}: the artifact directory has more than ${maxEntries} entries`, field);
        const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
        if (entry.isSymbolicLink()) listing.symlinks.push(relative);
        else if (entry.isDirectory()) await walk(path.join(real, entry.name), relative, depth + 1);
        else if (entry.isFile()) listing.files.push(relative);
        else listing.others.push(relative);
      }
    } finally {
      await handle.close();
    }
  };
  await walk(root, '', 0);
  return listing;
}

/**
 * A DNS lookup for the HTTP client that refuses a name when any address it resolves to is not
 * allowed (so a name that answers both a public and a loopback address cannot pick the latter).
 */
function checkedLookup(hosts: HostAllowList, field: string): LookupFunction {
  return ((hostname: string, options: { all?: boolean; family?: number }, callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void) => {
    dnsLookup(hostname, { all: true, family: options.family ?? 0 }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      for (const a of addresses) {
        const refusal = addressRefusal(a.address, hosts);
        if (refusal) return callback(new SourceRefusal('address-not-allowed', `${field}: host ${hostname} resolves to ${refusal}`, field), '', 0);
      }
      if (options.all) return callback(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  }) as unknown as LookupFunction;
}

/** Options of {@link openHttpSource}. */
export interface HttpReadOptions {
  /** Largest body accepted. */
  maxBytes: number;
  /** Aborts the download (an activity's cancellation); the total timeout applies besides. */
  signal?: AbortSignal;
  /** Extra request headers (the MLflow token; only for a configured server, never a manifest's URI). */
  headers?: Record<string, string>;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Why a download was aborted: its total time ran out (passing), or it was cancelled. */
function abortReason(signal: AbortSignal, rules: SourceRules, field: string): SourceUnavailable {
  const timedOut = (signal.reason as { name?: string } | undefined)?.name === 'TimeoutError';
  return new SourceUnavailable(timedOut ? `${field}: the download took longer than ${rules.httpTotalTimeoutMs} ms` : `${field}: the download was cancelled`);
}

function requestOnce(url: URL, rules: SourceRules, field: string, signal: AbortSignal, extraHeaders: Record<string, string> = {}): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal, rules, field));
    const client = url.protocol === 'https:' ? https : http;
    const req = client.get(url, { lookup: checkedLookup(rules.hosts, field), timeout: rules.httpIdleTimeoutMs, agent: false, headers: { ...extraHeaders, 'user-agent': 'modelgate-worker', accept: '*/*' } });
    const onAbort = () => req.destroy(abortReason(signal, rules, field));
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('close', () => signal.removeEventListener('abort', onAbort));
    req.on('timeout', () => req.destroy(new SourceUnavailable(`${field}: no answer within ${rules.httpIdleTimeoutMs} ms`)));
    req.on('error', (err) => reject(err instanceof SourceRefusal || err instanceof SourceUnavailable ? err : new SourceUnavailable(`${field}: cannot fetch ${quoteUri(url.toString())}: ${errnoOf(err)}`)));
    req.on('response', resolve);
  });
}

/**
 * Opens an `http(s)://` source as a byte stream: the host is checked against the allow list, every
 * address it resolves to is checked (also for each redirect, which is followed by hand up to
 * `rules.maxRedirects` and never from https to http), the body is bounded by `maxBytes`, the
 * connection by the idle timeout and the whole download by the total timeout.
 * 5xx, 408, 429 and network failures throw {@link SourceUnavailable}; the rest {@link SourceRefusal}.
 */
export async function openHttpSource(uri: string, rules: SourceRules, field: string, options: HttpReadOptions): Promise<Readable> {
  let url = checkHttpUrl(uri, rules.hosts, field);
  // One deadline for the whole download: connecting, every redirect, the headers and the body.
  const total = AbortSignal.timeout(rules.httpTotalTimeoutMs);
  const signal = options.signal ? AbortSignal.any([total, options.signal]) : total;
  let response: http.IncomingMessage;
  for (let redirects = 0; ; redirects++) {
    response = await requestOnce(url, rules, field, signal, options.headers);
    const status = response.statusCode ?? 0;
    if (!REDIRECTS.has(status)) break;
    response.destroy();
    const location = response.headers.location;
    if (!location) throw new SourceRefusal('redirect', `${field}: HTTP ${status} without a Location header`, field);
    if (redirects >= rules.maxRedirects) throw new SourceRefusal('redirect', `${field}: more than ${rules.maxRedirects} redirects`, field);
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new SourceRefusal('redirect', `${field}: redirect to an invalid URL`, field);
    }
    if (url.protocol === 'https:' && next.protocol !== 'https:') throw new SourceRefusal('redirect', `${field}: redirect from https to ${next.protocol.replace(':', '')}`, field);
    url = checkHttpUrl(next.toString(), rules.hosts, `${field} (redirect)`);
  }
  const status = response.statusCode ?? 0;
  if (status < 200 || status > 299) {
    response.destroy();
    const message = `${field}: fetching ${quoteUri(url.toString())} answered HTTP ${status}`;
    if (status >= 500 || status === 408 || status === 429) throw new SourceUnavailable(message);
    throw new SourceRefusal('http-status', message, field);
  }
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > options.maxBytes) {
    response.destroy();
    throw new SourceRefusal('too-large', `${field}: the source is larger than the limit of ${options.maxBytes} bytes`, field);
  }
  const body = response;
  const onAbort = () => body.destroy(abortReason(signal, rules, field));
  if (signal.aborted) onAbort();
  signal.addEventListener('abort', onAbort, { once: true });
  body.setTimeout(rules.httpIdleTimeoutMs, () => body.destroy(new SourceUnavailable(`${field}: no data for ${rules.httpIdleTimeoutMs} ms`)));
  async function* bounded(): AsyncGenerator<Buffer> {
    let received = 0;
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        received += chunk.length;
        if (received > options.maxBytes) throw new SourceRefusal('too-large', `${field}: the source is larger than the limit of ${options.maxBytes} bytes`, field);
        yield chunk;
      }
    } catch (err) {
      if (err instanceof SourceRefusal || err instanceof SourceUnavailable) throw err;
      throw new SourceUnavailable(`${field}: reading the source failed (${errnoOf(err)})`);
    } finally {
      signal.removeEventListener('abort', onAbort);
      body.destroy();
    }
  }
  return Readable.from(bounded(), { objectMode: false });
}

/** The file name an HTTP source's path ends in, made safe for the local disk (`artifact` when none). */
export function httpFileName(uri: string): string {
  const base = path.posix.basename(new URL(uri).pathname);
  const safe = base.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 200);
  return safe && safe !== '.' && safe !== '..' ? safe : 'artifact';
}

/**
 * Opens a document source (evaluation file, model card) as a byte stream, under the same rules as
 * artifacts and bounded by `rules.maxDocumentBytes`.
 * @throws {SourceRefusal} | {SourceUnavailable}
 */
export async function openDocumentSource(uri: string, rules: SourceRules, field: string, signal?: AbortSignal): Promise<Readable> {
  if (/^https?:\/\//i.test(uri)) return openHttpSource(uri, rules, field, { maxBytes: rules.maxDocumentBytes, ...(signal ? { signal } : {}) });
  if (!uri.startsWith('file://')) throw new SourceRefusal('scheme', `${field}: only file://, http:// and https:// sources are allowed`, field);
  const source = await openLocalSource(uri, rules, field);
  if (source.kind !== 'file') throw new SourceRefusal('not-a-file', `${field}: is a directory, not a file`, field);
  const { handle, size } = source.file;
  if (size > rules.maxDocumentBytes) {
    await handle.close();
    throw new SourceRefusal('too-large', `${field}: the file is larger than the limit of ${rules.maxDocumentBytes} bytes`, field);
  }
  return handle.createReadStream({ highWaterMark: 1024 * 1024, end: Math.max(0, size - 1), autoClose: true });
}

/**
 * Reads until `ok` holds, every 150 ms; fails after `timeoutMs` showing the last value read.
 */
export async function waitUntil<T>(read: () => Promise<T> | T, ok: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`condition never held; last: ${JSON.stringify(last)?.slice(0, 2000)}`);
}

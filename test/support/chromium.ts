import { existsSync } from 'node:fs';

/** The Chromium that scripts/test.sh found or installed (scripts/chromium.sh). */
export function chromiumPath(): string {
  const candidates = [process.env.MODELGATE_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error('no Chromium found: run the tests with ./scripts/test.sh, which installs Debian\'s chromium (scripts/chromium.sh)');
  return found;
}

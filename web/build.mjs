// Builds the reviewer dashboard into dist/dashboard (run by `npm run build`): one bundle of
// the TypeScript in web/src with its npm libraries (Preact, Observable Plot) and one stylesheet,
// so the page fetches nothing from elsewhere at run time.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const web = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(web, '..', 'dist', 'dashboard');

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: { app: path.join(web, 'src', 'main.tsx') },
  outdir: out,
  bundle: true,
  format: 'esm',
  minify: true,
  sourcemap: true,
  target: ['chrome111', 'firefox111', 'safari16.4'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'linked',
  logLevel: 'warning',
});
await copyFile(path.join(web, 'index.html'), path.join(out, 'index.html'));

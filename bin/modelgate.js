#!/usr/bin/env node
// The `modelgate` command. The TypeScript sources are compiled to dist/ by `npm ci` (prepare).
'use strict';
const path = require('node:path');
const fs = require('node:fs');

const entry = path.join(__dirname, '..', 'dist', 'cli', 'index.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('modelgate: not built yet; run `npm ci` (or `npm run build`) in the project folder\n');
  process.exit(2);
}
require(entry).main(process.argv).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`modelgate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);

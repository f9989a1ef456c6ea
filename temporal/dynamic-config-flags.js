// Prints one KEY=JSONVALUE line per setting of a Temporal dynamic-config YAML file, for
// `temporal server start-dev --dynamic-config-value`. Only unconstrained values apply to the
// dev server; constrained ones (per namespace, task queue) are skipped with a note.
'use strict';
const { readFileSync } = require('node:fs');
const { parse } = require('yaml');

const file = process.argv[2];
const config = parse(readFileSync(file, 'utf8')) ?? {};
for (const [key, entries] of Object.entries(config)) {
  const unconstrained = (entries ?? []).find((e) => !e.constraints || Object.keys(e.constraints).length === 0);
  if (!unconstrained) {
    process.stderr.write(`dynamic config ${key}: only constrained values, not passed to the dev server\n`);
    continue;
  }
  process.stdout.write(`${key}=${JSON.stringify(unconstrained.value)}\n`);
}

// Times every pattern and scanner the evidence checks apply to submitted text on 1 MB
// adversarial inputs (the shapes that make backtracking patterns quadratic) and prints ms per MB.
// Scanners run on the whole input here, without the per-cell and per-field cuts the checks add.
// Usage: npx tsx bench/checks/regex-adversarial.ts [megabytes]
import { NUMBER_TEXT } from '../../src/checks/evaluation/evaluation-file';
import { PERSONAL_DATA_DETECTORS } from '../../src/checks/evaluation/personal-data';
import { describeName, jsonNestedDeeperThan, reportedText, yamlNestingProblem } from '../../src/checks/evaluation/report-text';
import { parseModelCardText } from '../../src/checks/governance-checks';

const megabytes = Number(process.argv[2] ?? 1);
const size = Math.round(megabytes * 1024 * 1024);

/** `unit` repeated to `size` characters, then `tail`. */
const fill = (unit: string, tail = '', head = ''): string => head + unit.repeat(Math.ceil((size - head.length - tail.length) / unit.length)).slice(0, size - head.length - tail.length) + tail;

const INPUTS: Record<string, string> = {
  'a…a@': fill('a', '@'),
  'a…a@b…b': fill('a', `@${'b'.repeat(1000)}`),
  'a@a@…': fill('a@'),
  'a.a.…@': fill('a.', '@'),
  'x@a.a.…': fill('a.', '', 'x@'),
  '1 1 …': fill('1 '),
  '+1 +1 …': fill('+1 '),
  '-…': fill('-'),
  '1…1x': fill('1', 'x'),
  '1-1-…': fill('1-'),
  '1.1…e': fill('1', '.1e'),
  'AB 12 …': fill('AB 12 '),
  '# ␠…x␍y': fill(' ', 'x\ry', '#'),
  '[[[…': fill('['),
  '- - …': fill('- '),
  'spaces': fill(' ', 'x'),
};

const SCANNERS: Record<string, (text: string) => unknown> = {
  ...Object.fromEntries(PERSONAL_DATA_DETECTORS.map((d) => [`personal data: ${d.kind}`, d.find])),
  'number cell pattern': (t) => NUMBER_TEXT.test(t),
  'column name pattern': (t) => describeName(t, 0),
  'reported text escaping': (t) => reportedText(t),
  'JSON nesting scan': (t) => jsonNestedDeeperThan(t, 64),
  'YAML nesting scan': (t) => yamlNestingProblem(t),
  'Markdown model card': (t) => parseModelCardText(t, '.md'),
};

function timeMs(scan: (text: string) => unknown, text: string): number {
  const started = process.hrtime.bigint();
  try {
    scan(text);
  } catch {
    // a refusal (named error) is a result too: only the time matters here
  }
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const rows: Array<{ scanner: string; worstInput: string; worstMsPerMB: number; meanMsPerMB: number }> = [];
for (const [scanner, scan] of Object.entries(SCANNERS)) {
  for (const text of Object.values(INPUTS)) timeMs(scan, text.slice(0, 10_000)); // warm-up (JIT)
  let worst = { input: '', ms: 0 };
  let total = 0;
  for (const [name, text] of Object.entries(INPUTS)) {
    const ms = timeMs(scan, text) / megabytes;
    total += ms;
    if (ms > worst.ms) worst = { input: name, ms };
  }
  rows.push({ scanner, worstInput: worst.input, worstMsPerMB: Math.round(worst.ms * 10) / 10, meanMsPerMB: Math.round((total / Object.keys(INPUTS).length) * 10) / 10 });
}
console.table(rows);
const slowest = Math.max(...rows.map((r) => r.worstMsPerMB));
process.stdout.write(`${JSON.stringify({ megabytes, slowestMsPerMB: slowest, underOneSecondPerMB: slowest < 1000 })}\n`);

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { runNamedCheck } from '../../src/checks';
import { canonicalLabel, numericCell } from '../../src/checks/evaluation/evaluation-file';
import { EVIDENCE_LIMITS } from '../../src/checks/evaluation/limits';
import { findPersonalData } from '../../src/checks/evaluation/personal-data';
import { parseModelCardText } from '../../src/checks/governance-checks';
import { runCheck } from '../../src/checks/result';
import { CheckSettingsSchema } from '../../src/policy/check-settings';
import { type PromotionManifestInput, PromotionManifestSchema } from '../../src/manifest/schema';
import type { CheckResult } from '../../src/shared/checks';
import { testSources } from '../support/sources';

// Hostile evaluation files and model cards: nothing read from them is echoed in a result, and no
// file stalls or crashes the worker (bounds give named errors).

const dir = mkdtempSync(path.join(tmpdir(), 'modelgate-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = 's3cr3t-Pl4nted-value';

function file(name: string, content: string | Buffer): string {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return pathToFileURL(p).href;
}

function manifest(overrides: Partial<PromotionManifestInput> = {}) {
  return PromotionManifestSchema.parse({
    model: { name: 'churn', version: '2.0.0', owner: 'alice', riskTier: 'low' },
    target: 'staging',
    artifact: { uri: file('model.bin', 'x'), sha256: 'a'.repeat(64), format: 'other' },
    lineage: { codeCommit: 'a1b2c3d', trainingData: { uri: 's3://d', classification: 'internal', containsPersonalData: false } },
    modelCard: { intendedUse: 'Scoring churn risk of existing business customers.', limitations: 'Not validated for consumer accounts or new markets.' },
    ...overrides,
  });
}

const evaluation = (uri: string, extra: Record<string, unknown> = {}) => ({ uri, labelColumn: 'label', predictionColumn: 'pred', ...extra });

const run = (name: 'performance' | 'fairness' | 'modelCard' | 'privacy', m: ReturnType<typeof manifest>, s: Record<string, unknown> = {}) =>
  runNamedCheck(name, { manifest: m, settings: CheckSettingsSchema.parse(s), trustedKeys: [], context: { sources: testSources() }, rethrowTransient: false });

/** Fails when any planted string appears anywhere in the serialised result. */
function expectNoneEchoed(result: CheckResult, ...planted: string[]): void {
  const text = JSON.stringify(result);
  for (const s of planted) expect({ planted: s, found: text.includes(s) }).toEqual({ planted: s, found: false });
}

describe('nothing read from an evaluation file is echoed', () => {
  it('a header that is an environment dump lists only column-like names', async () => {
    const env = ['AUTH_JWT_SECRET=s3cr3t-jwt-value', `DATABASE_URL=postgres://app:${SECRET}@db/app`, 'PATH=/usr/bin'].join('\0');
    const uri = file('env.csv', `${env},AWS_SECRET=${SECRET}2,prediction\n1,2,3\n`);
    const r = await run('performance', manifest({ evaluation: evaluation(uri, { labelColumn: 'y' }) }));
    expect(r.status).toBe('error');
    expect(r.summary).toContain("no column 'y'");
    expect(r.summary).toContain('<column 1>');
    expect(r.summary).toContain('"prediction"');
    expectNoneEchoed(r, SECRET, 's3cr3t-jwt-value', 'AUTH_JWT_SECRET', '/usr/bin', '\u0000');
  });

  it('a CSV field with an invalid quote names the problem and position only', async () => {
    const uri = file('quote.csv', `label,pred\n1,1\n0,${SECRET}"cd"\n`);
    const r = await run('performance', manifest({ evaluation: evaluation(uri) }));
    expect(r.status).toBe('error');
    expect(r.summary).toMatch(/not valid CSV: .*quote.* line 3/);
    expectNoneEchoed(r, SECRET);
  });

  it('an unclosed quote and a ragged row name the problem only', async () => {
    const unclosed = await run('performance', manifest({ evaluation: evaluation(file('unclosed.csv', `label,pred\n1,"${SECRET}\n`)) }));
    const ragged = await run('performance', manifest({ evaluation: evaluation(file('ragged.csv', `label,pred\n1,1,${SECRET}\n`)) }));
    for (const r of [unclosed, ragged]) {
      expect(r.status).toBe('error');
      expectNoneEchoed(r, SECRET);
    }
  });

  it('a JSONL line that is not valid JSON names the line only', async () => {
    const uri = file('bad.jsonl', `{"label": 1, "pred": 1}\n{"label": 1, "pred": ${SECRET}}\n`);
    const r = await run('performance', manifest({ evaluation: evaluation(uri) }));
    expect(r.status).toBe('error');
    expect(r.summary).toContain('JSONL line 2 is not valid JSON');
    expectNoneEchoed(r, SECRET, 's3cr3t');
  });

  it('a non-numeric label describes the cell without its content', async () => {
    const uri = file('label.csv', `label,pred\n1,1\n${SECRET},0\n`);
    const r = await run('performance', manifest({ evaluation: evaluation(uri) }));
    expect(r.status).toBe('error');
    expect(r.summary).toContain(`non-numeric value (a ${SECRET.length}-character text) at row 2`);
    expectNoneEchoed(r, SECRET);
  });

  it('a short plain label is still shown, so that a typo can be found', async () => {
    const r = await run('performance', manifest({ evaluation: evaluation(file('typo.csv', 'label,pred\n1,1\nabc,0\n')) }));
    expect(r.summary).toContain('non-numeric value "abc" at row 2');
  });

  it('labels that never meet the positive label are listed only when they look like labels', async () => {
    const uri = file('labels.csv', `label,pred\n${SECRET}-a,no\nno,${SECRET}-a\n`);
    const r = await run('performance', manifest({ evaluation: evaluation(uri, { positiveLabel: 'spam' }) }));
    expect(r.status).toBe('error');
    expect(r.summary).toContain('"no"');
    expectNoneEchoed(r, SECRET);
  });

  it('JSONL keys in a privacy finding are listed only when they look like column names', async () => {
    const uri = file('keys.jsonl', `${JSON.stringify({ label: 1, pred: 1, [`TOKEN=${SECRET}`]: 'mail bob@example.com now', contact_email: 'alice.smith@example.org' })}\n`);
    const r = await run('privacy', manifest({ evaluation: evaluation(uri) }));
    const messages = r.findings.filter((f) => f.kind === 'personal_data_in_evaluation').map((f) => f.message);
    expect(messages).toEqual(expect.arrayContaining([expect.stringContaining('<column 3>'), expect.stringContaining('"contact_email"')]));
    expectNoneEchoed(r, SECRET, 'bob@example.com', 'alice.smith@example.org');
  });
});

describe('privacy findings show masked personal data', () => {
  it('an e-mail address is masked to its first letters and top-level domain', async () => {
    const uri = file('pii.csv', 'label,pred,email\n1,1,john.doe@example.com\n0,0,x\n');
    const r = await run('privacy', manifest({ evaluation: evaluation(uri) }));
    const hit = r.findings.find((f) => f.kind === 'personal_data_in_evaluation');
    expect(hit?.message).toContain('j***@e***.com');
    expectNoneEchoed(r, 'john.doe@example.com', 'john', 'example');
  });

  it('a card number shows at most its last four digits, a national id nothing', () => {
    const hits = findPersonalData('card 4111 1111 1111 1111 and ssn 123-45-6789');
    expect(hits.find((h) => h.kind === 'payment_card')?.sample).toBe('card ending 1111');
    expect(hits.find((h) => h.kind === 'us_ssn')?.sample).toBe('***-**-****');
    expect(JSON.stringify(hits)).not.toContain('4111 1111');
    expect(JSON.stringify(hits)).not.toContain('6789');
  });

  it('a personal-data hit in a model card field with a hostile name names the field safely', async () => {
    const r = await run('privacy', manifest({ modelCard: { intendedUse: 'fine', [`x=${SECRET}`]: 'write to someone@example.com' } }));
    const hit = r.findings.find((f) => f.kind === 'personal_data_in_model_card');
    expect(hit?.message).toContain('<field 2>');
    expectNoneEchoed(r, SECRET, 'someone@example.com');
  });
});

describe('model cards that fail to parse', () => {
  it.each([
    ['YAML', 'card.yaml', `intendedUse: Scoring\nlimitations: ${SECRET}: nested\n`],
    ['YAML front matter', 'card.md', `---\ntitle: ${SECRET}: nested\n---\n# Intended use\nScoring\n`],
    ['JSON', 'card.json', `{"intendedUse": "Scoring", "limitations": ${SECRET}}`],
  ])('%s: the error names the kind of problem and the line, never the text', async (_kind, name, content) => {
    const r = await run('modelCard', manifest({ modelCard: { uri: file(name, content) } }));
    expect(r.status).toBe('error');
    expect(r.summary).toMatch(/cannot be parsed/);
    expectNoneEchoed(r, SECRET, 's3cr3t');
  });

  it('a placeholder and an ethical consideration from the card are not echoed', async () => {
    const card = { intendedUse: `lorem ipsum ${SECRET}`, limitations: 'Not validated for consumer accounts.', ethicalConsiderations: [{ name: `${SECRET}\u202e` }] };
    const m = manifest({ model: { name: 'churn', version: '2.0.0', owner: 'alice', riskTier: 'high' }, modelCard: { uri: file('card-placeholder.json', JSON.stringify(card)) } });
    const r = await run('modelCard', m);
    expect(r.findings.map((f) => f.kind)).toEqual(expect.arrayContaining(['field_placeholder', 'mitigation_missing']));
    expectNoneEchoed(r, SECRET);
  });
});

describe('bounds give named errors', () => {
  it('a 20 MB CSV cell stops at the record limit', async () => {
    const uri = file('giant.csv', Buffer.concat([Buffer.from('label,pred\n1,"'), Buffer.alloc(20 * 1024 * 1024, 'x'), Buffer.from('"\n')]));
    const r = await run('performance', manifest({ evaluation: evaluation(uri) }));
    expect(r.status).toBe('error');
    expect(r.summary).toContain(`longer than ${EVIDENCE_LIMITS.csvRecordChars} characters`);
  });

  it('a header with more columns than the limit is refused', async () => {
    const uri = file('wide.csv', `${Array.from({ length: EVIDENCE_LIMITS.columns + 1 }, (_, i) => `c${i}`).join(',')}\n`);
    const r = await run('performance', manifest({ evaluation: evaluation(uri) }));
    expect(r.summary).toContain(`more than ${EVIDENCE_LIMITS.columns} columns`);
  });

  it('a JSONL line longer than the limit is refused', async () => {
    const uri = file('long.jsonl', `{"label": 1, "pred": "${'x'.repeat(EVIDENCE_LIMITS.jsonlLineChars + 10)}"}\n`);
    const r = await run('performance', manifest({ evaluation: evaluation(uri) }));
    expect(r.status).toBe('error');
    expect(r.summary).toContain(`JSONL line 1 is longer than ${EVIDENCE_LIMITS.jsonlLineChars} characters`);
  });

  it('a deeply nested JSONL value is refused before it is parsed', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const uri = file('deep.jsonl', `{"label": ${deep}, "pred": 1}\n`);
    const r = await run('performance', manifest({ evaluation: evaluation(uri) }));
    expect(r.status).toBe('error');
    expect(r.summary).toContain(`JSONL line 1 is nested more than ${EVIDENCE_LIMITS.jsonDepth} levels deep`);
  });

  it.each([
    ['card-deep.json', `{"intendedUse": ${'['.repeat(50_000)}${']'.repeat(50_000)}}`],
    ['card-deep.yaml', `intendedUse: ${'['.repeat(100_000)}`],
    ['card-deep-block.yaml', Array.from({ length: 1000 }, (_, i) => `${' '.repeat(i)}k:`).join('\n')],
    ['card-deep-seq.yaml', `${'- '.repeat(50_000)}x`],
  ])('a deeply nested model card (%s) is refused with a named error', async (name, content) => {
    const r = await run('modelCard', manifest({ modelCard: { uri: file(name, content) } }));
    expect(r.status).toBe('error');
    expect(r.summary).toMatch(/nested more than \d+ levels deep/);
  });

  it('a YAML alias bomb is refused', async () => {
    let bomb = 'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n';
    for (let i = 1; i < 10; i++) bomb += `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]\n`;
    const r = await run('privacy', manifest({ modelCard: { uri: file('bomb.yaml', bomb) } }));
    expect(r.status).toBe('error');
    expect(r.summary).toContain('aliases');
  });

  it('a label longer than the limit is refused', async () => {
    const uri = file('long-label.csv', `label,pred\n${'y'.repeat(EVIDENCE_LIMITS.labelChars + 1)},n\n`);
    const r = await run('performance', manifest({ evaluation: evaluation(uri, { positiveLabel: 'y' }) }));
    expect(r.status).toBe('error');
    expect(r.summary).toContain(`longer than ${EVIDENCE_LIMITS.labelChars} characters`);
  });

  it('1e5 distinct group values give a bounded result with a named finding', async () => {
    const rows = ['label,pred,group'];
    for (let i = 0; i < 100_000; i++) rows.push(`${i % 2},${(i >> 1) % 2},${SECRET}-${i}`);
    const uri = file('groups.csv', rows.join('\n'));
    const r = await run('fairness', manifest({ evaluation: evaluation(uri, { sensitiveColumns: ['group'] }) }), { fairness: { enforcement: 'required' } });
    expect(r.status).toBe('fail');
    expect(r.findings.map((f) => f.kind)).toContain('too_many_groups');
    expect(JSON.stringify(r).length).toBeLessThan(10_000);
  });

  it('group names are kept, bounded and escaped, and lists of groups are bounded', async () => {
    const rows = ['label,pred,group'];
    const long = `${'g'.repeat(200)}\u202e`;
    for (let i = 0; i < 200; i++) rows.push(`1,${i % 2},female`, `0,0,male`, `1,1,"${long}${i}"`);
    const r = await run('fairness', manifest({ evaluation: evaluation(file('named-groups.csv', rows.join('\n')), { sensitiveColumns: ['group'] }) }), { fairness: { minGroupSize: 5, fourFifthsRule: false } });
    const names = Object.keys(r.metrics.byGroup as object);
    expect(names).toEqual(expect.arrayContaining(['female', 'male']));
    expect(names.every((n) => [...n].length <= EVIDENCE_LIMITS.reportedTextChars + 8)).toBe(true);
    expect(JSON.stringify(r)).not.toContain('\u202e');
    const small = r.findings.find((f) => f.kind === 'group_too_small');
    expect(small?.message).toMatch(/and 18\d more/);
  });
});

describe('linear-time scanning of hostile text', () => {
  const adversarial = [
    'a'.repeat(200_000) + '@',
    `${'a'.repeat(100_000)}@${'b'.repeat(100_000)}`,
    '1 '.repeat(100_000),
    '+1 '.repeat(60_000),
    '-'.repeat(200_000),
    '1'.repeat(200_000),
    '1-'.repeat(100_000),
    `${'a.'.repeat(100_000)}@`,
    `x@${'a.'.repeat(100_000)}`,
    'AB 12 '.repeat(40_000),
  ];

  it.each(adversarial.map((s, i) => [i, s]))('adversarial text %i: no exception and no finding', (_i, text) => {
    expect(findPersonalData(text as string)).toEqual([]);
  });

  it('still finds personal data in long benign text', () => {
    const prefix = 'Lorem ipsum dolor sit amet. '.repeat(100);
    expect(findPersonalData(`${prefix}write to jane.roe@mail.example.co.uk`).map((h) => h.kind)).toEqual(['email']);
    expect(findPersonalData(`${prefix}call +44 20 7946 0958 today`).map((h) => h.kind)).toEqual(['phone']);
    expect(findPersonalData(`${prefix}ssn 078-05-1120.`).map((h) => h.kind)).toEqual(['us_ssn']);
    expect(findPersonalData(`${prefix}NI number AB 12 34 56 C.`).map((h) => h.kind)).toEqual(['uk_nino']);
    expect(findPersonalData(`${prefix}card 4111-1111-1111-1111.`).map((h) => h.kind)).toEqual(['payment_card']);
  });

  it('numeric cells and labels are recognised in linear time, as before', () => {
    expect(numericCell(`${'1'.repeat(200_000)}x`)).toBeUndefined();
    expect(numericCell(`${'1'.repeat(100_000)}.${'1'.repeat(100_000)}e`)).toBeUndefined();
    for (const [text, value] of [['12', 12], [' -1.5e3 ', -1500], ['.5', 0.5], ['3.', 3], ['+7', 7]] as const) expect(numericCell(text)).toBe(value);
    for (const text of ['1e', 'e5', '.', '-', '1.2.3', '0x10', '']) expect(numericCell(text)).toBeUndefined();
    expect(canonicalLabel('1.0')).toBe('1');
    expect(canonicalLabel(' TRUE ')).toBe('true');
  });

  it('markdown headings are parsed in linear time', () => {
    const card = parseModelCardText(`# Intended use\nScoring.\n#  ${' '.repeat(50_000)}x\ry\nignored\n## Limitations\nNot for kids.\n`, '.md');
    expect(card).toEqual({ intendedUse: 'Scoring.', limitations: 'Not for kids.' });
    const front = parseModelCardText(`---\n${'-'.repeat(200_000)}\n# Intended use\nx`, '.md');
    expect(front).toEqual({ intendedUse: 'x' });
  });
});

describe('unexpected errors', () => {
  it('an internal error is reported generically, without its message', async () => {
    const r = await runCheck('performance', 'required', async () => {
      throw new Error(`boom ${SECRET}`);
    }, { rethrowTransient: false });
    expect(r.status).toBe('error');
    expect(r.findings[0]?.kind).toBe('internal_error');
    expect(r.summary).toContain('internal error while running the check (Error; see the worker log)');
    expectNoneEchoed(r, SECRET);
  });

  it('names the error class only when it is a plain identifier', async () => {
    const r = await runCheck('performance', 'required', async () => {
      throw Object.assign(new Error('boom'), { name: `X ${SECRET}` });
    }, { rethrowTransient: false });
    expect(r.summary).toContain('internal error while running the check (see the worker log)');
    expectNoneEchoed(r, SECRET);
  });
});

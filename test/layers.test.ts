import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

// The layer rule of eslint.config.mjs (`boundaries/dependencies`), run through ESLint's Node API
// on imports written for the test. ESLint loads its config with a dynamic import, which jest's
// sandbox refuses, so the API runs in a child node process. The text is linted as if it were an
// existing file of the layer (the file itself is not read); type-aware rules are off, they would
// need a program.
const LINT = `
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
const eslint = new ESLint({ overrideConfig: [tseslint.configs.disableTypeChecked] });
const out = [];
for (const [filePath, code] of JSON.parse(process.argv[1])) {
  const [result] = await eslint.lintText(code, { filePath });
  out.push(result.messages.filter((m) => m.ruleId === 'boundaries/dependencies').map((m) => m.message));
}
process.stdout.write(JSON.stringify(out));
`;

async function boundaryErrors(cases: Array<[filePath: string, code: string]>): Promise<string[][]> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', LINT, JSON.stringify(cases)], { cwd: path.resolve(__dirname, '..') });
  return JSON.parse(stdout) as string[][];
}

describe('layers (eslint boundaries/dependencies)', () => {
  it('refuses imports up the layers, and values where a layer may import only types', async () => {
    const [shared, promotions, policy, sharedValue, web] = await boundaryErrors([
      ['src/shared/canonical-json.ts', "import { createPgRegistry } from '../registry';\nexport const r = createPgRegistry;\n"],
      ['src/promotions/start.ts', "import { sealEvidence } from '../activities/promotion';\nexport const s = sealEvidence;\n"],
      ['src/policy/load.ts', "import { runNamedCheck } from '../checks';\nexport const c = runNamedCheck;\n"],
      ['src/shared/canonical-json.ts', "import { resolvePolicy } from '../policy/resolve';\nexport const p = resolvePolicy;\n"],
      ['web/src/poll.ts', "import { buildApp } from '../../src/api/app';\nexport const a = buildApp;\n"],
    ]);
    expect(shared).toEqual([expect.stringContaining('from elements of type "shared" to elements of type "registry"')]);
    expect(promotions).toEqual([expect.stringContaining('from elements of type "promotions" to elements of type "activities"')]);
    expect(policy).toEqual([expect.stringContaining('from elements of type "policy" to elements of type "checks"')]);
    expect(sharedValue).toEqual([expect.stringContaining('from elements of type "shared" to elements of type "policy"')]);
    expect(web).toEqual([expect.stringContaining('from elements of type "web" to elements of type "api"')]);
  }, 60_000);

  it('allows imports down the layers, and types where a layer may import only types', async () => {
    expect(
      await boundaryErrors([
        ['src/checks/errors.ts', "import type { Registry } from '../registry';\nimport { canonicalJson } from '../shared/canonical-json';\nexport type R = Registry;\nexport const j = canonicalJson;\n"],
        ['src/shared/canonical-json.ts', "import type { ResolvedPolicy } from '../policy/resolved';\nexport type P = ResolvedPolicy;\n"],
        ['src/worker.ts', "import { createActivities } from './activities';\nexport const a = createActivities;\n"],
      ]),
    ).toEqual([[], [], []]);
  }, 60_000);
});

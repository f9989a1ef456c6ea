// The references of docs/ are generated from the code (scripts/generate-docs.ts); this test
// regenerates them in memory and fails when a committed file differs, and checks that no file
// of the repository sends readers to a design document outside it.
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { generatedDocs, REPOSITORY_ROOT } from '../scripts/generate-docs';

describe('generated docs', () => {
  it('docs/manifest.md, docs/policy.md and the role matrix of docs/security.md are up to date', async () => {
    for (const [file, expected] of await generatedDocs()) {
      const committed = await readFile(path.join(REPOSITORY_ROOT, file), 'utf8');
      if (committed !== expected) {
        throw new Error(`${file} is stale: run \`npx tsx scripts/generate-docs.ts\` and commit the result`);
      }
    }
  });

  it('docs/security.md keeps its sections', async () => {
    const security = await readFile(path.join(REPOSITORY_ROOT, 'docs', 'security.md'), 'utf8');
    for (const heading of ['## Sources', '## One verified copy', '## Secrets per process', '## Trust boundaries', '## Roles']) {
      expect(security).toContain(`\n${heading}\n`);
    }
  });

  it('no tracked file refers to a design document outside the repository', () => {
    const grep = spawnSync('git', ['grep', '-n', '-I', 'DESIGN\\.md', '--', '.', ':!test/docs.test.ts'], { cwd: REPOSITORY_ROOT, encoding: 'utf8' });
    expect(grep.stdout.trim()).toBe('');
  });
});

// One pin of a models:/ version (download through the artifact proxy and hash) in a process of its
// own, so its peak RSS is the download's. Usage: npx tsx bench/mlflow/download-once.ts <tracking uri> <model> <version>
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pinMlflowSource } from '../../src/checks/mlflow-source';
import { PromotionManifestSchema } from '../../src/manifest/schema';
import { createMlflowClient } from '../../src/sources/mlflow';
import { sourceRules } from '../../src/sources/rules';

async function main(): Promise<void> {
  const [trackingUri, model, version] = process.argv.slice(2) as [string, string, string];
  const store = mkdtempSync(path.join(tmpdir(), 'modelgate-bench-store-'));
  try {
    const rules = sourceRules([], '', {});
    const sources = { ...rules, mlflow: createMlflowClient({ trackingUri }, rules) };
    const manifest = PromotionManifestSchema.parse({
      model: { name: model, version, owner: 'bench', riskTier: 'low' },
      target: 'production',
      artifact: { uri: `models:/${model}/${version}`, format: 'other' },
    });
    const started = process.hrtime.bigint();
    const pinned = await pinMlflowSource(manifest, { sources, artifactStoreDir: store });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    process.stdout.write(`${JSON.stringify({ seconds, bytes: pinned.bytes, sha256: pinned.sha256, maxRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`);
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
}

void main();

// Runs integrity + security over one artifact in one streaming pass and prints timing and peak RSS.
// Usage: npx tsx bench/checks/scan-once.ts <file> <declared-sha256>
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkIntegrityAndSecurity } from '../../src/checks/artifact-checks';
import { CheckSettingsSchema } from '../../src/policy/check-settings';
import { PromotionManifestSchema } from '../../src/manifest/schema';
import { sourceRules } from '../../src/sources/rules';

async function main(): Promise<void> {
  const [file, sha256] = process.argv.slice(2);
  const manifest = PromotionManifestSchema.parse({
    model: { name: 'bench', version: '1', owner: 'bench', riskTier: 'low' },
    target: 'staging',
    artifact: { uri: pathToFileURL(path.resolve(file!)).href, sha256, format: 'pytorch' },
  });
  const started = process.hrtime.bigint();
  const outcome = await checkIntegrityAndSecurity(manifest, CheckSettingsSchema.parse({}), [], { sources: sourceRules([path.dirname(path.resolve(file!))], '') });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(
    `${JSON.stringify({ seconds, integrity: outcome.integrity.outcome, security: outcome.security.outcome, maxRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`,
  );
}

void main();

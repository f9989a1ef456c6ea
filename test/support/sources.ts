import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type SourceRules, sourceRules } from '../../src/sources/rules';

/**
 * The sources tests read from: files under the system's temporary folder (where every test
 * writes its fixtures) and HTTP servers the tests start on 127.0.0.1.
 */
export const TEST_ARTIFACT_ROOTS = tmpdir();
/** The hosts tests serve artifacts from: their own servers on loopback, listed explicitly. */
export const TEST_ARTIFACT_HOSTS = '127.0.0.1';

/** Source rules for tests that call checks directly. */
export function testSources(overrides: Partial<SourceRules> = {}): SourceRules {
  return sourceRules(TEST_ARTIFACT_ROOTS, TEST_ARTIFACT_HOSTS, overrides);
}

let store: string | undefined;
/** A content-addressed artifact store of the test process (one per jest worker). */
export function testArtifactStore(): string {
  store ??= mkdtempSync(path.join(tmpdir(), 'modelgate-test-store-'));
  return store;
}

/** What the check activities need besides the pool, for tests. */
export function testSourceDeps(overrides: Partial<SourceRules> = {}): { sources: SourceRules; artifactStoreDir: string } {
  return { sources: testSources(overrides), artifactStoreDir: testArtifactStore() };
}

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import request from 'supertest';
import { signDevToken } from '../../src/api/auth';
import { archiveAuditRecords, readAuditArchive } from '../../src/audit/archive';
import { verifyChain } from '../../src/audit/chain';
import { unzipPack } from '../../src/evidence/bundle';
import type { PromotionState } from '../../src/shared/promotion';
import { runCli as cli } from '../support/cli';
import { people, type PromotionHarness, startPromotionHarness, waitForState, waitForStatus } from '../support/promotions';
import { buildTestApp, promotionPath, TEST_SECRET } from './support';

const chromium = process.env.MODELGATE_CHROMIUM;
const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');
const json = (files: Map<string, Uint8Array>, name: string) => JSON.parse(Buffer.from(files.get(name)!).toString('utf8'));
const text = (files: Map<string, Uint8Array>, name: string) => Buffer.from(files.get(name)!).toString('utf8');
const HOSTILE = 'Fraud model <script>alert("pwned")</script> & <img src=x onerror=alert(1)>';

/** Parses a binary answer (supertest buffers only known types by default). */
const binary = (res: request.Response, done: (err: Error | null, body: Buffer) => void) => {
  const stream = res as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
};

describe('the evidence pack of a promotion', () => {
  let h: PromotionHarness;
  let app: Express;
  let server: Server;
  let url: string;
  let id: string;
  let state: PromotionState;
  const token = (who: keyof typeof people) => signDevToken({ secret: TEST_SECRET, user: people[who].id, roles: people[who].roles });
  const bearer = async (who: keyof typeof people) => `Bearer ${await token(who)}`;
  const fetchPack = async (who: keyof typeof people, on: Express = app) => {
    const res = await request(on).get(promotionPath(id, 'evidence')).set('authorization', await bearer(who)).buffer(true).parse(binary);
    return { res, files: res.status === 200 ? unzipPack(new Uint8Array(res.body as Buffer)) : new Map<string, Uint8Array>() };
  };
  let pack: Awaited<ReturnType<typeof fetchPack>>;
  let whileInReview: Map<string, Uint8Array>;

  beforeAll(async () => {
    h = await startPromotionHarness();
    app = buildTestApp({ client: h.client, pool: h.pool, policy: h.policy, taskQueue: h.config.temporal.taskQueue, ...(chromium ? { evidenceChromium: chromium } : {}) });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

    const manifest = await h.manifest({ model: { riskTier: 'medium', description: HOSTILE } });
    const submitted = await request(app).post('/v1/promotions').set('authorization', await bearer('sam')).send(manifest);
    expect(submitted.status).toBe(201);
    id = submitted.body.promotionId;
    const handle = h.client.workflow.getHandle(id);
    await waitForStatus(handle, 'IN_REVIEW');
    whileInReview = (await fetchPack('olivia')).files;
    const approve = async (who: keyof typeof people, gate: string, comment: string) => {
      const res = await request(app).post(promotionPath(id, 'decisions')).set('authorization', await bearer(who)).send({ gate, decision: 'approve', comment });
      expect(res.status).toBe(200);
    };
    await approve('rita', 'technical', 'metrics hold <b>bold</b>');
    await waitForState(handle, (s) => s.stages[1]!.gates[0]!.status === 'open');
    await approve('bo', 'business', 'go');
    state = (await handle.result()) as PromotionState;
    pack = await fetchPack('rita');
  }, 180_000);
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await h?.close();
  }, 60_000);

  it('is a zip download with every part, its SHA256SUMS listing each file', () => {
    expect(state.status).toBe('DEPLOYED');
    expect(pack.res.status).toBe(200);
    expect(pack.res.headers['content-type']).toMatch(/^application\/zip/);
    expect(pack.res.headers['content-disposition']).toMatch(/^attachment; filename="evidence-promote_[^"]+\.zip"$/);
    const names = [...pack.files.keys()].sort();
    const expected = ['SHA256SUMS', 'audit-verification.json', 'audit.jsonl', 'checks.json', 'decisions.json', 'manifest.json', 'model-card.json', 'policy.yaml', 'report.html'];
    expect(names).toEqual([...expected, ...(chromium ? ['report.pdf'] : [])].sort());
    const sums = text(pack.files, 'SHA256SUMS').trim().split('\n');
    expect(sums).toHaveLength(names.length - 1);
    for (const line of sums) {
      const [digest, name] = line.split('  ');
      expect(sha256(pack.files.get(name!)!)).toBe(digest);
    }
    expect(pack.res.headers['x-evidence-digest']).toBe(sha256(pack.files.get('SHA256SUMS')!));
  });

  it('manifest.json, checks, decisions, model card and policy match the promotion field by field', () => {
    const manifest = json(pack.files, 'manifest.json');
    expect(manifest).toMatchObject({
      format: 'modelgate-evidence-pack',
      promotionId: id,
      source: 'temporal',
      status: 'DEPLOYED',
      model: { name: state.manifest.model.name, version: '1.0.0', owner: 'olivia', riskTier: 'medium', description: HOSTILE },
      target: 'production',
      artifact: { sha256: state.manifest.artifact.sha256, format: 'safetensors' },
      submitter: 'sam',
      submittedAt: state.submittedAt,
      evidenceDigest: state.evidenceDigest,
      exportedBy: people.rita,
      pdf: { included: Boolean(chromium) },
      auditChain: { source: 'archive', ok: true },
      digest: { algorithm: 'sha256', of: 'SHA256SUMS' },
    });
    expect(manifest.files).toEqual([...pack.files.keys()].sort());
    expect(manifest.checks).toEqual(state.checks.map((c) => ({ name: c.name, status: c.status })));

    const checks = json(pack.files, 'checks.json');
    expect(checks.map((c: { name: string; status: string }) => [c.name, c.status])).toEqual(state.checks.map((c) => [c.name, c.status]));
    for (const [i, c] of state.checks.entries()) expect(checks[i].findings).toEqual(c.findings);

    const decisions = json(pack.files, 'decisions.json');
    const signatures = state.stages.flatMap((s) => s.gates.flatMap((g) => g.signatures.map((sig) => ({ gate: g.name, ...sig }))));
    expect(signatures).toHaveLength(2);
    // The reviewers' signatures, then the promotion's own approval once every gate passed.
    expect(decisions).toEqual([
      ...signatures.map((s) =>
        expect.objectContaining({ actor: s.actorId, roles: s.roles, gate: s.gate, decision: 'approve', at: s.at, comment: s.comment, evidenceDigest: s.evidenceDigest }),
      ),
      expect.objectContaining({ actor: 'modelgate', action: 'approved', decision: 'approve', evidenceDigest: state.evidenceDigest }),
    ]);
    expect(decisions[0].evidenceDigest).toBe(state.evidenceDigest);

    expect(json(pack.files, 'model-card.json')).toEqual({ kind: 'inline', fields: state.manifest.modelCard });

    expect(manifest.policy).toMatchObject({
      name: state.policy.name,
      version: state.policy.version,
      recordedDigest: state.policy.digest,
      currentDigest: h.policy.digest,
      digestMatches: true,
      included: true,
    });
    expect(sha256(pack.files.get('policy.yaml')!)).toBe(state.policy.digest);
  });

  it('carries the archived audit chain and its verification', async () => {
    const rows = await readAuditArchive(h.pool, id);
    const chain = text(pack.files, 'audit.jsonl').trim().split('\n').map((l) => JSON.parse(l));
    expect(chain).toEqual(rows);
    expect(json(pack.files, 'audit-verification.json')).toMatchObject({ promotionId: id, chainSource: 'archive', ok: true, events: rows.length, head: rows.at(-1)!.hash });
    expect(verifyChain(chain)).toEqual({ ok: true, events: rows.length, head: rows.at(-1)!.hash });
  });

  it('a pack exported while the promotion ran chains its live timeline', () => {
    const manifest = json(whileInReview, 'manifest.json');
    expect(manifest).toMatchObject({ status: 'IN_REVIEW', exportedBy: people.olivia, auditChain: { source: 'timeline', ok: true } });
    expect(json(whileInReview, 'decisions.json')).toEqual([]);
  });

  it('report.html follows the Annex IV headings, names ISO/IEC 42001 controls, and escapes every value', () => {
    const html = text(pack.files, 'report.html');
    for (const heading of [
      '1. General description',
      '2. Detailed description',
      '3. Monitoring, functioning and control',
      '4. Appropriateness of the performance metrics',
      '5. Risk management system',
      '6. Relevant changes',
      '7. Harmonised standards',
      '8. EU declaration of conformity',
      '9. Post-market monitoring',
    ]) {
      expect(html).toContain(`<h2>${heading}`);
    }
    expect(html).toMatch(/A\.6\.2\.\d/);
    expect(html).toMatch(/A\.7\.\d/);
    expect(html).toMatch(/A\.5\.\d/);
    expect(html).toContain('evidences');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>bold</b>');
    expect(html).toContain('Fraud model &#60;script&#62;alert(&#34;pwned&#34;)&#60;/script&#62; &#38; &#60;img src=x onerror=alert(1)&#62;');
    expect(html).toContain('metrics hold &#60;b&#62;bold&#60;/b&#62;');
    expect(html).toContain(state.evidenceDigest!);
  });

  (chromium ? it : it.skip)('report.pdf is printed by Chromium: pages counted, its title names the promotion, its text read back', async () => {
    const pdf = Buffer.from(pack.files.get('report.pdf')!);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const pages = pdf.toString('latin1').match(/\/Type\s*\/Page(?![a-zA-Z])/g) ?? [];
    expect(pages.length).toBeGreaterThanOrEqual(2);
    expect(pdf.toString('latin1')).toContain(`/Title (Evidence pack ${id})`);
    // scripts/test.sh installs poppler-utils beside Chromium (scripts/chromium.sh).
    const pdftotext = ['/usr/bin/pdftotext', '/usr/local/bin/pdftotext'].find((p) => existsSync(p));
    expect(pdftotext).toBeDefined();
    if (pdftotext) {
      const dir = await mkdtemp(path.join(tmpdir(), 'evidence-pdf-'));
      try {
        await writeFile(path.join(dir, 'r.pdf'), pdf);
        const extracted = execFileSync(pdftotext, [path.join(dir, 'r.pdf'), '-'], { encoding: 'utf8' });
        expect(extracted).toContain('Risk management system');
        expect(extracted).toContain('<script>alert');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  });

  it('without EVIDENCE_CHROMIUM the pack has no report.pdf and its manifest says so', async () => {
    const plain = buildTestApp({ client: h.client, pool: h.pool, policy: h.policy, taskQueue: h.config.temporal.taskQueue });
    const { res, files } = await fetchPack('bo', plain);
    expect(res.status).toBe(200);
    expect(files.has('report.pdf')).toBe(false);
    expect(json(files, 'manifest.json').pdf).toEqual({ included: false, reason: expect.stringMatching(/EVIDENCE_CHROMIUM/) });
    expect(json(files, 'manifest.json').files).not.toContain('report.pdf');
  });

  it('each export is recorded in the audit archive with who exported it and the digest; an unknown promotion is 404, no token 401', async () => {
    const rows = await readAuditArchive(h.pool, `evidence:${id}`);
    expect(rows.map((r) => r.action).every((a) => a === 'evidence_exported')).toBe(true);
    expect(verifyChain(rows).ok).toBe(true);
    const mine = rows.find((r) => r.detail.digest === sha256(pack.files.get('SHA256SUMS')!));
    expect(mine).toMatchObject({ actor: 'rita', detail: { promotionId: id, digestOf: 'SHA256SUMS', roles: people.rita.roles } });
    const listed = await request(app).get(promotionPath(id, 'evidence/exports')).set('authorization', await bearer('sam'));
    expect(listed.status).toBe(200);
    expect(listed.body.exports.map((e: { actor: string }) => e.actor)).toEqual(expect.arrayContaining(['olivia', 'rita']));
    expect(listed.body.verification.ok).toBe(true);

    expect((await request(app).get(promotionPath('promote:none:1:production', 'evidence')).set('authorization', await bearer('rita'))).status).toBe(404);
    expect((await request(app).get(promotionPath(id, 'evidence'))).status).toBe(401);
  });

  it('a promotion Temporal no longer holds is packed from the audit archive', async () => {
    const ghost = 'promote:ghost:1.0.0:production';
    const policy = `${h.policy.policy.name}@${h.policy.policy.version}`;
    const digest = 'e'.repeat(64);
    await archiveAuditRecords(h.pool, ghost, [
      { occurredAt: '2026-01-01T00:00:00.000Z', actor: 'sam', action: 'submitted', detail: { policy, policyDigest: h.policy.digest, declaredTier: 'medium', effectiveTier: 'medium', policyVersion: h.policy.policy.version } },
      { occurredAt: '2026-01-01T00:01:00.000Z', actor: 'modelgate', action: 'checks_completed', detail: { evidenceDigest: digest, results: { integrity: 'pass', security: 'warn' } } },
      { occurredAt: '2026-01-01T00:02:00.000Z', actor: 'rita', action: 'decision_approve', detail: { gate: 'technical', comment: 'fine', evidenceDigest: digest } },
      { occurredAt: '2026-01-01T00:03:00.000Z', actor: 'modelgate', action: 'deployed', detail: { reason: 'deployed' } },
    ]);
    const res = await request(app).get(promotionPath(ghost, 'evidence')).set('authorization', await bearer('lee')).buffer(true).parse(binary);
    expect(res.status).toBe(200);
    const files = unzipPack(new Uint8Array(res.body as Buffer));
    expect(json(files, 'manifest.json')).toMatchObject({
      promotionId: ghost,
      source: 'archive',
      status: 'DEPLOYED',
      submitter: 'sam',
      evidenceDigest: digest,
      policy: { name: h.policy.policy.name, recordedDigest: h.policy.digest, digestMatches: true },
      auditChain: { source: 'archive', ok: true, events: 4 },
    });
    expect(json(files, 'checks.json').map((c: { name: string; status: string }) => [c.name, c.status])).toEqual([['integrity', 'pass'], ['security', 'warn']]);
    expect(json(files, 'decisions.json')).toEqual([expect.objectContaining({ actor: 'rita', gate: 'technical', decision: 'approve', comment: 'fine', evidenceDigest: digest })]);
    expect(json(files, 'model-card.json').kind).toBe('unavailable');
  });

  it('modelgate evidence writes the pack unpacked and its zip; evidence verify passes it and detects a changed byte', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'evidence-cli-'));
    try {
      const env = { MODELGATE_URL: url, MODELGATE_TOKEN: await token('lee') };
      const out = path.join(dir, 'pack');
      const fetched = await cli(['evidence', id, '--out', out], env);
      expect(fetched.stderr).toBe('');
      expect(fetched.code).toBe(0);
      expect(fetched.stdout).toMatch(/digest [0-9a-f]{64}/);
      const written = (await readdir(out)).sort();
      expect(written).toEqual(json(unzipPack(new Uint8Array(await readFile(`${out}.zip`))), 'manifest.json').files);

      const verified = await cli(['evidence', 'verify', out, '--json'], env);
      expect(verified.code).toBe(0);
      expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, promotionId: id, recorded: true, recordedBy: { actor: 'lee' }, sums: { ok: true } });
      expect((await cli(['evidence', 'verify', `${out}.zip`], env)).code).toBe(0);

      const checks = path.join(out, 'checks.json');
      const bytes = await readFile(checks);
      bytes[10] = bytes[10]! ^ 0x01;
      await writeFile(checks, bytes);
      const tampered = await cli(['evidence', 'verify', out], env);
      expect(tampered.code).toBe(1);
      expect(tampered.stdout).toMatch(/NOT VERIFIED/);
      expect(tampered.stdout).toMatch(/altered\s+checks\.json/);

      // Recomputing SHA256SUMS to match does not help: the audit archive records no such digest.
      const sums = (await readFile(path.join(out, 'SHA256SUMS'), 'utf8')).replace(/^[0-9a-f]{64}(?= {2}checks\.json$)/m, sha256(bytes));
      await writeFile(path.join(out, 'SHA256SUMS'), sums);
      const resummed = await cli(['evidence', 'verify', out, '--json'], env);
      expect(resummed.code).toBe(1);
      expect(JSON.parse(resummed.stdout)).toMatchObject({ ok: false, recorded: false, sums: { ok: true } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

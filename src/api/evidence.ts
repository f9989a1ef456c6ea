// `GET /v1/promotions/{id}/evidence` (the evidence pack, a zip) and `GET …/evidence/exports` (the
// packs exported so far, from the audit archive): docs/api.md#evidence-packs.
import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { Router } from 'express';
import { z } from 'zod';
import { archiveAuditRecords, readAuditArchive } from '../audit/archive';
import { type ChainedAuditRecord, chainRecords, verifyChain } from '../audit/chain';
import { auditRecordOf, renderAuditEvent, summarizeArchivedPromotion } from '../audit/timeline';
import { buildEvidencePack, zipPack } from '../evidence/bundle';
import type { EvidenceInput, EvidencePolicy } from '../evidence/contents';
import { printPdf } from '../evidence/pdf';
import type { ApiServices } from './app';
import { ApiError } from './errors';
import { BEARER, errorResponses, json, promotionIdParams } from './openapi-parts';
import { readPromotionState } from './promotion-reads';
import { actorOf, parseInput } from './request';
import { PromotionIdSchema } from './schemas';

/** The audit archive's chain of a promotion's evidence exports (`audit_events.promotion_id`). */
export const evidenceAuditId = (promotionId: string) => `evidence:${promotionId}`;

/** Action of the audit record of an export. */
export const EVIDENCE_EXPORTED = 'evidence_exported';

/** What the evidence routes need. */
export type EvidenceRoutesDeps = Pick<ApiServices, 'client' | 'pool' | 'policies' | 'workerAnswerTimeoutMs' | 'evidenceChromium' | 'auditSealer'>;

/** The policy a promotion ran under, with the text this API loads under that name now. */
async function policyOf(deps: EvidenceRoutesDeps, recorded: { name: string; version: string; digest?: string } | undefined): Promise<EvidencePolicy> {
  if (!recorded) return { name: 'unknown', version: 'unknown' };
  const loaded = [...deps.policies.values()].find((p) => p.policy.name === recorded.name);
  const base = { name: recorded.name, version: recorded.version, ...(recorded.digest ? { recordedDigest: recorded.digest } : {}) };
  if (!loaded) return base;
  const bytes = await readFile(loaded.file).catch(() => undefined);
  if (!bytes) return base;
  return { ...base, current: { text: bytes.toString('utf8'), digest: createHash('sha256').update(bytes).digest('hex'), file: loaded.file, version: loaded.policy.version } };
}

/** Gathers what a promotion's evidence pack is built from: Temporal's state while it holds the promotion, else the audit archive. */
async function gatherEvidence(deps: EvidenceRoutesDeps, promotionId: string, exportedBy: EvidenceInput['exportedBy']): Promise<EvidenceInput> {
  const state = await readPromotionState(deps.client, promotionId, deps.workerAnswerTimeoutMs);
  const archivedRows = await readAuditArchive(deps.pool, promotionId);
  const exportedAt = new Date().toISOString();
  if (state) {
    const policyVersion = state.policy.version;
    const records = state.timeline.map((entry) => auditRecordOf(entry, policyVersion));
    // Until the promotion closes its trail is not archived: the chain is computed from its timeline as the archive will hold it.
    const chainSource = archivedRows.length > 0 ? 'archive' : 'timeline';
    const chain = chainSource === 'archive' ? archivedRows : chainRecords(promotionId, records);
    return {
      promotionId,
      state,
      events: records.map((r) => renderAuditEvent(r, policyVersion)),
      chain,
      chainSource,
      verification: verifyChain(chain),
      policy: await policyOf(deps, state.policy),
      exportedBy,
      exportedAt,
    };
  }
  if (archivedRows.length === 0) throw new ApiError('not_found', `no promotion ${promotionId} in Temporal or in the audit archive`);
  const archived = summarizeArchivedPromotion(promotionId, archivedRows);
  const policyVersion = archived.policy?.version ?? '';
  return {
    promotionId,
    archived,
    events: archivedRows.map((r) => renderAuditEvent(r, policyVersion)),
    chain: archivedRows,
    chainSource: 'archive',
    verification: verifyChain(archivedRows),
    policy: await policyOf(deps, archived.policy),
    exportedBy,
    exportedAt,
  };
}

/** One export as `GET …/evidence/exports` lists it. */
function exportOfRecord(r: ChainedAuditRecord) {
  return { seq: r.seq, at: r.occurredAt, actor: r.actor, digest: r.detail.digest, files: r.detail.files, pdf: r.detail.pdf, hash: r.hash };
}

/** Builds the evidence routes (mounted on `/v1/promotions`; any signed-in caller may read them, as the promotion itself). */
export function evidenceRoutes(deps: EvidenceRoutesDeps): Router {
  const router = Router();
  const chromium = deps.evidenceChromium;

  router.get('/:id/evidence', async (req, res) => {
    const actor = actorOf(res);
    const promotionId = parseInput(PromotionIdSchema, req.params.id, 'path');
    const input = await gatherEvidence(deps, promotionId, actor);
    const pack = await buildEvidencePack(input, chromium ? (html) => printPdf(chromium, html) : undefined);
    const zip = zipPack(pack.files, new Date(input.exportedAt));
    await archiveAuditRecords(
      deps.pool,
      evidenceAuditId(promotionId),
      [
        {
          occurredAt: input.exportedAt,
          actor: actor.id,
          action: EVIDENCE_EXPORTED,
          detail: { promotionId, roles: actor.roles, digest: pack.digest, digestOf: 'SHA256SUMS', files: [...pack.files.keys()], pdf: pack.files.has('report.pdf') },
        },
      ],
      randomUUID(),
      deps.auditSealer,
    );
    const fileName = `evidence-${promotionId.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 200)}.zip`;
    res
      .status(200)
      .type('application/zip')
      .set('Content-Disposition', `attachment; filename="${fileName}"`)
      .set('X-Evidence-Digest', pack.digest)
      .set('Cache-Control', 'no-store')
      .send(Buffer.from(zip));
  });

  router.get('/:id/evidence/exports', async (req, res) => {
    const promotionId = parseInput(PromotionIdSchema, req.params.id, 'path');
    const rows = await readAuditArchive(deps.pool, evidenceAuditId(promotionId));
    res.json({ promotionId, exports: rows.filter((r) => r.action === EVIDENCE_EXPORTED).map(exportOfRecord), verification: verifyChain(rows) });
  });

  return router;
}

/** Registers the evidence routes in the OpenAPI document. */
export function registerEvidencePaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'get',
    path: '/v1/promotions/{id}/evidence',
    summary: 'The evidence pack for auditors (zip: manifest, model card, checks, decisions, policy, audit chain and its verification, report.html/.pdf, SHA256SUMS); the export is recorded in the audit archive under evidence:<id>',
    security: BEARER,
    request: { params: promotionIdParams },
    responses: {
      200: {
        description: 'the pack; header `X-Evidence-Digest` is the sha256 of its SHA256SUMS',
        content: { 'application/zip': { schema: z.string().meta({ format: 'binary' }) } },
      },
      ...errorResponses(404),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/promotions/{id}/evidence/exports',
    summary: "The promotion's evidence packs exported so far (who, when, digest), from the audit archive, with the chain's verification",
    security: BEARER,
    request: { params: promotionIdParams },
    responses: {
      200: {
        description: 'the exports, oldest first, and the verification of their hash chain',
        content: json(
          z.object({
            promotionId: z.string(),
            exports: z.array(
              z.object({
                seq: z.number().int(),
                at: z.string(),
                actor: z.string(),
                digest: z.string().describe('sha256 of the pack’s SHA256SUMS'),
                files: z.array(z.string()),
                pdf: z.boolean(),
                hash: z.string(),
              }),
            ),
            verification: z.object({ ok: z.boolean(), events: z.number().int() }).passthrough(),
          }),
        ),
      },
      ...errorResponses(),
    },
  });
}

// The webhook deployment provider: a signed, idempotent POST to an HTTP deployer.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ResolvedWebhookDeployment } from '../policy/resolved';
import type { DeploymentOutcome, DeploymentRequest } from '../shared/deployment';

/** Header carrying `sha256=<hex HMAC-SHA256 of the raw body>`. */
export const SIGNATURE_HEADER = 'X-Modelgate-Signature';

/** The signature header's value for a body. */
export function signWebhookBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Checks a signature header against a body in constant time. */
export function verifyWebhookSignature(secret: string, body: string | Buffer, header: string | undefined): boolean {
  return sameSignature(signWebhookBody(secret, body), header);
}

/** Header of a deployer's completion report: when it was signed, in Unix seconds. */
export const TIMESTAMP_HEADER = 'X-Modelgate-Timestamp';
/** How far a report's timestamp may be from the API's clock, in seconds. */
export const REPORT_REPLAY_WINDOW_SECONDS = 300;

/**
 * The signature header's value for a deployer's completion report: HMAC-SHA256 over
 * `<timestamp>.<deploymentId>.<raw body>`, so that a report is bound to its time and to the
 * deployment the promotion awaits (an old report, or one for an earlier run, does not verify).
 */
export function signDeploymentReport(secret: string, timestamp: string, deploymentId: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${deploymentId}.`).update(body).digest('hex')}`;
}

/**
 * Why a completion report is refused (`undefined` when its timestamp is within
 * {@link REPORT_REPLAY_WINDOW_SECONDS} and its signature matches), checked in constant time.
 */
export function deploymentReportProblem(
  secret: string,
  report: { timestamp: string | undefined; deploymentId: string; body: string | Buffer; signature: string | undefined },
  nowMs = Date.now(),
): string | undefined {
  const { timestamp } = report;
  if (!timestamp || !/^\d{1,12}$/.test(timestamp.trim())) return `missing or malformed ${TIMESTAMP_HEADER} (Unix seconds)`;
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > REPORT_REPLAY_WINDOW_SECONDS) {
    return `${TIMESTAMP_HEADER} is outside the replay window of ${REPORT_REPLAY_WINDOW_SECONDS}s`;
  }
  if (!sameSignature(signDeploymentReport(secret, timestamp.trim(), report.deploymentId, report.body), report.signature)) {
    return `missing or wrong ${SIGNATURE_HEADER} (HMAC-SHA256 of "<timestamp>.<deploymentId>.<body>" with the deployer's key, for the deployment the promotion awaits)`;
  }
  return undefined;
}

function sameSignature(expectedValue: string, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(expectedValue);
  const given = Buffer.from(header.trim());
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** The deployer answered with a status that retrying will not change (a 4xx other than 408, 425, 429). */
export class DeploymentRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeploymentRefusedError';
  }
}

/** The JSON body of a deployment request (identical on every retry, so the signature is too). */
export function webhookDeploymentBody(request: DeploymentRequest, kind: 'deploy' | 'cancel'): string {
  return JSON.stringify({
    deploymentId: request.deploymentId,
    action: kind === 'cancel' ? 'cancel' : request.action,
    promotionId: request.promotionId,
    model: request.model,
    version: request.version,
    environment: request.environment,
    digest: request.artifact.sha256,
    artifactUri: request.artifact.uri,
    artifactFormat: request.artifact.format,
    ...(request.artifact.verifiedUri ? { verifiedArtifactUri: request.artifact.verifiedUri } : {}),
    ...(request.previousVersion ? { previousVersion: request.previousVersion } : {}),
    ...(request.callbackUrl && kind === 'deploy' ? { callbackUrl: request.callbackUrl } : {}),
  });
}

const RETRYABLE_CLIENT_ERRORS = new Set([408, 425, 429]);

/**
 * Sends one deployment request (or its cancellation) and classifies the answer.
 * The `Idempotency-Key` is the deployment id (`…:cancel` for a cancellation), so a deployer
 * that honours it deploys once however often a request is retried.
 *
 * @throws {DeploymentRefusedError} on a 4xx that retrying will not change.
 * @throws {Error} on network failures, time-outs and other statuses (worth retrying).
 */
export async function sendWebhookDeployment(
  config: ResolvedWebhookDeployment,
  secret: string,
  request: DeploymentRequest,
  kind: 'deploy' | 'cancel' = 'deploy',
): Promise<DeploymentOutcome> {
  const body = webhookDeploymentBody(request, kind);
  const response = await fetch(config.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'idempotency-key': kind === 'cancel' ? `${request.deploymentId}:cancel` : request.deploymentId,
      [SIGNATURE_HEADER]: signWebhookBody(secret, body),
      'user-agent': 'modelgate-deployer',
    },
    body,
    signal: AbortSignal.timeout(config.requestTimeoutMs),
  });
  const text = await response.text().catch(() => '');
  const excerpt = text.slice(0, 300);
  if (response.ok) {
    const reference = referenceOf(text);
    const accepted = kind === 'deploy' && config.completion === 'callback' && response.status === 202;
    return {
      provider: 'webhook',
      status: accepted ? 'accepted' : 'deployed',
      ...(reference ? { reference } : {}),
      detail: `${config.url} answered ${response.status}${accepted ? ' (accepted; completion will be reported)' : ''}`,
    };
  }
  const message = `${config.url} answered ${response.status}${excerpt ? `: ${excerpt}` : ''}`;
  if (response.status >= 400 && response.status < 500 && !RETRYABLE_CLIENT_ERRORS.has(response.status)) {
    throw new DeploymentRefusedError(message);
  }
  throw new Error(message);
}

function referenceOf(text: string): string | undefined {
  try {
    const parsed = JSON.parse(text) as { id?: unknown; reference?: unknown };
    const value = parsed.reference ?? parsed.id;
    return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
  } catch {
    return undefined;
  }
}

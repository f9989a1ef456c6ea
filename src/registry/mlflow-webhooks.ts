// MLflow's registry webhooks as Modelgate receives them: the signature scheme (X-MLflow-Signature
// v1), the timestamp window, the deliveries already accepted (PostgreSQL), and the events that
// matter (a version created or tagged, an alias set).
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Pool } from 'pg';
import { z } from 'zod';

/** MLflow's webhook headers. */
export const MLFLOW_SIGNATURE_HEADER = 'X-MLflow-Signature';
export const MLFLOW_TIMESTAMP_HEADER = 'X-MLflow-Timestamp';
export const MLFLOW_DELIVERY_ID_HEADER = 'X-MLflow-Delivery-Id';

/** How far a delivery's timestamp may be from the API's clock, in seconds (both ways). */
export const MLFLOW_WEBHOOK_WINDOW_SECONDS = 300;

/** MLflow's v1 signature: `v1,` + base64 HMAC-SHA256 of `<delivery id>.<timestamp>.<body>`. */
export function signMlflowDelivery(secret: string, deliveryId: string, timestamp: string, body: string | Buffer): string {
  const mac = createHmac('sha256', secret).update(`${deliveryId}.${timestamp}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

/**
 * Why a delivery is refused (missing or malformed headers, a timestamp outside the window, a
 * wrong signature), or undefined when it is MLflow's. Names the problem, echoes nothing.
 */
export function mlflowDeliveryProblem(
  secret: string,
  delivery: { deliveryId: string | undefined; timestamp: string | undefined; signature: string | undefined; body: Buffer },
  nowMs = Date.now(),
): string | undefined {
  const { deliveryId, timestamp, signature } = delivery;
  if (!deliveryId || !/^[A-Za-z0-9-]{1,64}$/.test(deliveryId)) return `missing or malformed ${MLFLOW_DELIVERY_ID_HEADER}`;
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) return `missing or malformed ${MLFLOW_TIMESTAMP_HEADER} (Unix seconds)`;
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > MLFLOW_WEBHOOK_WINDOW_SECONDS) return `${MLFLOW_TIMESTAMP_HEADER} is outside the window of ${MLFLOW_WEBHOOK_WINDOW_SECONDS}s`;
  if (!signature) return `missing ${MLFLOW_SIGNATURE_HEADER}`;
  const expected = Buffer.from(signMlflowDelivery(secret, deliveryId, timestamp, delivery.body));
  // MLflow may send several space-separated signatures (key rotation): any valid v1 one counts.
  const valid = signature
    .split(' ')
    .slice(0, 8)
    .some((given) => {
      const bytes = Buffer.from(given.trim());
      return bytes.length === expected.length && timingSafeEqual(bytes, expected);
    });
  return valid ? undefined : `wrong ${MLFLOW_SIGNATURE_HEADER} (v1: HMAC-SHA256 of "<delivery id>.<timestamp>.<body>" with the webhook's secret)`;
}

const name = z.string().min(1).max(256);
const version = z.string().regex(/^[1-9][0-9]{0,9}$/);

/** The events Modelgate acts on; others are acknowledged and ignored. */
export const MlflowWebhookEventSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('model_version.created'), name, version, tags: z.record(z.string().max(1_000), z.string().max(10_000)).default({}) }),
  z.object({ kind: z.literal('model_version_tag.set'), name, version, key: z.string().max(1_000), value: z.string().max(10_000) }),
  z.object({ kind: z.literal('model_version_alias.created'), name, version, alias: z.string().min(1).max(256) }),
]);

/** A webhook event Modelgate acts on. */
export type MlflowWebhookEvent = z.infer<typeof MlflowWebhookEventSchema>;

/**
 * Reads MLflow's webhook body (`{ entity, action, timestamp, data }`): the event Modelgate acts on,
 * `ignored` for other events, or undefined when the body does not have MLflow's shape.
 */
export function parseMlflowWebhook(body: unknown): MlflowWebhookEvent | 'ignored' | undefined {
  const envelope = z.object({ entity: z.string().max(64), action: z.string().max(64), data: z.record(z.string(), z.unknown()) }).safeParse(body);
  if (!envelope.success) return undefined;
  const kind = `${envelope.data.entity}.${envelope.data.action}`;
  if (kind !== 'model_version.created' && kind !== 'model_version_tag.set' && kind !== 'model_version_alias.created') return 'ignored';
  const parsed = MlflowWebhookEventSchema.safeParse({ ...envelope.data.data, kind });
  return parsed.success ? parsed.data : undefined;
}

/**
 * Remembers a delivery id; false when it was accepted before (a replay). Ids older than twice the
 * window are forgotten (their timestamps can no longer pass the window).
 */
export async function rememberMlflowDelivery(pool: Pool, deliveryId: string): Promise<boolean> {
  await pool.query(`DELETE FROM mlflow_webhook_deliveries WHERE received_at < now() - make_interval(secs => $1)`, [MLFLOW_WEBHOOK_WINDOW_SECONDS * 2]);
  const inserted = await pool.query('INSERT INTO mlflow_webhook_deliveries (delivery_id) VALUES ($1) ON CONFLICT (delivery_id) DO NOTHING', [deliveryId]);
  return inserted.rowCount === 1;
}

/** Forgets a delivery id that was remembered but not handled, so that MLflow's retry of it is handled. */
export async function forgetMlflowDelivery(pool: Pool, deliveryId: string): Promise<void> {
  await pool.query('DELETE FROM mlflow_webhook_deliveries WHERE delivery_id = $1', [deliveryId]);
}

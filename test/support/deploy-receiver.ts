import { createHmac, timingSafeEqual } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SIGNATURE_HEADER, signDeploymentReport, TIMESTAMP_HEADER } from '../../src/deployment/webhook';

/** One request the receiver took. */
export interface ReceivedDeployment {
  idempotencyKey: string;
  signatureValid: boolean;
  body: Record<string, unknown>;
  answered: number;
}

/**
 * A deployer's misbehaviour for one delivery: answer a 5xx without deploying; deploy, then hold the
 * answer for `holdMs` (longer than the caller waits: the deployment happened, the answer is lost);
 * or deploy and answer after `delayMs` (slow, within the caller's time-out).
 */
export type DeployerFault = { kind: 'fail'; status: number } | { kind: 'timeout'; holdMs: number } | { kind: 'slow'; delayMs: number };

/** One line of the delivery log: every request the receiver took, as it took it (JSON Lines). */
export interface DeliveryLogLine {
  at: string;
  idempotencyKey: string;
  promotionId: string;
  signatureValid: boolean;
  /** The misbehaviour chosen for this delivery, if any. */
  fault?: DeployerFault['kind'];
  /** The status answered (for a time-out: the status sent after the caller stopped waiting). */
  answered: number;
  /** This delivery carried out the deployment (the first applied delivery of its key). */
  applied: boolean;
  /** Its key had been delivered before. */
  repeat: boolean;
}

/** How the receiver answers the next requests (changeable during a test). */
export interface ReceiverBehaviour {
  /** Answer 503 to the first N signed requests. */
  failFirst?: number;
  /** Answer this status to every request. */
  alwaysStatus?: number;
  /** Answer 202 (asynchronous deployer) instead of 200. */
  accept?: boolean;
  /** Hold the first request of each key this long before answering (worker-kill tests). */
  holdFirstMs?: number;
  /** Chooses a misbehaviour for each signed delivery (none: answer normally). */
  fault?: (delivery: { idempotencyKey: string; body: Record<string, unknown> }) => DeployerFault | undefined;
  /** Called once a deployment was answered 2xx (after the answer is sent). */
  onAnswered?: (delivery: { idempotencyKey: string; body: Record<string, unknown> }) => void;
}

/** Options of a receiver. */
export interface DeployReceiverOptions {
  /** Appends one {@link DeliveryLogLine} per request to this file, before answering. */
  deliveryLog?: string;
}

/**
 * A deployment receiver as a careful deployer is built: it checks the HMAC signature
 * independently of Modelgate's code, honours `Idempotency-Key` (a key seen before is answered
 * without deploying again) and counts everything.
 */
export class DeployReceiver {
  readonly requests: ReceivedDeployment[] = [];
  /** Bodies of requests as they arrive (before any answer). */
  readonly arrived: Array<Record<string, unknown>> = [];
  /** Deployments actually carried out, by idempotency key. */
  readonly deployed = new Map<string, Record<string, unknown>>();
  behaviour: ReceiverBehaviour = {};
  private server?: Server;
  private failuresLeft = 0;
  private readonly held = new Set<string>();

  private readonly delivered = new Set<string>();

  constructor(
    readonly secret: string,
    private readonly options: DeployReceiverOptions = {},
  ) {}

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/deploy`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  setBehaviour(behaviour: ReceiverBehaviour): void {
    this.behaviour = behaviour;
    this.failuresLeft = behaviour.failFirst ?? 0;
  }

  /** Signs a body as Modelgate signs deployment requests (HMAC of the body). */
  sign(body: string): string {
    return `sha256=${createHmac('sha256', this.secret).update(body).digest('hex')}`;
  }

  /**
   * The headers of a completion report as the deployer signs it: the timestamp (default now) and
   * the HMAC of `<timestamp>.<deploymentId>.<body>`.
   */
  reportHeaders(body: string, deploymentId: string, timestamp = Math.floor(Date.now() / 1000)): Record<string, string> {
    return {
      'content-type': 'application/json',
      [TIMESTAMP_HEADER]: String(timestamp),
      [SIGNATURE_HEADER]: signDeploymentReport(this.secret, String(timestamp), deploymentId, body),
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const expected = Buffer.from(this.sign(raw.toString('utf8')));
    const given = Buffer.from(String(req.headers['x-modelgate-signature'] ?? ''));
    const signatureValid = expected.length === given.length && timingSafeEqual(expected, given);
    const key = String(req.headers['idempotency-key'] ?? '');
    const body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
    this.arrived.push(body);
    const repeat = this.delivered.has(key);
    this.delivered.add(key);
    const logDelivery = (answered: number, applied: boolean, fault?: DeployerFault['kind']) => {
      if (!this.options.deliveryLog) return;
      const line: DeliveryLogLine = {
        at: new Date().toISOString(),
        idempotencyKey: key,
        promotionId: String(body.promotionId ?? ''),
        signatureValid,
        ...(fault ? { fault } : {}),
        answered,
        applied,
        repeat,
      };
      appendFileSync(this.options.deliveryLog, `${JSON.stringify(line)}\n`);
    };
    const answer = (status: number, payload: unknown, fault?: DeployerFault['kind']) => {
      this.requests.push({ idempotencyKey: key, signatureValid, body, answered: status });
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
      if (status < 300 && !fault) this.behaviour.onAnswered?.({ idempotencyKey: key, body });
    };
    const reject = (status: number, payload: unknown, fault?: DeployerFault['kind']) => {
      logDelivery(status, false, fault);
      answer(status, payload, fault);
    };
    if (!signatureValid) return reject(401, { error: 'bad signature' });
    if (this.behaviour.alwaysStatus) return reject(this.behaviour.alwaysStatus, { error: 'deployer says no' });
    if (this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      return reject(503, { error: 'deployer busy' });
    }
    const fault = this.behaviour.fault?.({ idempotencyKey: key, body });
    if (fault?.kind === 'fail') return reject(fault.status, { error: 'deployer failed' }, 'fail');
    if (this.behaviour.holdFirstMs && !this.held.has(key)) {
      this.held.add(key);
      await new Promise((r) => setTimeout(r, this.behaviour.holdFirstMs));
    }
    const applied = !this.deployed.has(key);
    if (applied) this.deployed.set(key, body);
    const status = this.behaviour.accept ? 202 : 200;
    logDelivery(status, applied, fault?.kind);
    if (fault?.kind === 'timeout' || fault?.kind === 'slow') {
      await new Promise((r) => setTimeout(r, fault.kind === 'timeout' ? fault.holdMs : fault.delayMs));
      if (res.destroyed) return;
    }
    answer(status, { id: `dep-${this.deployed.size}`, status: this.behaviour.accept ? 'accepted' : 'deployed' }, fault?.kind === 'timeout' ? 'timeout' : undefined);
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

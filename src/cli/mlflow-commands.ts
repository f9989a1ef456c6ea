// `modelgate mlflow connect`: registers Modelgate's webhook receiver on an MLflow tracking server
// (MLflow 3.x webhooks) for the events Modelgate acts on. The signing secret is read from an
// environment variable, sent to MLflow only, and never printed.
import type { Command } from 'commander';
import { createMlflowClient, MlflowError, parseTrackingUri } from '../sources/mlflow';
import { parseHosts } from '../sources/rules';
import { ApiExitCode } from './api-client';
import { err, out } from './api-command';

/** The events the webhook receiver acts on (a version created or tagged: promotions; an alias set: the alias guard). */
export const MLFLOW_WEBHOOK_EVENTS = [
  { entity: 'model_version', action: 'created' },
  { entity: 'model_version_tag', action: 'set' },
  { entity: 'model_version_alias', action: 'created' },
] as const;

/** Options of `mlflow connect`. */
export interface MlflowConnectFlags {
  trackingUri: string;
  url: string;
  secretEnv: string;
  tokenEnv?: string;
  name: string;
}

/** Shortest secret accepted: the API's MLFLOW_WEBHOOK_SECRET has the same bound. */
const MIN_SECRET_LENGTH = 16;

/** Creates the webhook; exit 0 with its id, 2 on a bad command line, 1 when MLflow refuses or cannot be reached. */
export async function runMlflowConnect(flags: MlflowConnectFlags): Promise<number> {
  let trackingUri: string;
  try {
    trackingUri = parseTrackingUri(flags.trackingUri);
  } catch (e) {
    err(`modelgate: --tracking-uri: ${(e as Error).message.replace('MLFLOW_TRACKING_URI ', '')}\n`);
    return ApiExitCode.usage;
  }
  let receiver: URL | undefined;
  try {
    receiver = new URL(flags.url);
  } catch {
    receiver = undefined;
  }
  if (!receiver || (receiver.protocol !== 'https:' && receiver.protocol !== 'http:') || receiver.username || receiver.password) {
    err('modelgate: --url must be the http(s) URL of the API\'s webhook receiver, without credentials (e.g. https://modelgate.example.com/v1/mlflow/webhooks)\n');
    return ApiExitCode.usage;
  }
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(flags.secretEnv)) {
    err('modelgate: --secret-env names an environment variable (e.g. MLFLOW_WEBHOOK_SECRET)\n');
    return ApiExitCode.usage;
  }
  const secret = process.env[flags.secretEnv];
  if (!secret || secret.length < MIN_SECRET_LENGTH) {
    err(`modelgate: the environment variable ${flags.secretEnv} must hold the webhook secret (at least ${MIN_SECRET_LENGTH} characters, the API's MLFLOW_WEBHOOK_SECRET)\n`);
    return ApiExitCode.usage;
  }
  const token = flags.tokenEnv ? process.env[flags.tokenEnv] : undefined;
  const client = createMlflowClient(
    { trackingUri, ...(token ? { token } : {}) },
    // Nothing is downloaded: the download bounds only have to be valid.
    { roots: [], hosts: parseHosts(''), maxArtifactBytes: 0, maxDocumentBytes: 0, httpTotalTimeoutMs: 30_000, httpIdleTimeoutMs: 30_000, maxRedirects: 0 },
  );
  try {
    const id = await client.createWebhook({
      name: flags.name,
      url: receiver.toString(),
      events: MLFLOW_WEBHOOK_EVENTS.map((e) => ({ ...e })),
      secret,
      description: 'Modelgate: promotions of tagged versions and the guard of governed aliases',
    });
    out(`webhook ${id} created on ${trackingUri}: ${MLFLOW_WEBHOOK_EVENTS.map((e) => `${e.entity}.${e.action}`).join(', ')} → ${receiver.toString()}\n`);
    return ApiExitCode.ok;
  } catch (e) {
    const reason = e instanceof MlflowError ? e.message : 'the webhook could not be created';
    err(`modelgate: ${reason}${e instanceof MlflowError && e.code === 'INVALID_PARAMETER_VALUE' ? ' (MLflow refuses plain-http and private-address targets unless MLFLOW_WEBHOOK_ALLOWED_SCHEMES and MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS allow them on the server)' : ''}\n`);
    return ApiExitCode.failed;
  }
}

/** Registers `modelgate mlflow connect`. */
export function registerMlflowCommands(program: Command, setExitCode: (code: number) => void): void {
  const mlflow = program.command('mlflow').description('the MLflow Model Registry: webhooks');
  mlflow
    .command('connect')
    .description('create the webhook on an MLflow tracking server that sends model_version.created, model_version_tag.set and model_version_alias.created to Modelgate')
    .requiredOption('--tracking-uri <uri>', 'the MLflow tracking server (http(s)://host[:port][/prefix])')
    .requiredOption('--url <url>', "the API's webhook receiver (…/v1/mlflow/webhooks), as MLflow reaches it")
    .requiredOption('--secret-env <variable>', "environment variable holding the signing secret (the API's MLFLOW_WEBHOOK_SECRET); never printed")
    .option('--token-env <variable>', 'environment variable holding a bearer token for the tracking server, when it asks for one')
    .option('--name <name>', 'the webhook\'s name on the tracking server', 'modelgate')
    .action(async (flags: MlflowConnectFlags) => setExitCode(await runMlflowConnect(flags)));
}

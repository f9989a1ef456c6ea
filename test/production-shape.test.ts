import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { API_ONLY_VARIABLES, EnvironmentSchema } from '../src/config';
import { SearchAttributes } from '../src/shared/search-attributes';
import { WORKER_NODE_FLAGS } from '../src/worker-node-flags';

const root = path.resolve(__dirname, '..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

interface ComposeService {
  image?: string;
  ports?: string[];
  profiles?: string[];
  secrets?: Array<string | { source: string; target?: string }>;
  healthcheck?: { test?: string[] };
  build?: string;
  command?: string[] | string;
  environment?: Record<string, unknown>;
  volumes?: string[];
  deploy?: { replicas?: number | string };
}

/**
 * docker-compose.yml cannot run here (no Docker engine); these tests keep it consistent
 * with the local stack: same variables, same dynamic config, same search attributes,
 * and entry points that exist.
 */
describe('docker-compose.yml and Dockerfile (production shape)', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, ComposeService> };
  const services = compose.services;

  it('parses and has the services of the production shape', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['api', 'checks-worker', 'migrate', 'mlflow', 'postgresql', 'temporal', 'temporal-setup', 'temporal-ui', 'worker'].sort(),
    );
    // MLflow is optional (its own profile), not part of what `docker compose up` starts.
    expect(services.mlflow!.profiles).toEqual(['mlflow']);
  });

  it('pins the Temporal server to the version line the pinned CLI embeds', () => {
    const pinned = /TEMPORAL_CLI_VERSION="\$\{TEMPORAL_CLI_VERSION:-(v[\d.]+)\}"/.exec(read('temporal/install.sh'))?.[1];
    expect(pinned).toBeDefined();
    expect(read('Dockerfile')).toContain(`ARG TEMPORAL_CLI_VERSION=${pinned}`);
    const cli = path.join(root, '.tools', 'bin', 'temporal');
    const serverImage = services.temporal!.image!;
    expect(serverImage).toMatch(/^temporalio\/auto-setup:\d+\.\d+\.\d+$/);
    if (existsSync(cli)) {
      const embedded = /Server (\d+\.\d+)\.\d+/.exec(execFileSync(cli, ['--version']).toString())?.[1];
      expect(serverImage.split(':')[1]!.startsWith(`${embedded}.`)).toBe(true);
    }
  });

  it('builds the same server release for the PostgreSQL test runs as docker-compose runs', () => {
    const built = /TEMPORAL_SERVER_VERSION="\$\{TEMPORAL_SERVER_VERSION:-v([\d.]+)\}"/.exec(read('temporal/install-server.sh'))?.[1];
    expect(built).toBeDefined();
    expect(services.temporal!.image).toBe(`temporalio/auto-setup:${built}`);
    // auto-setup's DB=postgres12 is the persistence plugin and schema the start script uses.
    expect(services.temporal!.environment!.DB).toBe('postgres12');
    const start = read('temporal/start-postgres-server.sh');
    expect(start).toContain('pluginName: postgres12');
    expect(start).toContain('schema/postgresql/v12/$schema/versioned');
    expect(start).toContain('temporal/dynamicconfig/modelgate.yaml');
  });

  it('the processes built from the Dockerfile name entry points that exist in the build', () => {
    for (const name of ['api', 'worker', 'checks-worker']) {
      const command = services[name]!.command as string[];
      expect(services[name]!.build).toBe('.');
      const entry = command.find((arg) => !arg.startsWith('-') && arg !== 'node')!;
      expect(entry).toMatch(/^dist\/.*\.js$/);
      const source = path.join(root, entry.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts'));
      expect(existsSync(source)).toBe(true);
    }
    expect(read('Dockerfile')).toContain('CMD ["node", "dist/api/server.js"]');
  });

  it('passes only variables the processes understand, and every one they require', () => {
    // Besides the configuration: the deployer webhook's signing secret the default policy names.
    const known = new Set([...Object.keys(EnvironmentSchema.shape), 'MODELGATE_DEPLOY_WEBHOOK_SECRET']);
    for (const name of ['api', 'worker', 'checks-worker', 'temporal-setup']) {
      const env = services[name]!.environment!;
      for (const key of Object.keys(env)) expect(known).toContain(key);
      expect(env.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgresql:5432\//);
      expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
    }
  });

  it('migrates as the owner in its own job; the worker and the API connect as the service role, each with its own audit key', () => {
    expect(services.migrate!.environment!.DATABASE_OWNER_URL).toMatch(/^postgres:\/\/modelgate:/);
    for (const name of ['api', 'worker']) {
      const env = services[name]!.environment!;
      expect(env.DATABASE_URL).toMatch(/^postgres:\/\/modelgate_app:/);
      expect(Object.keys(env)).not.toContain('DATABASE_OWNER_URL');
      expect(env.AUDIT_SIGNING_KEY_FILE).toEqual(expect.any(String));
      expect(env.AUDIT_CHECKPOINT_FILE).toEqual(expect.any(String));
    }
    expect(services.api!.environment!.AUDIT_SIGNING_KEY_FILE).not.toBe(services.worker!.environment!.AUDIT_SIGNING_KEY_FILE);
  });

  it('gives each process only its own secrets: the token key and dev sign-in to the API alone', () => {
    for (const name of API_ONLY_VARIABLES) {
      expect(Object.keys(services.worker!.environment!)).not.toContain(name);
      expect(Object.keys(services['temporal-setup']!.environment!)).not.toContain(name);
    }
    expect(Object.keys(services.api!.environment!)).toContain('AUTH_JWT_SECRET');
    expect(services.worker!.environment!.ARTIFACT_ROOTS).toBe('/artifacts');
    expect(services.worker!.volumes).toEqual(expect.arrayContaining([expect.stringMatching(/^artifact-store:/)]));
    // The checks worker: PostgreSQL, the artifacts and the store; no deployer secret, no API key.
    const checks = services['checks-worker']!.environment!;
    for (const name of [...API_ONLY_VARIABLES, 'MODELGATE_DEPLOY_WEBHOOK_SECRET']) expect(Object.keys(checks)).not.toContain(name);
    expect(services['checks-worker']!.volumes).toEqual(expect.arrayContaining([expect.stringMatching(/^artifact-store:/), './artifacts:/artifacts:ro']));
  });

  it('runs a promotions worker and a checks worker, and scales each process by replicas', () => {
    expect(services.worker!.environment!.WORKER_ROLE).toBe('promotions');
    expect(services['checks-worker']!.environment!.WORKER_ROLE).toBe('checks');
    for (const [name, variable] of [['api', 'API_REPLICAS'], ['worker', 'WORKER_REPLICAS'], ['checks-worker', 'CHECKS_WORKER_REPLICAS']] as const) {
      expect(String(services[name]!.deploy?.replicas)).toBe(`\${${variable}:-1}`);
    }
  });

  it("configures the Temporal UI's own OIDC sign-in against the API's issuer (operators are named people)", () => {
    const ui = services['temporal-ui']!.environment ?? {};
    expect(ui).toMatchObject({
      TEMPORAL_AUTH_ENABLED: expect.stringContaining('TEMPORAL_UI_AUTH_ENABLED'),
      TEMPORAL_AUTH_PROVIDER_URL: expect.stringContaining('OIDC_ISSUER'),
      TEMPORAL_AUTH_ISSUER_URL: expect.stringContaining('OIDC_ISSUER'),
      TEMPORAL_AUTH_CLIENT_ID: expect.any(String),
      TEMPORAL_AUTH_CLIENT_SECRET: expect.any(String),
      TEMPORAL_AUTH_CALLBACK_URL: expect.stringMatching(/\/auth\/sso\/callback$/),
    });
    expect(String(ui.TEMPORAL_AUTH_SCOPES).split(',')).toContain('openid');
    // the UI's client secret is the UI's alone
    for (const name of ['api', 'worker']) expect(Object.keys(services[name]!.environment ?? {})).not.toContain('TEMPORAL_UI_OIDC_CLIENT_SECRET');
  });

  describe('Temporal is a trust boundary: mTLS and the JWT authorizer, no port in the clear', () => {
    const temporal = services.temporal!;
    const mounts = (name: string) => (services[name]!.volumes ?? []).map((v) => v.split(':') as [string, string, string?]);

    it('publishes no Temporal port; the only published ports are the API and the UI (behind OIDC)', () => {
      expect(temporal.ports ?? []).toEqual([]);
      // The API's replicas (API_REPLICAS) take host ports from 8080 up.
      const published = Object.entries(services).flatMap(([name, s]) => (s.ports ?? []).map((p) => `${name} ${p}`));
      // The optional MLflow (no sign-in of its own here) is reachable from this machine only.
      expect(published.sort()).toEqual(['api 8080-8089:8080', 'mlflow 127.0.0.1:5000:5000', 'temporal-ui 8233:8080']);
      expect(String(services['temporal-ui']!.environment!.TEMPORAL_AUTH_ENABLED)).toBe('${TEMPORAL_UI_AUTH_ENABLED:-true}');
    });

    it('lays temporal/config/secure.yaml over the server config (the same file start-postgres-server.sh --secure uses), with the internal frontend', () => {
      expect(temporal.environment!.TEMPORAL_AVAILABILITY_ZONE).toBe('secure');
      expect(mounts('temporal')).toContainEqual(['./temporal/config/secure.yaml', '/etc/temporal/config/docker_secure.yaml', 'ro']);
      expect(String(temporal.environment!.SERVICES).split(':').sort()).toEqual(['frontend', 'history', 'internal-frontend', 'matching', 'worker']);
      const overlay = read('temporal/config/secure.yaml');
      expect(overlay.split('\n').slice(0, 3).join('\n')).toContain('# enable-template');
      for (const setting of ['requireClientAuth: true', 'authorizer: default', 'claimMapper: default', 'permissionsClaimName: permissions', 'audience:', 'keySourceURIs:', 'internal-frontend:']) {
        expect(overlay).toContain(setting);
      }
      for (const variable of ['MODELGATE_TEMPORAL_CERTS', 'MODELGATE_TEMPORAL_JWKS_URL', 'MODELGATE_TEMPORAL_AUDIENCE']) {
        expect(Object.keys(temporal.environment!)).toContain(variable);
      }
      const start = read('temporal/start-postgres-server.sh');
      expect(start).toContain('temporal/config/secure.yaml');
      expect(start).toContain('TEMPORAL_AVAILABILITY_ZONE=secure');
    });

    it("gives the server its own certificates and keys, never a CA's private key or a client's", () => {
      const files = mounts('temporal').filter(([host]) => host.startsWith('./certs/')).map(([host]) => host);
      expect(files.sort()).toEqual(['ca.pem', 'frontend.key', 'frontend.pem', 'internode-ca.pem', 'internode.key', 'internode.pem'].map((f) => `./certs/${f}`));
      expect(temporal.healthcheck!.test!.join(' ')).toContain('--tls-cert-path');
    });

    it('gives the worker, the API, the setup job and the UI each its own client certificate and client secret', () => {
      const identities: Record<string, string> = { worker: 'worker', api: 'api', 'temporal-setup': 'admin', 'temporal-ui': 'ui' };
      for (const [name, identity] of Object.entries(identities)) {
        const certs = mounts(name).filter(([host]) => host.startsWith('./certs/'));
        expect(certs.map(([host]) => host).sort()).toEqual(['./certs/ca.pem', `./certs/clients/${identity}.key`, `./certs/clients/${identity}.pem`]);
        if (name === 'temporal-ui') continue; // the UI forwards the signed-in operator's token
        const env = services[name]!.environment!;
        expect(env).toMatchObject({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/certs/client.pem', TEMPORAL_TLS_CLIENT_KEY_PATH: '/certs/client.key', TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/certs/ca.pem', TEMPORAL_TLS_SERVER_NAME: 'temporal' });
        expect(env.TEMPORAL_TOKEN_URL).toEqual(expect.stringContaining('TEMPORAL_TOKEN_URL'));
        expect(env.TEMPORAL_CLIENT_SECRET_FILE).toBe('/run/secrets/temporal-client-secret');
        expect(services[name]!.secrets).toEqual([{ source: `temporal-${identity}-client-secret`, target: 'temporal-client-secret' }]);
      }
      expect(String(services['temporal-setup']!.command)).toContain('modelgate.js temporal-token');
    });
  });

  it('mounts the same dynamic config file the dev server reads', () => {
    const temporal = services.temporal!;
    const mount = temporal.volumes!.find((v) => v.includes('dynamicconfig'))!;
    const [hostDir, containerDir] = mount.split(':');
    const file = path.join(root, hostDir!, 'modelgate.yaml');
    expect(existsSync(file)).toBe(true);
    expect(`/etc/temporal/${temporal.environment!.DYNAMIC_CONFIG_FILE_PATH}`).toBe(`${containerDir}/modelgate.yaml`);
    expect(read('temporal/start-dev.sh')).toContain('temporal/dynamicconfig/modelgate.yaml');
  });

  it('sets no test-only server setting in that file (search attributes come from the server caches)', () => {
    // system.forceSearchAttributesCacheRefreshOnRead ("should not be turned on in production") made
    // the server read its metadata twice per listed workflow: a review queue of 200 took 170 ms
    // instead of 15 ms. temporal/register-search-attributes.sh waits for the caches instead.
    expect(read('temporal/dynamicconfig/modelgate.yaml')).not.toContain('forceSearchAttributesCacheRefreshOnRead');
    expect(read('temporal/register-search-attributes.sh')).toContain('workflow count');
  });

  it('registers the search attributes from the same list as the dev server', () => {
    const setup = services['temporal-setup']!.command as string[];
    expect(setup.join(' ')).toContain('temporal/register-search-attributes.sh temporal:7233 modelgate');
    const listed = read('temporal/search-attributes.txt')
      .split('\n')
      .filter((line) => line.trim() && !line.startsWith('#'))
      .map((line) => line.trim().split(/\s+/));
    const typeNames: Record<string, string> = { KEYWORD: 'Keyword', KEYWORD_LIST: 'KeywordList' };
    expect(listed).toEqual(Object.values(SearchAttributes).map((k) => [k.name, typeNames[k.type]]));
  });
});

describe('the worker launchers pass the same node flags (src/worker-node-flags.ts)', () => {
  const launch = ['node', ...WORKER_NODE_FLAGS, 'dist/worker.js'];
  it('docker-compose, Kubernetes, scripts/start.sh and npm run start:worker', () => {
    const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, ComposeService> };
    expect(compose.services.worker!.command).toEqual(launch);
    expect(compose.services['checks-worker']!.command).toEqual(launch);
    for (const file of ['deploy/kubernetes/base/worker.yaml', 'deploy/kubernetes/base/checks-worker.yaml']) {
      const documents = parseAllDocuments(read(file)).map((d) => d.toJS() as { kind?: string; spec?: { template: { spec: { containers: Array<{ command: string[] }> } } } });
      const deployment = documents.find((d) => d.kind === 'Deployment')!;
      expect(deployment.spec!.template.spec.containers[0]!.command).toEqual(launch);
    }
    expect(read('scripts/start.sh')).toContain(`start_process worker ${launch.slice(1).join(' ')}`);
    expect((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts['start:worker']).toBe(launch.join(' '));
  });

  it('are flags this node accepts', () => {
    // A flag node does not know stops the worker at launch: refused here first.
    expect(execFileSync(process.execPath, [...WORKER_NODE_FLAGS, '-e', "process.stdout.write(String(require('v8').getHeapStatistics().heap_size_limit < 600 * 1048576))"]).toString()).toBe('true');
  });
});

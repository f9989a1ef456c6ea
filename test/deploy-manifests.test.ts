// The Kubernetes manifests (deploy/kubernetes), rendered by kustomize and decoded strictly into the
// Kubernetes API types by deploy/validate, offline; and broken copies of them refused, each with a
// message naming its problem.
import { execFileSync, spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

const root = path.resolve(__dirname, '..');
const manifests = path.join(root, 'deploy', 'kubernetes');

/** The parts of a rendered object the test reads. */
interface RenderedObject {
  kind: string;
  metadata: { name: string };
  spec: {
    template: {
      spec: {
        containers: Array<{ image: string; env: Array<{ name: string; value?: string }> }>;
        volumes: Array<{ name: string; secret?: { secretName: string } }>;
      };
    };
  };
}

let validator: string | undefined;
/** The validator scripts/test.sh built (MODELGATE_VALIDATE_MANIFESTS), or built now. */
function validatorPath(): string {
  validator ??=
    process.env.MODELGATE_VALIDATE_MANIFESTS ||
    execFileSync(path.join(root, 'scripts', 'manifest-validator.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  return validator;
}

function validate(...args: string[]) {
  const result = spawnSync(validatorPath(), args, { encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  it('the base and the production overlay render and pass the validator', () => {
    const result = validate(path.join(manifests, 'base'), path.join(manifests, 'overlays', 'production'));
    expect(result.stderr).toContain('base: ok');
    expect(result.stderr).toContain('production: ok');
    expect(result.status).toBe(0);
  });

  it('production renders three Deployments with probes, a budget each, the API autoscaled, Temporal mTLS from each process own Secret', () => {
    const result = validate('-print', path.join(manifests, 'overlays', 'production'));
    expect(result.status).toBe(0);
    const objects = parseAllDocuments(result.stdout).map((d) => d.toJS() as RenderedObject);
    const named = (kind: string) => objects.filter((o) => o.kind === kind).map((o) => o.metadata.name).sort();
    expect(named('Deployment')).toEqual(['modelgate-api', 'modelgate-checks-worker', 'modelgate-worker']);
    expect(named('PodDisruptionBudget')).toEqual(['modelgate-api', 'modelgate-checks-worker', 'modelgate-worker']);
    expect(named('HorizontalPodAutoscaler')).toEqual(['modelgate-api']);
    expect(named('Job')).toEqual(['modelgate-migrate']);
    const roles: Record<string, string> = {};
    for (const d of objects.filter((o) => o.kind === 'Deployment')) {
      const pod = d.spec.template.spec;
      const container = pod.containers[0];
      expect(container!.image).toBe('registry.example.com/modelgate:0.1.0');
      const env = Object.fromEntries(container!.env.map((e) => [e.name, e.value]));
      expect(env.TEMPORAL_TLS_CLIENT_CERT_PATH).toBe('/etc/modelgate/temporal-tls/tls.crt');
      expect(pod.volumes.find((v) => v.name === 'temporal-tls')?.secret?.secretName).toBe(`${d.metadata.name}-temporal-tls`);
      if (env.WORKER_ROLE) roles[d.metadata.name] = env.WORKER_ROLE;
    }
    expect(roles).toEqual({ 'modelgate-worker': 'promotions', 'modelgate-checks-worker': 'checks' });
  });

  describe('a broken copy is refused, naming the problem', () => {
    let copy: string;
    beforeEach(async () => {
      copy = await mkdtemp(path.join(tmpdir(), 'modelgate-manifests-'));
      await cp(manifests, copy, { recursive: true });
    });
    afterEach(() => rm(copy, { recursive: true, force: true }));

    const edit = async (file: string, from: string | RegExp, to: string) => {
      const full = path.join(copy, 'base', file);
      const text = await readFile(full, 'utf8');
      const changed = text.replace(from, to);
      expect(changed).not.toBe(text);
      await writeFile(full, changed);
    };

    it.each<[string, string, string | RegExp, string, RegExp]>([
      ['a misspelt field', 'worker.yaml', 'readinessProbe:', 'readinesProbe:', /Deployment modelgate-worker: does not match the apps\/v1 Deployment type: .*unknown field "readinesProbe"/],
      ['a malformed quantity', 'api.yaml', 'memory: 512Mi', 'memory: 512 megabytes', /Deployment modelgate-api: does not match the apps\/v1 Deployment type: .*quantities must match/],
      ['no liveness probe', 'checks-worker.yaml', / {10}livenessProbe:\n( {12}.*\n| {14}.*\n)+? {10}resources:/, '          resources:', /container checks-worker: has no livenessProbe/],
      ['no memory limit', 'worker.yaml', / {12}limits:\n {14}cpu: "1"\n {14}memory: 512Mi\n/, '            limits:\n              cpu: "1"\n', /container worker: sets no memory request and limit/],
      ['a budget that selects nothing', 'worker.yaml', /(kind: PodDisruptionBudget[\s\S]*?app.kubernetes.io\/name: )modelgate-worker/, '$1modelgate-wroker', /Deployment modelgate-worker: 0 PodDisruptionBudgets select its pods/],
      ['the checks worker mounting the API secret', 'checks-worker.yaml', 'name: modelgate-checks-worker\n          env:', 'name: modelgate-api\n          env:', /Secret modelgate-api is used by more than one workload \(modelgate-api, modelgate-checks-worker\)/],
      ['the worker holding the API token key', 'worker.yaml', '            - name: WORKER_ROLE\n', '            - name: AUTH_JWT_SECRET\n              value: leaked-key-of-at-least-32-characters\n            - name: WORKER_ROLE\n', /container worker: sets AUTH_JWT_SECRET, which belongs to the API only/],
      ['the checks worker with the migration owner secret', 'checks-worker.yaml', 'name: modelgate-checks-worker\n          env:', 'name: modelgate-migrate\n          env:', /Secret modelgate-migrate is used by more than one workload \(modelgate-checks-worker, modelgate-migrate\)/],
      ['a probe on an undeclared port', 'api.yaml', /path: \/readyz\n {14}port: http/, 'path: /readyz\n              port: web', /readinessProbe's port web is not a port the container declares/],
      ['the API without its autoscaler', 'api.yaml', /---\napiVersion: autoscaling\/v2[\s\S]*$/, '', /Deployment modelgate-api runs the API but no HorizontalPodAutoscaler scales it/],
    ])('%s', async (_what, file, from, to, message) => {
      await edit(file, from, to);
      const result = validate(path.join(copy, 'base'));
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toContain('leaked-key');
    });
  });
});

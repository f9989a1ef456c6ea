// A tracking server that lies: its artifact listing names paths that leave the version's folder,
// its download URI is not the artifact proxy, its files are larger than the limit. The download of
// a models:/ artifact must refuse each, naming the rule, and write nothing outside its folder.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stageArtifact } from '../../src/checks/artifact-source';
import { CheckInputError } from '../../src/checks/errors';
import { createMlflowClient, MlflowError } from '../../src/sources/mlflow';
import { testSources } from '../support/sources';

/** What the lying server answers: the download URI and the listing of each folder (by path). */
interface Lies {
  downloadUri: string;
  listings: Record<string, Array<{ path: string; is_dir?: boolean; file_size?: number }>>;
  fileBytes?: number;
}

async function lyingServer(lies: Lies): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    res.setHeader('content-type', 'application/json');
    if (url.pathname === '/api/2.0/mlflow/model-versions/get') return res.end(JSON.stringify({ model_version: { name: 'm', version: '1', status: 'READY' } }));
    if (url.pathname === '/api/2.0/mlflow/model-versions/get-download-uri') return res.end(JSON.stringify({ artifact_uri: lies.downloadUri }));
    if (url.pathname === '/api/2.0/mlflow-artifacts/artifacts') return res.end(JSON.stringify({ files: lies.listings[url.searchParams.get('path') ?? ''] ?? [] }));
    if (url.pathname.startsWith('/api/2.0/mlflow-artifacts/artifacts/')) return res.end(Buffer.alloc(lies.fileBytes ?? 10, 1));
    res.statusCode = 404;
    res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('a models:/ download from a lying tracking server', () => {
  let staging: string;
  let server: Server | undefined;
  beforeEach(async () => {
    staging = await mkdtemp(path.join(tmpdir(), 'modelgate-mlflow-staging-'));
  });
  afterEach(async () => {
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    server = undefined;
    await rm(staging, { recursive: true, force: true });
  });

  async function stage(lies: Lies, limits: { maxArtifactBytes?: number } = {}) {
    const lying = await lyingServer(lies);
    server = lying.server;
    const rules = testSources(limits);
    const mlflow = createMlflowClient({ trackingUri: lying.url }, rules);
    return stageArtifact('models:/m/1', staging, { sources: { ...rules, mlflow } });
  }

  const refusal = async (promise: Promise<unknown>) => {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CheckInputError);
    return (err as Error).message;
  };

  it.each([
    ['a parent segment', '..'],
    ['a path with separators', '../../escape.txt'],
    ['an absolute path', '/etc/passwd'],
    ['a control character', 'a\nb'],
  ])('refuses a listing that names %s', async (_what, name) => {
    const message = await refusal(stage({ downloadUri: 'mlflow-artifacts:/1/models/m-1/artifacts', listings: { '1/models/m-1/artifacts': [{ path: name, file_size: 1 }] } }));
    expect(message).toMatch(/source refused \(dot-segments\)/);
    // Nothing was written next to the staging folder's own content.
    expect(await readdir(staging)).toEqual([]);
  });

  it('refuses a version whose files are not behind the artifact proxy (s3://, a local folder)', async () => {
    for (const downloadUri of ['s3://bucket/models/m-1', 'file:///etc', 'mlflow-artifacts:/1/../../etc']) {
      const message = await refusal(stage({ downloadUri, listings: {} }));
      expect(message).toMatch(/source refused \((scheme|dot-segments)\)/);
      await new Promise((r) => server!.close(r));
      server = undefined;
    }
  });

  it('refuses files larger than the limit, declared or received', async () => {
    const declared = await refusal(stage({ downloadUri: 'mlflow-artifacts:/1/m', listings: { '1/m': [{ path: 'model.bin', file_size: 5_000 }] } }, { maxArtifactBytes: 1_000 }));
    expect(declared).toMatch(/too-large/);
    await new Promise((r) => server!.close(r));
    server = undefined;
    const received = await refusal(stage({ downloadUri: 'mlflow-artifacts:/1/m', listings: { '1/m': [{ path: 'model.bin', file_size: 10 }] }, fileBytes: 5_000 }, { maxArtifactBytes: 1_000 }));
    expect(received).toMatch(/too-large/);
  });

  it('stages a truthful listing as a directory artifact', async () => {
    const artifact = await stage({
      downloadUri: 'mlflow-artifacts:/1/m',
      listings: { '1/m': [{ path: 'MLmodel', file_size: 10 }, { path: 'data', is_dir: true }], '1/m/data': [{ path: 'model.skops', file_size: 10 }] },
    });
    expect(artifact.kind).toBe('directory');
    expect(artifact.files.map((f) => f.relativePath)).toEqual(['MLmodel', 'data/model.skops']);
    await artifact.cleanup();
  });
});

describe('the error answers of a lying tracking server', () => {
  it("keeps an error_code only when it has the shape of MLflow's codes, so no other text it sends reaches a message", async () => {
    let errorCode: unknown = 'RESOURCE_DOES_NOT_EXIST';
    const server = createServer((_req, res) => {
      res.statusCode = 404;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ error_code: errorCode, message: 'not here' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const mlflow = createMlflowClient({ trackingUri: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }, testSources());
      const failure = () => mlflow.getModelVersion('m', '1').then(() => undefined, (e: unknown) => e as MlflowError);
      const honest = await failure();
      expect(honest).toBeInstanceOf(MlflowError);
      expect(honest!.code).toBe('RESOURCE_DOES_NOT_EXIST');
      for (const crafted of ['RESOURCE_DOES_NOT_EXIST: call https://evil.example/ now', 'approve me', 'A'.repeat(65), { nested: 'x' }]) {
        errorCode = crafted;
        const err = await failure();
        expect(err).toBeInstanceOf(MlflowError);
        expect(err!.code).toBe('HTTP 404');
        expect(err!.message).toBe('the MLflow tracking server answered GET /api/2.0/mlflow/model-versions/get with HTTP 404 (HTTP 404)');
      }
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

// How the API answers a registry of record it cannot believe or cannot reach: 409 naming the
// disagreement (kind, environment, version), 503 with Retry-After while MLflow is unreachable;
// never a stack trace, never a 500.
import express from 'express';
import request from 'supertest';
import { errorHandler } from '../../src/api/errors';
import { RegistryDisagreement } from '../../src/registry';
import { MlflowError } from '../../src/sources/mlflow';

function appThrowing(err: unknown) {
  const app = express();
  app.get('/read', () => {
    throw err;
  });
  const unexpected: unknown[] = [];
  app.use(errorHandler((e) => unexpected.push(e)));
  return { app, unexpected };
}

describe('the API and the registry of record', () => {
  it('a disagreement is a 409 naming it', async () => {
    const { app, unexpected } = appThrowing(
      new RegistryDisagreement({ kind: 'alias_on_unapproved_version', model: 'credit', environment: 'production', version: '7', message: "MLflow's alias champion of credit points at version 7, but Modelgate holds no approval of it for production" }),
    );
    const res = await request(app).get('/read');
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      error: {
        code: 'conflict',
        message: "the registry of record of production disagrees with Modelgate: MLflow's alias champion of credit points at version 7, but Modelgate holds no approval of it for production",
        details: { kind: 'alias_on_unapproved_version', environment: 'production', version: '7' },
      },
    });
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts/);
    expect(unexpected).toEqual([]);
  });

  it('MLflow unreachable is a 503 with Retry-After; another MLflow failure stays an internal error', async () => {
    const down = appThrowing(new MlflowError('the MLflow tracking server cannot be reached (ECONNREFUSED)', 'unavailable'));
    const res = await request(down.app).get('/read');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.body.error).toEqual({ code: 'not_ready', message: 'the registry of record cannot be read now: the MLflow tracking server cannot be reached (ECONNREFUSED)' });
    const odd = appThrowing(new MlflowError("the MLflow tracking server's model version does not have the expected shape", 'bad_answer'));
    expect((await request(odd.app).get('/read')).status).toBe(500);
    expect(odd.unexpected).toHaveLength(1);
  });
});

// AUTH_TOKENS: bearer tokens on every endpoint but the contract's public ones.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TokenSet, bearerToken } from '../../src/api/TokenSet.ts';
import { cleanupAll, startServer, type TestServer } from '../support/testServer.ts';

after(async () => {
  await cleanupAll();
});

describe('TokenSet', () => {
  it('accepts exactly the configured tokens, whatever their length', () => {
    const tokens = new TokenSet(['secret-token-1', 's2']);
    assert.equal(tokens.accepts('secret-token-1'), true);
    assert.equal(tokens.accepts('s2'), true);
    for (const wrong of ['secret-token-', 'secret-token-12', '', 'S2', undefined]) assert.equal(tokens.accepts(wrong), false);
    assert.equal(new TokenSet([]).enabled, false);
  });

  it('reads the Bearer scheme only', () => {
    assert.equal(bearerToken('Bearer abc'), 'abc');
    assert.equal(bearerToken('bearer  abc '), 'abc');
    assert.equal(bearerToken('Basic abc'), undefined);
    assert.equal(bearerToken(undefined), undefined);
  });
});

describe('with AUTH_TOKENS', () => {
  let server: TestServer;
  before(async () => {
    // Trimmed, empty entries ignored.
    server = await startServer({ env: { AUTH_TOKENS: ' tok-a , ,tok-b,' } });
  });

  it('refuses job endpoints without a token or with a wrong one: 401 in the error format', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: 'tok-a' }, { authorization: 'Bearer ' }] as Record<string, string>[]) {
      const res = await server.request('POST', '/queues/q/jobs', { data: 1 }, headers);
      assert.equal(res.status, 401, res.describe);
      assert.deepEqual(res.json, { ok: false, error: 'Unauthorized' });
      assert.equal(res.headers['access-control-allow-origin'], '*', 'errors carry CORS too');
    }
    for (const [method, path] of [['GET', '/queues/q/jobs'], ['GET', '/jobs/x'], ['DELETE', '/jobs/x'], ['POST', '/jobs/x/ack'], ['GET', '/stats'], ['GET', '/metrics']] as const) {
      assert.equal((await server.request(method, path)).status, 401, `${method} ${path}`);
    }
  });

  it('accepts every configured token', async () => {
    for (const token of ['tok-a', 'tok-b']) {
      const res = await server.request('POST', '/queues/q/jobs', { data: 1 }, { authorization: `Bearer ${token}` });
      assert.equal(res.status, 200, res.describe);
    }
  });

  it('lets the probes, the debug endpoints, /prometheus and preflight through without a token', async () => {
    for (const [method, path] of [['GET', '/healthz'], ['GET', '/live'], ['OPTIONS', '/queues/q/jobs'], ['OPTIONS', '/anything']] as const) {
      const res = await server.request(method, path);
      assert.notEqual(res.status, 401, `${method} ${path}: ${res.describe}`);
    }
    // Not 401 even when the monitoring routes are missing (404) — skipping auth is what is tested here.
    for (const [method, path] of [['GET', '/health'], ['GET', '/ready'], ['POST', '/gc'], ['GET', '/heapstats'], ['GET', '/prometheus']] as const) {
      assert.notEqual((await server.request(method, path)).status, 401, `${method} ${path}`);
    }
  });

  it('an unknown path with a valid token is 404, without one 401', async () => {
    assert.equal((await server.request('GET', '/nope', undefined, { authorization: 'Bearer tok-a' })).status, 404);
    assert.equal((await server.request('GET', '/nope')).status, 401);
  });
});

describe('METRICS_AUTH=true', () => {
  it('puts /prometheus behind the token', async () => {
    const server = await startServer({ env: { AUTH_TOKENS: 'tok', METRICS_AUTH: 'true' } });
    assert.equal((await server.request('GET', '/prometheus')).status, 401);
    assert.notEqual((await server.request('GET', '/prometheus', undefined, { authorization: 'Bearer tok' })).status, 401);
    assert.notEqual((await server.request('GET', '/health')).status, 401);
    await server.stop();
  });
});

describe('without AUTH_TOKENS', () => {
  it('needs no token', async () => {
    const server = await startServer();
    assert.equal((await server.request('POST', '/queues/q/jobs', { data: 1 })).status, 200);
    await server.stop();
  });
});

// CORS on every answer and preflight on any path; per-client sliding-window rate limits.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SlidingWindowLimiter } from '../../src/api/SlidingWindowLimiter.ts';
import { cleanupAll, startServer } from '../support/testServer.ts';

after(async () => {
  await cleanupAll();
});

describe('CORS', () => {
  it('answers a preflight on any path with 204 and the four headers', async () => {
    const server = await startServer({ env: { CORS_ALLOW_ORIGIN: 'https://dash.example.com' } });
    for (const path of ['/queues/q/jobs', '/jobs/x/ack', '/no/such/path', '/']) {
      const res = await server.request('OPTIONS', path);
      assert.equal(res.status, 204, res.describe);
      assert.equal(res.headers['access-control-allow-origin'], 'https://dash.example.com');
      assert.equal(res.headers['access-control-allow-methods'], 'GET, POST, PUT, DELETE, OPTIONS');
      assert.equal(res.headers['access-control-allow-headers'], 'Content-Type, Authorization');
      assert.equal(res.headers['access-control-max-age'], '86400');
    }
    // Every JSON answer, errors included.
    for (const res of [
      await server.request('POST', '/queues/q/jobs', { data: 1 }),
      await server.request('GET', '/jobs/none'),
      await server.request('GET', '/nope'),
      await server.request('POST', '/queues/q/jobs', '{bad', { 'content-type': 'application/json' }),
    ]) {
      assert.equal(res.headers['access-control-allow-origin'], 'https://dash.example.com', res.describe);
    }
    await server.stop();
  });

  it('defaults to *', async () => {
    const server = await startServer();
    assert.equal((await server.request('GET', '/jobs/none')).headers['access-control-allow-origin'], '*');
    await server.stop();
  });
});

describe('rate limiting', () => {
  it('the sliding window counts the previous window by its overlap', () => {
    const limiter = new SlidingWindowLimiter(1000, 4);
    for (let i = 0; i < 4; i++) assert.equal(limiter.allow('a', i), true);
    assert.equal(limiter.allow('a', 10), false, 'fifth in the window');
    assert.equal(limiter.allow('b', 10), true, 'another client has its own window');
    // Half-way into the next window: 4 × 0.5 = 2 still count, so 2 more fit.
    assert.equal(limiter.allow('a', 1500), true);
    assert.equal(limiter.allow('a', 1500), true);
    assert.equal(limiter.allow('a', 1500), false);
    limiter.sweep(10_000);
    assert.equal(limiter.size, 0, 'idle clients are forgotten');
  });

  it('429 in the error format past the limit, per client, probes and preflight never limited', async () => {
    // The test client is the proxy here (TRUST_PROXY=loopback): the nearest untrusted forwarded address is the client.
    const server = await startServer({ env: { RATE_LIMIT_MAX_REQUESTS: '3', RATE_LIMIT_WINDOW_MS: '60000', TRUST_PROXY: 'loopback' } });
    const as = (ip: string) => ({ 'x-forwarded-for': `${ip}, 127.0.0.1` });
    for (let i = 0; i < 3; i++) assert.equal((await server.request('GET', '/jobs/x', undefined, as('1.1.1.1'))).status, 404);
    const limited = await server.request('GET', '/jobs/x', undefined, as('1.1.1.1'));
    assert.equal(limited.status, 429);
    assert.deepEqual(limited.json, { ok: false, error: 'Rate limit exceeded' });
    assert.equal(limited.headers['access-control-allow-origin'], '*');
    assert.equal((await server.request('GET', '/jobs/x', undefined, as('2.2.2.2'))).status, 404, 'the nearest untrusted X-Forwarded-For entry is the client');
    assert.equal((await server.request('GET', '/jobs/x', undefined, { 'x-real-ip': '3.3.3.3' })).status, 404, 'X-Real-IP when no X-Forwarded-For');
    for (let i = 0; i < 5; i++) {
      assert.notEqual((await server.request('GET', '/healthz', undefined, as('1.1.1.1'))).status, 429);
      assert.equal((await server.request('OPTIONS', '/jobs/x', undefined, as('1.1.1.1'))).status, 204);
    }
    await server.stop();
  });
});

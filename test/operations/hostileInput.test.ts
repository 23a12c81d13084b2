// Bad input gets a clear 4xx in the error format, never a 500 or a crash; bad configuration stops the start.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { cleanupAll, makeTempDir, startServer, type TestServer } from '../support/testServer.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

after(async () => {
  await cleanupAll();
});

describe('hostile input', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ env: { MAX_BODY_BYTES: '4096' } });
  });

  it('a body over MAX_BODY_BYTES gets 413 in the error format', async () => {
    const res = await server.request('POST', '/queues/q/jobs', { data: 'x'.repeat(8000) });
    assert.equal(res.status, 413, res.describe);
    assert.equal(res.json?.ok, false);
    assert.equal(typeof res.json?.error, 'string');
  });

  it('malformed JSON and foreign content types get 400', async () => {
    const bad = await server.request('POST', '/queues/q/jobs', '{"data":', { 'content-type': 'application/json' });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.json, { ok: false, error: 'Invalid JSON body' });
    const text = await server.request('POST', '/queues/q/jobs', 'data=1', { 'content-type': 'text/plain' });
    assert.equal(text.status, 400);
    assert.match(text.json?.error, /Content-Type/);
  });

  it('methods the contract does not list are unknown endpoints: 404 Not found', async () => {
    for (const [method, path] of [['PUT', '/queues/q/jobs'], ['PATCH', '/jobs/x'], ['POST', '/jobs/x'], ['GET', '/jobs/x/ack'], ['DELETE', '/queues/q/jobs'], ['PUT', '/health']] as const) {
      const res = await server.request(method, path);
      assert.equal(res.status, 404, `${method} ${path}: ${res.describe}`);
      assert.deepEqual(res.json, { ok: false, error: 'Not found' });
    }
  });

  it('no garbage gives a 500 or kills the server', async () => {
    const bodies: unknown[] = ['', 'null', '[]', '"x"', '1e999', '{"data":{"__proto__":{"x":1}}}', '\u0000', '{"data":1,"priority":{"$gt":1}}', '{'.repeat(5000)];
    const paths = ['/queues/%E0%A4%A/jobs', '/jobs/%', '/queues/' + 'q'.repeat(300) + '/jobs', '/jobs/..%2F..%2Fetc', '/queues/q/jobs?timeout=-1', '/queues/q/jobs?timeout=1e3', '/queues/q/jobs?timeout=abc&timeout=2'];
    for (const body of bodies) {
      const res = await server.request('POST', '/queues/q/jobs', body, { 'content-type': 'application/json' });
      assert.ok(res.status < 500, res.describe);
    }
    for (const path of paths) {
      for (const method of ['GET', 'POST', 'DELETE'] as const) {
        const res = await server.request(method, path, method === 'POST' ? { data: 1 } : undefined);
        assert.ok(res.status < 500, res.describe);
      }
    }
    assert.equal((await server.request('POST', '/queues/q/jobs', { data: 'still alive' })).status, 200);
  });
});

describe('configuration', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ HTTP_PORT: 'abc' }, /HTTP_PORT must be an integer from 0 to 65535/],
    [{ LOCK_TTL_MS: '0' }, /LOCK_TTL_MS must be an integer from 1/],
    [{ RATE_LIMIT_MAX_REQUESTS: '-1' }, /RATE_LIMIT_MAX_REQUESTS must be an integer >= 1 or "Infinity"/],
    [{ METRICS_AUTH: 'maybe' }, /METRICS_AUTH must be true or false/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
    [{ WAL_FLUSH_MS: '1.5' }, /WAL_FLUSH_MS must be an integer/],
  ];
  for (const [env, message] of cases) {
    it(`refuses to start with ${JSON.stringify(env)}`, () => {
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        cwd: ROOT,
        env: { ...process.env, HTTP_PORT: '0', HOST: '127.0.0.1', DATA_DIR: makeTempDir(), ...env },
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, message);
    });
  }
});

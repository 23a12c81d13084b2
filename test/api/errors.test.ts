// Error answers: body validation of push (400 naming the field), malformed
// bodies on every endpoint, unknown routes and unlisted methods (404 Not found),
// the error format. Never a 500.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupAll, qname, startServer, type Res, type TestServer } from '../support/testServer.ts';

let srv: TestServer;
let queue: string;

before(async () => {
  srv = await startServer();
  queue = qname('err');
});
after(async () => {
  await cleanupAll();
});

function assertError(r: Res, status: number, error?: string | RegExp) {
  assert.equal(r.status, status, r.describe);
  assert.equal(r.json?.ok, false, r.describe);
  assert.equal(typeof r.json?.error, 'string', r.describe);
  assert.deepEqual(Object.keys(r.json).sort(), ['error', 'ok'], r.describe);
  assert.match(r.headers['content-type'] ?? '', /application\/json/, r.describe);
  if (typeof error === 'string') assert.equal(r.json.error, error, r.describe);
  else if (error) assert.match(r.json.error, error, r.describe);
}

describe('push body validation', () => {
  it('a body that is not a JSON object: 400 Invalid JSON body', async () => {
    for (const raw of ['[]', '[{"data":1}]', '"data"', '42', 'true', 'null', '{"data":', '{data: 1}', 'not json at all', '{"data":1}}']) {
      const r = await srv.pushRaw(queue, raw);
      assertError(r, 400, 'Invalid JSON body');
    }
  });

  it('missing data: 400 data is required', async () => {
    assertError(await srv.pushRaw(queue, {}), 400, 'data is required');
    assertError(await srv.pushRaw(queue, { priority: 1, payload: 'x' }), 400, 'data is required');
  });

  it('a non-number priority: 400 priority must be a finite number', async () => {
    for (const priority of ['high', '10', true, [1], { v: 1 }]) {
      assertError(await srv.pushRaw(queue, { data: 1, priority }), 400, 'priority must be a finite number');
    }
  });

  const cases: Array<[field: string, value: unknown, pattern?: RegExp]> = [
    ['delay', -1],
    ['delay', 'soon'],
    ['maxAttempts', 0],
    ['maxAttempts', 1.5],
    ['maxAttempts', -3],
    ['maxAttempts', '3'],
    ['backoff', -1],
    ['backoff', 'fast'],
    ['backoff', { type: 'linear', delay: 100 }],
    ['backoff', { type: 'fixed', delay: -5 }],
    ['backoff', { type: 'exponential' }],
    ['ttl', -1],
    ['ttl', 'forever'],
    ['timeout', 0],
    ['timeout', -10],
    ['timeout', 'long'],
    ['tags', 'email'],
    ['tags', [1, 2]],
    ['tags', ['ok', null]],
    ['jobId', ''],
    ['jobId', 'x'.repeat(257)],
    ['jobId', 123],
    ['uniqueKey', 42],
    ['groupId', 7],
    ['groupId', ''],
    ['lifo', 'yes'],
    ['lifo', 1],
    ['removeOnComplete', 'true'],
    ['removeOnFail', 0],
    ['durable', 'yes'],
    ['dependsOn', 'some-id'],
    ['dependsOn', [1]],
    ['repeat', { every: 0 }, /repeat|every/],
    ['repeat', { every: -1000 }, /repeat|every/],
    ['repeat', { every: 'often' }, /repeat|every/],
    ['repeat', { every: 1000, limit: 0 }, /repeat|limit/],
    ['repeat', 'hourly', /repeat/],
  ];
  for (const [field, value, pattern] of cases) {
    it(`${field} = ${JSON.stringify(value).slice(0, 40)}: 400 naming ${field}`, async () => {
      const q = qname('val');
      const r = await srv.pushRaw(q, { data: 1, [field]: value });
      assertError(r, 400, pattern ?? new RegExp(field));
      // Nothing was created.
      const p = await srv.pull(q);
      assert.equal(p.job, null, `a rejected push created a job: ${JSON.stringify(p.job)}`);
    });
  }

  it('dependsOn an unknown id: 400 Dependency job not found: <id>', async () => {
    const q = qname('val');
    const known = await srv.push(q, { data: 'parent', delay: 60_000 });
    const r = await srv.pushRaw(q, { data: 1, dependsOn: [known, 'missing-dep-42'] });
    assertError(r, 400, 'Dependency job not found: missing-dep-42');
    await srv.cancel(known);
    assert.equal((await srv.pull(q)).job, null);
  });

  it('data larger than 10 MiB: 400 data too large', async () => {
    const r = await srv.pushRaw(queue, { data: 'x'.repeat(10 * 1024 * 1024 + 16) });
    assertError(r, 400, 'data too large');
  });

  it('the first invalid field of several still gives a 400, never a 500', async () => {
    const r = await srv.pushRaw(queue, { data: 1, priority: 'x', delay: -1, maxAttempts: 0, tags: 5 });
    assertError(r, 400);
  });
});

describe('malformed bodies on ack and fail', () => {
  it('a malformed JSON body gets 400 Invalid JSON body', async () => {
    const q = qname('err');
    const id = await srv.push(q, { data: 1 });
    const p = await srv.pull(q);
    assert.equal(p.job?.id, id);
    for (const path of [`/jobs/${id}/ack`, `/jobs/${id}/fail`]) {
      for (const raw of ['{"result":', '[1,2]', '"str"']) {
        assertError(await srv.request('POST', path, raw), 400, 'Invalid JSON body');
      }
    }
    // The job is untouched and can still be acked.
    const job = await srv.getJob(id);
    assert.equal(job.state, 'active');
    assert.equal(job.attempts, 0);
    assert.equal((await srv.ack(id, { token: p.token })).status, 200);
  });
});

describe('wrong types on ack and fail', () => {
  it('a non-string token or error gets a 400 naming the field', async () => {
    const q = qname('err');
    const id = await srv.push(q, { data: 1 });
    const p = await srv.pull(q);
    assert.equal(p.job?.id, id);
    assertError(await srv.ack(id, { token: 5 }), 400, /token/);
    assertError(await srv.fail(id, { token: ['t'] }), 400, /token/);
    assertError(await srv.fail(id, { error: { message: 'x' } }), 400, /error/);
    const job = await srv.getJob(id);
    assert.equal(job.state, 'active');
    assert.equal(job.attempts, 0);
  });
});

describe('routing', () => {
  it('a malformed percent-encoding in the path is a 400, not a 500', async () => {
    for (const [method, path] of [['GET', '/jobs/%ZZ'], ['DELETE', '/jobs/%E0%A4%A'], ['GET', '/queues/%ZZ/jobs'], ['POST', '/jobs/%/ack']] as const) {
      const r = await srv.request(method, path);
      assertError(r, 400);
    }
  });


  it('unknown routes get 404 Not found', async () => {
    const routes: Array<[string, string]> = [
      ['GET', '/'],
      ['GET', '/nope'],
      ['GET', '/queues/q'],
      ['GET', '/jobs'],
      ['POST', '/queues/q/jobs/extra'],
      ['GET', '/jobs/x/y/z'],
      ['POST', '/jobs/x/retry'],
    ];
    for (const [method, path] of routes) {
      assertError(await srv.request(method, path), 404, 'Not found');
    }
  });

  it('a method the contract does not list for a path gets 404 Not found', async () => {
    const q = qname('err');
    const id = await srv.push(q, { data: 1 });
    const routes: Array<[string, string]> = [
      ['PUT', `/jobs/${id}`],
      ['PATCH', `/jobs/${id}`],
      ['POST', `/jobs/${id}`],
      ['PATCH', `/queues/${q}/jobs`],
      ['PUT', `/queues/${q}/jobs`],
      ['DELETE', `/queues/${q}/jobs`],
      ['GET', `/jobs/${id}/ack`],
      ['GET', `/jobs/${id}/fail`],
      ['DELETE', `/jobs/${id}/ack`],
      ['PUT', `/jobs/${id}/fail`],
    ];
    for (const [method, path] of routes) {
      const body = method === 'GET' || method === 'DELETE' ? undefined : { data: 1 };
      assertError(await srv.request(method, path, body), 404, 'Not found');
    }
    // None of those touched the job.
    const job = await srv.getJob(id);
    assert.equal(job.state, 'waiting');
    assert.equal((await srv.pull(q)).job?.id, id);
    assert.equal((await srv.pull(q)).job, null, 'a PUT/PATCH created a job');
  });
});

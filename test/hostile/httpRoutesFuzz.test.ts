// Property-based fuzzing of every HTTP endpoint: whatever the method, path, query, headers and body, the server
// answers without a 5xx, every 4xx is {"ok":false,"error":string}, the process stays up and its memory bounded.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { bodyOf, headerSet, pathSegment, queryString } from '../support/fuzzInputs.ts';
import { type Call, CONCURRENCY, FuzzClient, FUZZ_SEED, fuzz, rssMb } from '../support/hostile.ts';
import { cleanupAll, startServer, type TestServer } from '../support/testServer.ts';

const BATCHES = 160;
/** RSS the server may gain over the file (valid pushes among the inputs stay in the state). */
const RSS_BOUND_MB = 150;

after(async () => {
  await cleanupAll();
});

/** Every endpoint of the contract, plus the progress, history and time-travel routes, as [method, path] for a queue and a job id. */
function endpoints(queue: string, id: string): Array<[string, string]> {
  return [
    ['POST', `/queues/${queue}/jobs`],
    ['GET', `/queues/${queue}/jobs`],
    ['GET', `/jobs/${id}`],
    ['DELETE', `/jobs/${id}`],
    ['POST', `/jobs/${id}/ack`],
    ['POST', `/jobs/${id}/fail`],
    ['POST', `/jobs/${id}/progress`],
    ['GET', `/jobs/${id}/history`],
    ['GET', `/jobs/${id}/attempts`],
    ['GET', '/log/position'],
    ['GET', '/queues'],
    ['GET', `/queues/${queue}/state`],
    ['GET', `/queues/${queue}/changes`],
    ['GET', '/health'],
    ['GET', '/healthz'],
    ['GET', '/live'],
    ['GET', '/ready'],
    ['GET', '/stats'],
    ['GET', '/metrics'],
    ['GET', '/prometheus'],
    ['POST', '/gc'],
    ['GET', '/heapstats'],
    ['GET', '/events'],
    ['GET', `/events/queues/${queue}`],
  ];
}
const ENDPOINT_COUNT = endpoints('q', 'i').length;
const GC_ENDPOINT = endpoints('q', 'i').findIndex(([method, path]) => method === 'POST' && path === '/gc');

/** `arbitrary` once in `oneIn` draws, else null. */
function rarely<T>(arbitrary: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary });
}

describe('HTTP routes fuzzing (fast-check, fixed seed)', () => {
  let server: TestServer;
  let client: FuzzClient;
  let rssBefore: number;
  const queues = ['fuzz-a', 'fuzz-b', 'fuzz.c:d_e'];
  const ids: string[] = [];

  before(async () => {
    server = await startServer({ env: { MAX_BODY_BYTES: String(64 * 1024) } });
    client = new FuzzClient(server);
    // Jobs in known queues, some active, so ids and pulls reach real state and not only "not found".
    for (let i = 0; i < 60; i++) ids.push(await server.push(queues[i % queues.length] as string, { data: { i } }));
    for (let i = 0; i < 20; i++) await server.pull(queues[i % queues.length] as string);
    rssBefore = rssMb(server.pid);
  });

  it('any method, path, query, headers and body on every endpoint: no 5xx, 4xx in the error format', async (t) => {
    const request: fc.Arbitrary<Call> = fc
      .record({
        // POST /gc runs a full collection that stalls the server (~0.5 s under load): one request in ~1000.
        endpoint: fc.oneof(
          { weight: 1000, arbitrary: fc.nat({ max: ENDPOINT_COUNT - 1 }).filter((i) => i !== GC_ENDPOINT) },
          { weight: 1, arbitrary: fc.constant(GC_ENDPOINT) },
        ),
        queue: pathSegment(queues),
        id: pathSegment(ids),
        // Mostly the endpoint's own method and path; sometimes another method, or any path at all.
        method: rarely(fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS'), 4),
        randomPath: rarely(fc.webPath(), 10),
        query: queryString,
        headers: headerSet,
        body: bodyOf,
      })
      .map(({ endpoint, queue, id, method, randomPath, query, headers, body }) => {
        const [listed, path] = endpoints(queue, id)[endpoint] as [string, string];
        const verb = method ?? listed;
        // fetch refuses a body on GET and HEAD; the raw-socket suite sends those.
        return { method: verb, path: (randomPath ?? path) + query, headers, body: verb === 'GET' || verb === 'HEAD' ? undefined : body };
      });
    await fuzz(
      'any request',
      fc.asyncProperty(fc.array(request, { minLength: CONCURRENCY, maxLength: CONCURRENCY }), async (batch) => {
        assert.deepEqual(await client.sendAll(batch), []);
      }),
      BATCHES,
    );
    t.diagnostic(`seed ${FUZZ_SEED}: ${client.sent} requests`);
    assert.equal(client.sent, BATCHES * CONCURRENCY);
  });

  it('afterwards: alive, /health 200, RSS bounded, the queues still work', async (t) => {
    assert.ok(server.alive, server.output());
    const health = await server.request('GET', '/health');
    assert.equal(health.status, 200, health.describe);
    const id = await server.push('fuzz-after', { data: 'still serving' });
    const pulled = await server.pull('fuzz-after');
    assert.equal(pulled.job?.id, id);
    assert.equal((await server.ack(id, { token: pulled.token })).status, 200);
    const rssAfter = rssMb(server.pid);
    t.diagnostic(`server RSS ${rssBefore} MB → ${rssAfter} MB (bound +${RSS_BOUND_MB} MB)`);
    assert.ok(rssAfter - rssBefore < RSS_BOUND_MB, `RSS grew from ${rssBefore} to ${rssAfter} MB`);
  });
});

// Property-based fuzzing of request bodies: wrong types and edge numbers in every push field, then valid pushes at
// extreme values carried through their whole life (get, pull, progress, ack, fail, cancel) with random bodies.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { bodyOf, extremePushBody, pushBodyWithWrongFields } from '../support/fuzzInputs.ts';
import { type Call, CONCURRENCY, encodeSegment, faultOf, FuzzClient, FUZZ_SEED, fuzz, rssMb } from '../support/hostile.ts';
import { cleanupAll, startServer, type TestServer } from '../support/testServer.ts';

const PUSH_BATCHES = 100;
const LIFECYCLE_BATCHES = 40;
const RSS_BOUND_MB = 150;

after(async () => {
  await cleanupAll();
});

describe('HTTP body fuzzing (fast-check, fixed seed)', () => {
  let server: TestServer;
  let client: FuzzClient;
  let rssBefore: number;

  before(async () => {
    server = await startServer({ env: { MAX_BODY_BYTES: String(64 * 1024) } });
    client = new FuzzClient(server);
    rssBefore = rssMb(server.pid);
  });

  it('push bodies with wrong types, huge and negative numbers in each field: 200 or 4xx, never 5xx', async (t) => {
    const push = fc
      .tuple(fc.constantFrom('fuzz-a', 'fuzz-b'), pushBodyWithWrongFields, fc.constantFrom('application/json', undefined))
      .map(([queue, body, type]): Call => ({ method: 'POST', path: `/queues/${queue}/jobs`, body, headers: type ? { 'content-type': type } : {} }));
    await fuzz(
      'push schema',
      fc.asyncProperty(fc.array(push, { minLength: CONCURRENCY, maxLength: CONCURRENCY }), async (batch) => {
        assert.deepEqual(await client.sendAll(batch), []);
      }),
      PUSH_BATCHES,
    );
    t.diagnostic(`seed ${FUZZ_SEED}: ${client.sent} requests`);
  });

  it('valid pushes at extreme values, then get, pull, progress, ack, fail and cancel them with random bodies', async (t) => {
    const before = client.sent;
    let chain = 0;
    let reachedJob = 0;
    const step = fc.tuple(fc.nat({ max: 4 }), bodyOf, fc.boolean());
    const lifecycle = fc.tuple(extremePushBody, fc.array(step, { minLength: 1, maxLength: 4 }));
    await fuzz(
      'extreme lifecycle',
      fc.asyncProperty(fc.array(lifecycle, { minLength: CONCURRENCY / 2, maxLength: CONCURRENCY / 2 }), async (chains) => {
        const faults: string[] = [];
        await Promise.all(
          chains.map(async ([pushBody, steps]) => {
            // A queue of its own, so the pull takes this very job if it is ready.
            const queue = `fuzz-life-${++chain}`;
            await client.send({ method: 'POST', path: `/queues/${queue}/jobs`, body: pushBody }, faults);
            const pulled = await client.send({ method: 'GET', path: `/queues/${queue}/jobs` }, faults);
            const lease = pulled.status === 200 ? (JSON.parse(pulled.text) as { job?: { id: string } | null; token?: string | null }) : {};
            const id = lease.job?.id;
            if (!id) return;
            reachedJob += 1;
            for (const [kind, body, withToken] of steps) {
              const method = ['GET', 'DELETE', 'POST', 'POST', 'POST'][kind] as string;
              const path = `/jobs/${encodeSegment(id)}${['', '', '/ack', '/fail', '/progress'][kind]}`;
              // Half the time the body carries the real lease token, so the command reaches the job's rules.
              const sent = method === 'POST' && withToken && lease.token ? withLeaseToken(body, lease.token) : body;
              await client.send({ method, path, body: method === 'POST' ? sent : undefined }, faults);
            }
          }),
        );
        if (!server.alive) faults.push(`server died\n${server.output(4000)}`);
        assert.deepEqual(faults, []);
      }),
      LIFECYCLE_BATCHES,
    );
    t.diagnostic(`seed ${FUZZ_SEED}: ${client.sent - before} requests, ${reachedJob} of ${chain} jobs pulled and then fuzzed`);
    // Most extreme pushes are valid and ready at once: the lifecycle really ran.
    assert.ok(reachedJob > chain / 5, `only ${reachedJob} of ${chain} pushes could be pulled`);
  });

  it('afterwards: alive, /health 200, RSS bounded', async (t) => {
    assert.ok(server.alive, server.output());
    const health = await server.request('GET', '/health');
    assert.equal(health.status, 200, health.describe);
    assert.equal(faultOf('GET', { status: health.status, contentType: health.headers['content-type'] ?? '', text: health.text }), null);
    const rssAfter = rssMb(server.pid);
    t.diagnostic(`${client.sent} requests in total; server RSS ${rssBefore} MB → ${rssAfter} MB (bound +${RSS_BOUND_MB} MB)`);
    assert.ok(rssAfter - rssBefore < RSS_BOUND_MB, `RSS grew from ${rssBefore} to ${rssAfter} MB`);
  });
});

/** The body with `"token"` set to the lease token when it is a JSON object (or absent), else unchanged. */
function withLeaseToken(body: string | Uint8Array | undefined, token: string): string | Uint8Array | undefined {
  if (body === undefined) return JSON.stringify({ token });
  if (typeof body !== 'string') return body;
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return JSON.stringify({ ...parsed, token });
  } catch {
    /* not JSON: sent as it is */
  }
  return body;
}

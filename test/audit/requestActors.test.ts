// Every entry a request causes records who made it: the name of its token
// (never the secret), its address and its request id (X-Request-Id, or one
// generated and echoed). Over HTTP and WebSocket, read back from the server's
// log on disk through the real codec.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { actorOf } from '../../src/domain/actor.ts';
import { entriesOf, type Logged, loggedEntries } from '../support/loggedEntries.ts';
import { cleanupAll, qname, type Res, sleep, startServer, type TestServer, UUID_V7, waitFor } from '../support/testServer.ts';
import { WsTestClient } from '../support/wsClient.ts';

const ALICE = 'secret-alice-7f3a';
const PLAIN = 'plain-secret-91c2';
const BOB = 'bob-secret:with-colon';
const PLAIN_NAME = `sha256:${createHash('sha256').update(PLAIN).digest('hex').slice(0, 8)}`;

let srv: TestServer;

before(async () => {
  srv = await startServer({ env: { AUTH_TOKENS: `alice:${ALICE},${PLAIN},bob:${BOB}` } });
});
after(async () => {
  await cleanupAll();
});

function call(method: string, path: string, body?: unknown, token = ALICE, requestId?: string): Promise<Res> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (requestId !== undefined) headers['x-request-id'] = requestId;
  return srv.request(method, path, body, headers);
}

async function ok(res: Promise<Res>): Promise<Res> {
  const r = await res;
  assert.equal(r.status, 200, r.describe);
  return r;
}

/** The log's entries once `done` holds for them (entries reach the disk within WAL_FLUSH_MS of being applied). */
async function logWhen(done: (entries: Logged[]) => boolean): Promise<Logged[]> {
  let entries: Logged[] = [];
  await waitFor(async () => done((entries = await loggedEntries(srv.dataDir))), 5000, 20);
  return entries;
}

const request = (token: string | null, requestId: string) => ({ kind: 'request', token, address: '127.0.0.1', requestId });

describe('over HTTP', () => {
  it('push, pull, progress, ack, fail and cancel record the token name, the address and the request id', async () => {
    const q = qname('http');
    const pushed = await ok(call('POST', `/queues/${q}/jobs`, { data: 1 }, ALICE, 'push-1'));
    assert.equal(pushed.headers['x-request-id'], 'push-1', 'echoed');
    const id = pushed.json.id as string;
    const dependent = (await ok(call('POST', `/queues/${q}/jobs`, { data: 2, dependsOn: [id] }, ALICE, 'push-2'))).json.id as string;
    const pulled = await ok(call('GET', `/queues/${q}/jobs`, undefined, PLAIN));
    const pullId = pulled.headers['x-request-id'] as string;
    assert.match(pullId, UUID_V7, 'generated when the client sends none');
    const token = pulled.json.token as string;
    await ok(call('POST', `/jobs/${id}/progress`, { token, progress: 50 }, PLAIN, 'progress-1'));
    await ok(call('POST', `/jobs/${id}/ack`, { token }, BOB, 'ack-1'));

    const q2 = qname('http-fail');
    const failing = (await ok(call('POST', `/queues/${q2}/jobs`, { data: 3, maxAttempts: 1 }, ALICE, 'push-3'))).json.id as string;
    const failToken = (await ok(call('GET', `/queues/${q2}/jobs`, undefined, ALICE, 'pull-3'))).json.token;
    await ok(call('POST', `/jobs/${failing}/fail`, { token: failToken, error: 'boom' }, BOB, 'fail-3'));

    const cancelled = (await ok(call('POST', `/queues/${q}/jobs`, { data: 4 }, ALICE, 'push-4'))).json.id as string;
    const orphan = (await ok(call('POST', `/queues/${q}/jobs`, { data: 5, dependsOn: [cancelled] }, ALICE, 'push-5'))).json.id as string;
    await ok(call('DELETE', `/jobs/${cancelled}`, undefined, BOB, 'cancel-4'));

    const entries = await logWhen((all) => entriesOf(all, orphan).length === 2);
    const actors = (jobId: string) => entriesOf(entries, jobId).map((e) => [e.type, actorOf(e)]);
    assert.deepEqual(actors(id), [
      ['push', request('alice', 'push-1')],
      ['pull', request(PLAIN_NAME, pullId)],
      ['progress', request(PLAIN_NAME, 'progress-1')],
      ['ack', request('bob', 'ack-1')],
    ]);
    // The dependent left waiting-children because of the ack: the ack's request.
    assert.deepEqual(actors(dependent), [
      ['push', request('alice', 'push-2')],
      ['resolve', request('bob', 'ack-1')],
    ]);
    assert.deepEqual(actors(failing), [
      ['push', request('alice', 'push-3')],
      ['pull', request('alice', 'pull-3')],
      ['fail', request('bob', 'fail-3')],
    ]);
    // A cascade caused by a request is that request's.
    assert.deepEqual(actors(orphan), [
      ['push', request('alice', 'push-5')],
      ['fail', request('bob', 'cancel-4')],
    ]);
    assert.deepEqual(actors(cancelled)[1], ['cancel', request('bob', 'cancel-4')]);
    assert.ok(entries.every((e) => e.v === 2));
  });

  it('a long-polling pull served later is the parked request’s', async () => {
    const q = qname('lp');
    const parked = call('GET', `/queues/${q}/jobs?timeout=5000`, undefined, PLAIN, 'long-poll-1');
    await sleep(150); // parked
    const id = (await ok(call('POST', `/queues/${q}/jobs`, { data: 1 }, ALICE, 'wake-1'))).json.id as string;
    const answer = await ok(parked);
    assert.equal(answer.json.job?.id, id);
    assert.equal(answer.headers['x-request-id'], 'long-poll-1');
    const entries = await logWhen((all) => entriesOf(all, id).length === 2);
    assert.deepEqual(actorOf(entriesOf(entries, id)[1] as Logged), request(PLAIN_NAME, 'long-poll-1'));
  });

  it('X-Request-Id: kept up to 128 printable characters, else replaced; on every answer, errors and preflight included', async () => {
    const q = qname('rid');
    const long = 'r'.repeat(128);
    assert.equal((await ok(call('POST', `/queues/${q}/jobs`, { data: 1 }, ALICE, long))).headers['x-request-id'], long);
    const tooLong = await ok(call('POST', `/queues/${q}/jobs`, { data: 1 }, ALICE, 'r'.repeat(129)));
    assert.match(tooLong.headers['x-request-id'] as string, UUID_V7);
    const latin1 = await ok(call('POST', `/queues/${q}/jobs`, { data: 1 }, ALICE, 'caf\u00e9'));
    assert.match(latin1.headers['x-request-id'] as string, UUID_V7);

    const unauthorized = await srv.request('POST', `/queues/${q}/jobs`, { data: 1 }, { 'x-request-id': 'no-token' });
    assert.equal(unauthorized.status, 401);
    assert.equal(unauthorized.headers['x-request-id'], 'no-token');
    const unknown = await call('GET', '/no/such/route', undefined, ALICE, 'lost');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers['x-request-id'], 'lost');
    const preflight = await srv.request('OPTIONS', '/queues/x/jobs');
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers['x-request-id'] as string, UUID_V7);
    const health = await srv.request('GET', '/health');
    assert.match(health.headers['x-request-id'] as string, UUID_V7);
    assert.equal(health.headers['access-control-expose-headers'], 'X-Request-Id', 'browser code may read it');
  });
});

describe('over WebSocket', () => {
  it('commands record the token of the upgrade or of Auth, the address, and <connection id>/<n>[/<reqId>]', async () => {
    const q = qname('ws');
    const ws = await WsTestClient.connect(srv.port, '/ws', { authorization: `Bearer ${ALICE}`, 'x-request-id': 'conn-A' });
    try {
      assert.equal(ws.upgradeHeaders['x-request-id'], 'conn-A', 'the 101 carries the connection id');
      const pushed = await ws.request({ cmd: 'PUSH', queue: q, data: 1, reqId: 'p1' }); // command 1
      assert.equal(pushed.ok, true);
      const id = pushed.id as string;
      const pulled = await ws.request({ cmd: 'PULL', queue: q, reqId: 7 }); // 2
      assert.equal(pulled.job?.id, id);
      assert.equal((await ws.request({ cmd: 'Auth', token: BOB })).ok, true); // 3
      // 4: no reqId at all (the answer has none either).
      ws.sendRaw(JSON.stringify({ cmd: 'PROGRESS', id, token: pulled.token, progress: 10 }));
      await ws.nextMessage((m) => m.ok === true && m.reqId === undefined, 'the PROGRESS answer');
      assert.equal((await ws.request({ cmd: 'ACK', id, token: pulled.token, reqId: 'x'.repeat(129) })).ok, true); // 5
      const second = (await ws.request({ cmd: 'PUSH', queue: q, data: 2, reqId: 'p6' })).id as string; // 6
      const secondToken = (await ws.request({ cmd: 'PULL', queue: q, reqId: 'l7' })).token; // 7
      assert.equal((await ws.request({ cmd: 'FAIL', id: second, token: secondToken, error: 'e', reqId: 'f8' })).ok, true); // 8
      const third = (await ws.request({ cmd: 'PUSH', queue: q, data: 3, reqId: 'p9' })).id as string; // 9
      assert.equal((await ws.request({ cmd: 'CANCEL', id: third, reqId: 'c10' })).ok, true); // 10

      const entries = await logWhen((all) => entriesOf(all, third).length === 2);
      const actors = (jobId: string) => entriesOf(entries, jobId).map((e) => [e.type, actorOf(e)]);
      assert.deepEqual(actors(id), [
        ['push', request('alice', 'conn-A/1/p1')],
        ['pull', request('alice', 'conn-A/2/7')],
        ['progress', request('bob', 'conn-A/4')],
        ['ack', request('bob', 'conn-A/5')],
      ]);
      assert.deepEqual(actors(second).map(([type, actor]) => [type, (actor as { requestId: string }).requestId]), [
        ['push', 'conn-A/6/p6'],
        ['pull', 'conn-A/7/l7'],
        ['fail', 'conn-A/8/f8'],
      ]);
      assert.deepEqual(actors(third)[1], ['cancel', request('bob', 'conn-A/10/c10')]);
    } finally {
      ws.close();
    }
  });

  it('?token= names the token; without X-Request-Id the connection id is generated and sent in the 101', async () => {
    const q = qname('wsq');
    const ws = await WsTestClient.connect(srv.port, `/ws?token=${encodeURIComponent(PLAIN)}`);
    try {
      const connectionId = ws.upgradeHeaders['x-request-id'] as string;
      assert.match(connectionId, UUID_V7);
      const id = (await ws.request({ cmd: 'PUSH', queue: q, data: 1, reqId: 'a' })).id as string;
      const entries = await logWhen((all) => entriesOf(all, id).length === 1);
      assert.deepEqual(actorOf(entriesOf(entries, id)[0] as Logged), request(PLAIN_NAME, `${connectionId}/1/a`));
    } finally {
      ws.close();
    }
  });

  it('a refused upgrade carries X-Request-Id too', async () => {
    const refused = await WsTestClient.refused(srv.port, '/ws', { 'x-request-id': 'refused-1' });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers['x-request-id'], 'refused-1');
  });
});

describe('the log holds names, never secrets', () => {
  it('no configured token appears in any segment file', async () => {
    const dir = join(srv.dataDir, 'wal');
    await logWhen((all) => all.length > 0);
    for (const name of readdirSync(dir)) {
      const bytes = readFileSync(join(dir, name));
      for (const secret of [ALICE, PLAIN, BOB]) assert.equal(bytes.includes(secret), false, `${secret} found in ${name}`);
      assert.equal(bytes.includes('"t":"alice"'), true, 'the name is there');
    }
  });
});

describe('behind a trusted proxy', () => {
  it('the address recorded is the forwarded client, as TRUST_PROXY says (the rate limit’s notion)', async () => {
    const proxied = await startServer({ env: { TRUST_PROXY: 'loopback' } });
    const q = qname('proxy');
    const pushed = await proxied.pushRaw(q, { data: 1 }, { 'x-forwarded-for': '203.0.113.9', 'x-request-id': 'via-proxy' });
    assert.equal(pushed.status, 200, pushed.describe);
    const id = pushed.json.id as string;
    let entries: Logged[] = [];
    await waitFor(async () => (entries = entriesOf(await loggedEntries(proxied.dataDir), id)).length === 1, 5000, 20);
    assert.deepEqual(actorOf(entries[0] as Logged), { kind: 'request', token: null, address: '203.0.113.9', requestId: 'via-proxy' });
    await proxied.stop();
  });
});

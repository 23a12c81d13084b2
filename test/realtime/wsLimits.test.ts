// WebSocket admission and per-connection bounds: Origin checked at the upgrade, unanswered commands capped per socket.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { cleanupAll, qname, startServer } from '../support/testServer.ts';
import { WsTestClient } from '../support/wsClient.ts';

after(async () => {
  await cleanupAll();
});

describe('WebSocket Origin', () => {
  it('with CORS_ALLOW_ORIGIN set, another origin is refused with 403 before the handshake; no Origin is a non-browser client', async () => {
    const srv = await startServer({ env: { CORS_ALLOW_ORIGIN: 'https://good.example' } });
    for (const origin of ['https://evil.example', 'http://good.example', 'https://good.example.evil.example', 'null']) {
      const refused = await WsTestClient.refused(srv.port, '/ws', { origin });
      assert.equal(refused.status, 403, origin);
      assert.deepEqual(refused.json, { ok: false, error: 'Origin not allowed' });
    }
    // Nothing was opened by the refused ones.
    assert.equal((await srv.request('GET', '/health')).json.connections.ws, 0);
    for (const headers of [{}, { origin: 'https://good.example' }, { origin: 'HTTPS://GOOD.EXAMPLE' }] as Array<Record<string, string>>) {
      const ws = await WsTestClient.connect(srv.port, '/ws/queues/q', headers);
      assert.equal((await ws.request({ cmd: 'Ping' })).ok, true, JSON.stringify(headers));
      ws.close();
    }
    await srv.stop();
  });

  it('with the default *, any origin may connect', async () => {
    const srv = await startServer();
    const ws = await WsTestClient.connect(srv.port, '/ws', { origin: 'https://anywhere.example' });
    assert.equal((await ws.request({ cmd: 'Ping' })).ok, true);
    ws.close();
    await srv.stop();
  });
});

describe('WS_MAX_INFLIGHT', () => {
  it('refuses a command beyond the cap with an error answer; the connection stays and frees up as answers go out', async () => {
    const srv = await startServer({ env: { WS_MAX_INFLIGHT: '5' } });
    const q = qname('inflight');
    const ws = await WsTestClient.connect(srv.port, '/ws');
    const parked = Array.from({ length: 5 }, (_, i) => ws.request({ cmd: 'PULL', queue: q, timeout: 10_000, reqId: `park-${i}` }));
    const refused = await ws.request({ cmd: 'PULL', queue: q, timeout: 10_000, reqId: 'over' });
    assert.deepEqual(refused, { ok: false, error: 'Too many commands in flight on this connection (max 5)', reqId: 'over' });
    assert.equal((await ws.request({ cmd: 'Ping', reqId: 'ping-over' })).ok, false, 'every command counts');
    // One parked pull gets a job: its slot is free again.
    const id = await srv.push(q, { data: 1 });
    const served = await Promise.race(parked);
    assert.equal(served.job?.id, id);
    assert.equal((await ws.request({ cmd: 'Ping' })).ok, true);
    // The refused pull parked nothing: four waiters are left.
    const heap = await srv.request('GET', '/heapstats');
    assert.equal(heap.json.topObjectTypes.find((t: { type: string }) => t.type === 'PullWaiter')?.count, 4, JSON.stringify(heap.json.topObjectTypes));
    ws.close();
    await srv.stop();
  });
});

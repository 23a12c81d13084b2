// Many idle TCP connections (opened, nothing sent): the server keeps answering an ordinary client promptly, its
// memory stays bounded, and it lets go of them. `npm test` opens 2 000; `npm run hostile` opens 10 000.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HEADERS_TIMEOUT_MS } from '../../src/server/httpServer.ts';
import { rssMb } from '../support/hostile.ts';
import { cleanupAll, sleep, startServer, type TestServer, waitFor } from '../support/testServer.ts';

const IDLE = Number(process.env.IDLE_CONNECTIONS ?? 2000);
/** Opened this many at a time, under the listen backlog. */
const OPEN_STEP = 250;
/** What the idle sockets may cost the server, all together (about 10 KB each). */
const RSS_BOUND_MB = 150;
/** An ordinary request while they are open must come back within this. */
const PROMPT_MS = 2000;

after(async () => {
  await cleanupAll();
});

function openIdle(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

describe(`${IDLE} idle connections`, () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });

  it('the server keeps serving, stays within its memory bound, and lets them go', async (t) => {
    const rssBefore = rssMb(server.pid);
    const sockets: Socket[] = [];
    const cutByServer = { count: 0 };
    const started = Date.now();
    try {
      for (let i = 0; i < IDLE; i += OPEN_STEP) {
        const step = await Promise.all(Array.from({ length: Math.min(OPEN_STEP, IDLE - i) }, () => openIdle(server.port)));
        for (const socket of step) {
          socket.on('error', () => {});
          socket.once('close', () => (cutByServer.count += 1));
          sockets.push(socket);
        }
      }
      const openedMs = Date.now() - started;
      // The server has accepted every one of them.
      await waitFor(async () => (await server.request('GET', '/health')).json?.connections?.tcp >= IDLE, 10_000, 100);
      const rssWith = rssMb(server.pid);

      // An ordinary client is served promptly, repeatedly, while they are all open.
      let slowest = 0;
      for (let i = 0; i < 10; i++) {
        const t0 = Date.now();
        const id = await server.push('idle-q', { data: i });
        const pulled = await server.pull('idle-q');
        assert.equal(pulled.job?.id, id);
        assert.equal((await server.ack(id, { token: pulled.token })).status, 200);
        slowest = Math.max(slowest, Date.now() - t0);
      }
      assert.ok(slowest < PROMPT_MS, `push+pull+ack took ${slowest} ms with ${IDLE} idle connections`);
      assert.ok(rssWith - rssBefore < RSS_BOUND_MB, `RSS ${rssBefore} → ${rssWith} MB with ${IDLE} idle connections`);

      // Then they are closed: the server lets go of every one.
      const cutBeforeClose = cutByServer.count;
      for (const socket of sockets) socket.destroy();
      await waitFor(async () => (await server.request('GET', '/health')).json?.connections?.tcp <= 2, 15_000, 100);
      await sleep(200);
      const rssAfter = rssMb(server.pid);
      t.diagnostic(
        `${IDLE} opened in ${openedMs} ms (${cutBeforeClose} cut by the server before we closed them; headers timeout ${HEADERS_TIMEOUT_MS} ms); ` +
          `push+pull+ack meanwhile: slowest ${slowest} ms; server RSS ${rssBefore} → ${rssWith} (open) → ${rssAfter} MB (closed)`,
      );
      assert.ok(server.alive, server.output());
      assert.equal((await server.request('GET', '/health')).status, 200);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });
});

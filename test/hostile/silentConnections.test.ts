// A connection that never sends a byte is closed after SILENT_CONNECTION_TIMEOUT_MS, while a long poll and a
// WebSocket that stay quiet for longer than that are left alone, and keep-alive still works.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { cleanupAll, sleep, startServer, type TestServer } from '../support/testServer.ts';
import { WsTestClient } from '../support/wsClient.ts';

const SILENT_MS = 600;

after(async () => {
  await cleanupAll();
});

/** When each socket connected: the server's timer cannot start before that. */
const connectedAt = new WeakMap<Socket, number>();

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      connectedAt.set(socket, Date.now());
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Resolves with the ms the socket lived once the server closes it, or null if it is still open after `waitMs`. */
function closedWithin(socket: Socket, waitMs: number): Promise<number | null> {
  const opened = connectedAt.get(socket) ?? Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), waitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - opened);
    });
  });
}

describe('silent connections', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ env: { SILENT_CONNECTION_TIMEOUT_MS: String(SILENT_MS) } });
  });

  it('a socket that sends nothing is closed by the server after the timeout', async () => {
    const sockets = await Promise.all(Array.from({ length: 50 }, () => openSocket(server.port)));
    for (const socket of sockets) socket.on('error', () => {});
    const lived = await Promise.all(sockets.map((socket) => closedWithin(socket, SILENT_MS * 10)));
    for (const ms of lived) {
      assert.notEqual(ms, null, 'a silent socket was still open long after the timeout');
      assert.ok((ms as number) >= SILENT_MS - 50, `closed after ${ms} ms, before the ${SILENT_MS} ms timeout`);
    }
  });

  it('a long poll quiet for longer than the timeout is answered, not cut', async () => {
    const queue = 'silent-long-poll';
    const pulling = server.pull(queue, SILENT_MS * 4);
    await sleep(SILENT_MS * 2);
    const id = await server.push(queue, { data: 1 });
    const pulled = await pulling;
    assert.equal(pulled.res.status, 200, pulled.res.describe);
    assert.equal(pulled.job?.id, id);
  });

  it('a WebSocket quiet for longer than the timeout stays open', async () => {
    const client = await WsTestClient.connect(server.port, '/ws');
    await sleep(SILENT_MS * 2);
    const pong = await client.request({ cmd: 'Ping' });
    assert.equal(pong.ok, true, JSON.stringify(pong));
    client.close();
  });

  it('a client that spoke keeps its keep-alive connection for a second request', async () => {
    const socket = await openSocket(server.port);
    const answers: string[] = [];
    socket.on('data', (chunk) => answers.push(chunk.toString()));
    const get = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    socket.write(get);
    await sleep(SILENT_MS / 3);
    socket.write(get);
    await sleep(SILENT_MS / 3);
    const statuses = answers.join('').match(/HTTP\/1\.1 \d{3}/g) ?? [];
    assert.deepEqual(statuses, ['HTTP/1.1 200', 'HTTP/1.1 200']);
    socket.destroy();
  });
});

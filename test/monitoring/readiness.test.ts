// GET /ready: 200 while the server accepts work, 503 once shutdown began.
//
// After SIGTERM the server stops accepting connections at once and closes
// idle keep-alive sockets, so a probe on a fresh connection is refused rather
// than answered. A connection whose request is still being received is not
// idle: this test opens one before SIGTERM with the request's headers cut
// short, waits for the server to log "shutting down", then sends the end of
// the headers. That request reaches the router during shutdown and must be
// answered 503.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { cleanupAll, startServer, waitFor, type TestServer } from '../support/testServer.ts';

let srv: TestServer;

before(async () => {
  srv = await startServer();
});
after(async () => {
  await cleanupAll();
});

/** Reads from `socket` until it closes or `done(text)` holds. */
function readUntil(socket: Socket, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const finish = () => resolve(text);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (done(text)) finish();
    });
    socket.once('end', finish);
    socket.once('close', finish);
    socket.once('error', reject);
  });
}

describe('GET /ready', () => {
  it('answers 200 {ok:true, ready:true} while running', async () => {
    const r = await srv.request('GET', '/ready');
    assert.equal(r.status, 200, r.describe);
    assert.deepEqual(r.json, { ok: true, ready: true });
  });

  it('answers 503 {ok:false, ready:false} once shutdown began', async () => {
    const socket = connect(srv.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write('GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    // The server has the socket (and the request has begun) before it is told to stop.
    await waitFor(async () => (await srv.request('GET', '/health')).json.connections.tcp >= 2);
    const answer = readUntil(socket, (text) => /\r\n\r\n[\s\S]*\}/.test(text));
    const stopped = srv.stop();
    await waitFor(() => srv.output().includes('"msg":"shutting down"'), 5000, 2);
    socket.write('\r\n');
    const text = await answer;
    socket.destroy();
    assert.match(text, /^HTTP\/1\.1 503 /, text);
    const body = text.slice(text.indexOf('\r\n\r\n') + 4);
    assert.deepEqual(JSON.parse(body), { ok: false, ready: false }, text);
    assert.equal(await stopped, 0, srv.output());
  });
});

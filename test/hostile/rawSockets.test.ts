// What only a raw TCP client can send: bodies over the limit, invalid UTF-8, truncated and mis-framed bodies,
// chunked-encoding garbage, header floods, malformed WebSocket handshakes and slow-loris clients. Every refusal is
// a 4xx in the error format, and the server keeps serving everyone else.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HEADERS_TIMEOUT_MS } from '../../src/server/httpServer.ts';
import { contentTypeOf, errorShapeFault, parseRaw, rawExchange, rawRequest, type RawResponse, rssMb } from '../support/hostile.ts';
import { cleanupAll, sleep, startServer, type TestServer } from '../support/testServer.ts';

const MAX_BODY = 4096;

after(async () => {
  await cleanupAll();
});

/** Asserts a 4xx of `status` with a body `{"ok":false,"error":string}`. */
function assertRefused(res: RawResponse, status: number, what: string): void {
  assert.equal(res.status, status, `${what}: ${res.raw.slice(0, 400)}`);
  assert.equal(errorShapeFault(res.status, contentTypeOf(res.head), res.body), null, `${what}: ${res.raw.slice(0, 400)}`);
}

describe('raw sockets', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ env: { MAX_BODY_BYTES: String(MAX_BODY) } });
  });

  /** The server still answers an ordinary request (and is alive). */
  async function stillServing(): Promise<void> {
    assert.ok(server.alive, server.output());
    const res = await server.request('POST', '/queues/raw-ok/jobs', { data: 1 });
    assert.equal(res.status, 200, res.describe);
  }

  it('a body over MAX_BODY_BYTES is refused with 413 as soon as it is declared, and when chunked', async () => {
    // Declares 10 MB, sends 5 000 bytes: the answer must not wait for the rest.
    const declared = await rawExchange(server.port, [rawRequest('POST', '/queues/q/jobs', { 'Content-Type': 'application/json', 'Content-Length': 10_000_000 }, `{"data":"${'x'.repeat(5000)}`)]);
    assertRefused(declared, 413, 'declared too large');
    const chunk = `{"data":"${'x'.repeat(MAX_BODY)}"}`;
    const chunked = await rawExchange(server.port, [
      rawRequest('POST', '/queues/q/jobs', { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }),
      `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`,
    ]);
    assertRefused(chunked, 413, 'chunked too large');
    await stillServing();
  });

  it('a body that is not UTF-8 is refused with 400', async () => {
    for (const bad of [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80]]) {
      const body = Buffer.concat([Buffer.from('{"data":"'), Buffer.from(bad), Buffer.from('"}')]);
      const head = rawRequest('POST', '/queues/q/jobs', { 'Content-Type': 'application/json', 'Content-Length': body.length });
      assertRefused(await rawExchange(server.port, [head, body]), 400, `bytes ${Buffer.from(bad).toString('hex')}`);
    }
    await stillServing();
  });

  it('a truncated body (the client gives up) gets a 4xx or a closed socket, never a 5xx', async () => {
    const res = await rawExchange(
      server.port,
      [rawRequest('POST', '/queues/q/jobs', { 'Content-Type': 'application/json', 'Content-Length': 100 }, '{"data":"only part')],
      { endAfterWrite: true, waitMs: 3000 },
    );
    assert.ok(res.status === 0 ? res.closedByServer : res.status >= 400 && res.status < 500, res.raw.slice(0, 300));
    if (res.status !== 0) assert.equal(errorShapeFault(res.status, contentTypeOf(res.head), res.body), null);
    await stillServing();
  });

  it('bytes past Content-Length, chunked garbage and conflicting framing: 400 in the error format', async () => {
    const cases: Array<[string, string]> = [
      // The extra bytes are read as the next request, which is garbage.
      ['body longer than Content-Length', rawRequest('POST', '/queues/q/jobs', { 'Content-Type': 'application/json', 'Content-Length': 5 }, '{"data":1} and then some garbage\r\n\r\n').replace('Connection: close', 'Connection: keep-alive')],
      ['invalid chunk size', `${rawRequest('POST', '/queues/q/jobs', { 'Transfer-Encoding': 'chunked' })}ZZZ\r\nxx\r\n0\r\n\r\n`],
      ['chunk longer than its size', `${rawRequest('POST', '/queues/q/jobs', { 'Transfer-Encoding': 'chunked' })}2\r\n{"data":1}\r\n0\r\n\r\n`],
      ['both Content-Length and chunked', `${rawRequest('POST', '/queues/q/jobs', { 'Transfer-Encoding': 'chunked', 'Content-Length': 3 })}0\r\n\r\n`],
      ['unknown transfer coding', `${rawRequest('POST', '/queues/q/jobs', { 'Transfer-Encoding': 'gzip, x' })}{}`],
      ['not HTTP at all', '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003 hello\r\n\r\n'],
      ['a header line without a colon', 'GET /health HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n'],
      ['a control character in a header value', 'GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\u0001b\r\n\r\n'],
      ['a bad request line', 'GET  /health  HTTP/9.9\r\nHost: x\r\n\r\n'],
    ];
    for (const [what, bytes] of cases) {
      const res = await rawExchange(server.port, [bytes]);
      // The first answer may be the valid request's own; the refusal is the last answer on the socket.
      const last = res.raw.lastIndexOf('HTTP/1.1 ');
      const tail = last > 0 ? parseRaw(res.raw.slice(last)) : res;
      assertRefused(tail, 400, what);
    }
    await stillServing();
  });

  it('a GET with a body is served (the body is ignored or refused, never a 5xx)', async () => {
    const res = await rawExchange(server.port, [rawRequest('GET', '/queues/raw-get/jobs', { 'Content-Type': 'application/json', 'Content-Length': 11 }, '{"data":42}')]);
    assert.ok(res.status > 0 && res.status < 500, res.raw.slice(0, 300));
  });

  it('header floods: one huge header or too many headers get 431; many small ones are fine', async () => {
    const huge = await rawExchange(server.port, [rawRequest('GET', '/health', { 'X-Huge': 'h'.repeat(20_000) })]);
    assertRefused(huge, 431, 'one 20 KB header');
    const many: Record<string, string> = {};
    for (let i = 0; i < 3000; i++) many[`X-H${i}`] = String(i);
    assertRefused(await rawExchange(server.port, [rawRequest('GET', '/health', many)]), 431, '3000 headers');
    const some: Record<string, string> = {};
    for (let i = 0; i < 500; i++) some[`X-H${i}`] = '1';
    const fine = await rawExchange(server.port, [rawRequest('GET', '/health', some)]);
    assert.equal(fine.status, 200, fine.raw.slice(0, 300));
    await stillServing();
  });

  it('malformed WebSocket handshakes are refused in the error format', async () => {
    const upgrade = (method: string, headers: Record<string, string>) =>
      rawRequest(method, '/ws', { Upgrade: 'websocket', ...headers }).replace('Connection: close', 'Connection: Upgrade');
    const key = 'dGhlIHNhbXBsZSBub25jZQ==';
    assertRefused(await rawExchange(server.port, [upgrade('GET', { 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': '!!!!' })]), 400, 'bad key');
    assertRefused(await rawExchange(server.port, [upgrade('GET', { 'Sec-WebSocket-Key': key })]), 400, 'no version');
    assertRefused(await rawExchange(server.port, [upgrade('GET', { 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Protocol': ',,' })]), 400, 'bad protocol list');
    // Only a GET upgrades: another method is an unknown endpoint, as over plain HTTP.
    assertRefused(await rawExchange(server.port, [upgrade('POST', { 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': key })]), 404, 'POST upgrade');
    await stillServing();
  });

  it(`slow-loris: 200 sockets trickling headers are cut after ${HEADERS_TIMEOUT_MS} ms with 408 while others are served`, async (t) => {
    const rssBefore = rssMb(server.pid);
    const request = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' + 'z'.repeat(400);
    const sockets: Array<{ socket: Socket; closedAt: number | null; answer: string }> = [];
    const started = Date.now();
    for (let i = 0; i < 200; i++) {
      const entry = { socket: connect(server.port, '127.0.0.1'), closedAt: null as number | null, answer: '' };
      entry.socket.on('data', (d) => (entry.answer += d.toString('latin1')));
      entry.socket.on('close', () => (entry.closedAt = Date.now()));
      entry.socket.on('error', () => {});
      sockets.push(entry);
    }
    // One byte per 100 ms on every socket: never a complete header block.
    let sent = 0;
    const trickle = setInterval(() => {
      for (const { socket } of sockets) if (!socket.destroyed) socket.write(request[sent % request.length] as string);
      sent += 1;
    }, 100);
    try {
      // Meanwhile an ordinary client is served promptly, again and again.
      let slowest = 0;
      while (Date.now() - started < HEADERS_TIMEOUT_MS - 1000) {
        const t0 = Date.now();
        await stillServing();
        slowest = Math.max(slowest, Date.now() - t0);
        await sleep(250);
      }
      assert.ok(slowest < 1000, `an ordinary request took ${slowest} ms during the slow-loris`);
      const deadline = started + HEADERS_TIMEOUT_MS + 5000;
      while (sockets.some((s) => s.closedAt === null) && Date.now() < deadline) await sleep(100);
      const open = sockets.filter((s) => s.closedAt === null).length;
      assert.equal(open, 0, `${open} of 200 slow sockets still open ${Date.now() - started} ms after they connected`);
      const latest = Math.max(...sockets.map((s) => s.closedAt as number)) - started;
      t.diagnostic(`all 200 cut within ${latest} ms; slowest ordinary request meanwhile ${slowest} ms; RSS ${rssBefore} → ${rssMb(server.pid)} MB`);
      const answer = sockets[0]?.answer ?? '';
      const res = parseRaw(answer);
      assertRefused(res, 408, 'slow-loris socket');
    } finally {
      clearInterval(trickle);
      for (const { socket } of sockets) socket.destroy();
    }
    await stillServing();
  });
});

// MAX_JSON_DEPTH: nesting is measured on the raw bytes before parsing, for HTTP bodies and WebSocket commands.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { nestedDeeperThan } from '../../src/api/jsonDepth.ts';
import { cleanupAll, qname, startServer, type TestServer } from '../support/testServer.ts';
import { WsTestClient } from '../support/wsClient.ts';

after(async () => {
  await cleanupAll();
});

/** A push body nested `depth` levels in all, its outer object included: `{"data":[[…1…]]}`. */
function pushBody(depth: number): string {
  return `{"data":${'['.repeat(depth - 1)}1${']'.repeat(depth - 1)}}`;
}

const TOO_DEEP = { ok: false, error: 'JSON nested deeper than 64 levels' };

describe('the depth scan', () => {
  const deeper = (text: string, max: number) => nestedDeeperThan(Buffer.from(text), max);
  it('counts arrays and objects, not brackets inside strings or after escapes', () => {
    assert.equal(deeper('{"a":[{"b":[]}]}', 4), false);
    assert.equal(deeper('{"a":[{"b":[]}]}', 3), true);
    assert.equal(deeper('{"a":"[[[[[[[[[["}', 1), false);
    assert.equal(deeper('{"a":"\\"[[[[[[["}', 1), false, 'an escaped quote does not end the string');
    assert.equal(deeper('{"a":"\\\\"}', 1), false, 'an escaped backslash does not escape the closing quote');
    assert.equal(deeper('["é[[[", "日本"]', 1), false, 'multi-byte UTF-8 inside strings');
    assert.equal(deeper(']]]]]]]]]]' + '['.repeat(5), 4), true, 'unbalanced closers buy no depth');
  });
});

describe('MAX_JSON_DEPTH (default 64)', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer();
  });

  it('HTTP: 100 000 deep and 65 deep get 400 at once; 64 deep is accepted and reads back', async () => {
    const q = qname('deep');
    const started = performance.now();
    const huge = await srv.pushRaw(q, pushBody(100_000));
    assert.equal(huge.status, 400, huge.describe);
    assert.deepEqual(huge.json, TOO_DEEP);
    assert.ok(performance.now() - started < 2000, 'answered quickly');
    const over = await srv.pushRaw(q, pushBody(65));
    assert.equal(over.status, 400, over.describe);
    assert.deepEqual(over.json, TOO_DEEP);
    // Objects count like arrays.
    const objects = await srv.pushRaw(q, `{"data":${'{"a":'.repeat(64)}1${'}'.repeat(64)}}`);
    assert.equal(objects.status, 400, objects.describe);
    const atLimit = await srv.pushRaw(q, pushBody(64));
    assert.equal(atLimit.status, 200, atLimit.describe);
    const job = await srv.getJob(atLimit.json.id);
    assert.equal(JSON.stringify(job.data), `${'['.repeat(63)}1${']'.repeat(63)}`);
    // Other bodies too (ack, fail, progress).
    const ack = await srv.request('POST', `/jobs/${atLimit.json.id}/ack`, `{"result":${'['.repeat(70)}${']'.repeat(70)}}`);
    assert.deepEqual(ack.json, TOO_DEEP, ack.describe);
  });

  it('HTTP: an 11 MB body of [[[[… is refused fast and /health answers meanwhile', async () => {
    // The big body comes from another process, so this one only measures /health.
    const sender = spawn(
      process.execPath,
      [
        '-e',
        `const body = Buffer.alloc(11 * 1024 * 1024 - 100, '[');
         console.log('sending');
         const started = Date.now();
         const req = require('node:http').request({ host: '127.0.0.1', port: ${srv.port}, path: '/queues/q/jobs', method: 'POST',
           headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
           res.resume();
           res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, ms: Date.now() - started })));
         });
         req.end(body);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    sender.stdout.on('data', (chunk) => (output += chunk));
    const exited = new Promise((resolve) => sender.once('exit', resolve));
    const healthTimes: number[] = [];
    let done = false;
    void exited.then(() => (done = true));
    // Measure from the moment the body starts flowing (the sender's own start-up is not the server's doing).
    while (!output.includes('sending') && !done) await new Promise((resolve) => setTimeout(resolve, 2));
    do {
      const started = performance.now();
      assert.equal((await srv.request('GET', '/health')).status, 200);
      healthTimes.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 5));
    } while (!done);
    const answer = JSON.parse(output.replace('sending', '')) as { status: number; ms: number };
    assert.equal(answer.status, 400);
    assert.ok(answer.ms < 3000, `refused in ${answer.ms} ms`);
    // Idle, /health stays under ~60 ms here; the bound leaves room for a loaded CI machine. Before the
    // depth check, parsing this body stalled the server for seconds (and overflowed the stack after).
    assert.ok(Math.max(...healthTimes) < 1000, `/health answered within 1 s while the body was handled: ${healthTimes.map(Math.round).join(', ')}`);
  });

  it('WebSocket: a too-deep command gets an error answer and the socket stays usable', async () => {
    const ws = await WsTestClient.connect(srv.port, '/ws');
    const q = qname('deepws');
    ws.sendRaw(`{"cmd":"PUSH","queue":"${q}","reqId":"deep","data":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    const refused = await ws.nextMessage((m) => m.error === TOO_DEEP.error, 'the depth error');
    assert.deepEqual(refused, TOO_DEEP);
    ws.sendRaw(`{"cmd":"PUSH","queue":"${q}","reqId":"d65","data":${'['.repeat(64)}${']'.repeat(64)}}`);
    await ws.until(() => ws.received.filter((m) => m.error === TOO_DEEP.error).length === 2, 'the second depth error');
    const ok = await ws.request({ cmd: 'PUSH', queue: q, data: JSON.parse(`${'['.repeat(63)}${']'.repeat(63)}`) });
    assert.equal(ok.ok, true, JSON.stringify(ok));
    assert.equal((await ws.request({ cmd: 'GetJob', id: ok.id })).ok, true);
    ws.close();
  });

  it('is configurable', async () => {
    const small = await startServer({ env: { MAX_JSON_DEPTH: '3' } });
    assert.equal((await small.pushRaw(qname('d'), pushBody(3))).status, 200);
    const refused = await small.pushRaw(qname('d'), pushBody(4));
    assert.deepEqual(refused.json, { ok: false, error: 'JSON nested deeper than 3 levels' });
    await small.stop();
  });
});

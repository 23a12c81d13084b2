// Property-based fuzzing of the WebSocket endpoints: random text and binary frames, invalid UTF-8, commands of
// the wrong shape, huge ids, deep-ish nesting, oversized frames, and random upgrade requests. After every batch
// the socket still answers a Ping, or was closed with a close code that names what was wrong; the server lives.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import WebSocket from 'ws';
import { anyString, headerSet, invalidUtf8Body, jsonText, pathSegment, queryString } from '../support/fuzzInputs.ts';
import { CONCURRENCY, contentTypeOf, errorShapeFault, FUZZ_SEED, fuzz, rawExchange, rawRequest, rssMb } from '../support/hostile.ts';
import { cleanupAll, startServer, type TestServer } from '../support/testServer.ts';

const MAX_PAYLOAD = 64 * 1024;
const FRAME_BATCHES = 100;
const FRAMES_PER_BATCH = 30;
const UPGRADE_BATCHES = 20;
const RSS_BOUND_MB = 150;
/** Close codes that tell the client what it did wrong: protocol error, invalid UTF-8, message too big. */
const EXPLAINED_CLOSES = new Set([1002, 1007, 1009]);

after(async () => {
  await cleanupAll();
});

const COMMAND_NAMES = ['PUSH', 'PULL', 'ACK', 'FAIL', 'PROGRESS', 'HEARTBEAT', 'GETJOB', 'CANCEL', 'PING', 'AUTH', 'push', 'Auth', 'pInG', 'NOPE', ''];
const COMMAND_FIELDS = ['cmd', 'queue', 'id', 'data', 'token', 'timeout', 'reqId', 'result', 'error', 'progress', 'message', 'jobId', 'delay', 'priority', 'dependsOn'];

type Frame = { kind: 'text'; text: string } | { kind: 'binary'; bytes: Uint8Array } | { kind: 'badText'; bytes: Uint8Array };

/** A command object as JSON text: a known or random `cmd` with random fields, as a client might get them wrong. */
const commandText = fc
  .tuple(
    fc.oneof(fc.constantFrom(...COMMAND_NAMES).map((c) => JSON.stringify(c)), jsonText),
    fc.array(fc.tuple(fc.oneof(fc.constantFrom(...COMMAND_FIELDS), anyString), jsonText), { maxLength: 5 }),
  )
  .map(([cmd, fields]) => `{"cmd":${cmd}${fields.map(([k, v]) => `,${JSON.stringify(k)}:${v}`).join('')}}`);

/** A valid-looking command with a huge id, token, reqId or queue. */
const hugeFieldText = fc
  .tuple(fc.constantFrom('ACK', 'FAIL', 'GETJOB', 'CANCEL', 'PUSH', 'PULL', 'PROGRESS'), fc.constantFrom('id', 'token', 'reqId', 'queue', 'jobId', 'uniqueKey'), fc.integer({ min: 1000, max: 15_000 }))
  .map(([cmd, field, size]) => JSON.stringify({ cmd, queue: 'fuzz-ws', id: 'x', data: 1, [field]: 'é'.repeat(size) }));

/** Nesting up to 200 deep in `data` or in an unknown field (a depth limit may refuse it: an answer either way). */
const nestedText = fc
  .tuple(fc.integer({ min: 1, max: 200 }), fc.constantFrom('[', '{"a":'), fc.constantFrom('data', 'result', 'x'))
  .map(([depth, open, field]) => {
    const close = open === '[' ? ']' : '}';
    return `{"cmd":"PUSH","queue":"fuzz-ws","data":1,"${field}":${open.repeat(depth)}1${close.repeat(depth)}}`;
  });

const frame: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 100, arbitrary: commandText.map((text): Frame => ({ kind: 'text', text })) },
  { weight: 40, arbitrary: jsonText.map((text): Frame => ({ kind: 'text', text })) },
  { weight: 40, arbitrary: anyString.map((text): Frame => ({ kind: 'text', text })) },
  { weight: 20, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes): Frame => ({ kind: 'binary', bytes })) },
  { weight: 20, arbitrary: commandText.map((text): Frame => ({ kind: 'binary', bytes: Buffer.from(text) })) },
  { weight: 20, arbitrary: hugeFieldText.map((text): Frame => ({ kind: 'text', text })) },
  { weight: 20, arbitrary: nestedText.map((text): Frame => ({ kind: 'text', text })) },
);

/** Frames that end the connection (1007 invalid UTF-8 in a text frame, 1009 over the payload limit): last in a batch. */
const closingFrame: fc.Arbitrary<Frame> = fc.oneof(
  invalidUtf8Body.map((bytes): Frame => ({ kind: 'badText', bytes })),
  fc.constant<Frame>({ kind: 'text', text: JSON.stringify({ cmd: 'PUSH', queue: 'q', data: 'x'.repeat(MAX_PAYLOAD) }) }),
);

/** A batch: frames the socket must survive, and in one batch of five a closing frame after them. */
const frameBatch = fc
  .tuple(
    fc.array(frame, { minLength: FRAMES_PER_BATCH, maxLength: FRAMES_PER_BATCH }),
    fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: closingFrame }),
  )
  .map(([frames, closing]) => (closing ? [...frames, closing] : frames));

/** One fuzzed connection: records every message's faults and how it closed. */
class Probe {
  readonly faults: string[] = [];
  closeCode: number | null = null;
  private readonly pongs = new Map<string, () => void>();
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => this.check(data.toString(), isBinary));
    ws.on('close', (code) => {
      this.closeCode = code;
      for (const wake of this.pongs.values()) wake();
    });
    ws.on('error', () => {});
  }

  static open(port: number, path: string): Promise<Probe> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
      ws.once('open', () => resolve(new Probe(ws)));
      ws.once('error', reject);
    });
  }

  send(f: Frame): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (f.kind === 'text') this.ws.send(f.text);
    else this.ws.send(f.bytes, { binary: f.kind === 'binary' });
  }

  /** True if a Ping is answered; false if the socket closed first. Throws if neither happens in time. */
  async ping(reqId: string): Promise<boolean> {
    if (this.closeCode !== null) return false;
    const answered = new Promise<void>((resolve) => this.pongs.set(reqId, resolve));
    this.ws.send(JSON.stringify({ cmd: 'Ping', reqId }));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), 10_000)));
    const outcome = await Promise.race([answered, late]);
    clearTimeout(timer);
    if (outcome === 'late') throw new Error(`no answer to Ping ${reqId} within 10 s and no close`);
    return this.closeCode === null;
  }

  private check(text: string, isBinary: boolean): void {
    if (isBinary) this.faults.push(`binary message from the server: ${text.slice(0, 100)}`);
    let message: any;
    try {
      message = JSON.parse(text);
    } catch {
      this.faults.push(`a message that is not JSON: ${text.slice(0, 200)}`);
      return;
    }
    if (typeof message !== 'object' || message === null) return void this.faults.push(`not an object: ${text.slice(0, 200)}`);
    if ('eventType' in message || 'connected' in message) return;
    if (message.ok === true) {
      if (typeof message.reqId === 'string' && this.pongs.has(message.reqId) && 'pong' in message) {
        this.pongs.get(message.reqId)?.();
        this.pongs.delete(message.reqId);
      }
      return;
    }
    if (message.ok !== false || typeof message.error !== 'string') this.faults.push(`an answer not shaped {ok,error}: ${text.slice(0, 200)}`);
    else if (/internal/i.test(message.error)) this.faults.push(`an internal error: ${text.slice(0, 300)}`);
  }
}

describe('WebSocket fuzzing (fast-check, fixed seed)', () => {
  let server: TestServer;
  let rssBefore: number;

  before(async () => {
    server = await startServer({ env: { MAX_BODY_BYTES: String(MAX_PAYLOAD) } });
    rssBefore = rssMb(server.pid);
  });

  it('random frames on /ws and /ws/queues/:queue: answers in the error format, then a Ping answered or an explained close', async (t) => {
    let frames = 0;
    let closes = 0;
    let pings = 0;
    const paths = ['/ws', '/ws/queues/fuzz-ws', '/ws/queues/fuzz-other'];
    await fuzz(
      'ws frames',
      fc.asyncProperty(fc.nat({ max: paths.length - 1 }), frameBatch, async (p, batch) => {
        const probe = await Probe.open(server.port, paths[p] as string);
        try {
          for (const f of batch) {
            probe.send(f);
            frames += 1;
          }
          const alive = await probe.ping(`ping-${++pings}`);
          if (!alive) {
            closes += 1;
            assert.ok(EXPLAINED_CLOSES.has(probe.closeCode ?? -1), `closed with ${probe.closeCode}`);
          }
          assert.deepEqual(probe.faults, []);
          assert.ok(server.alive, server.output());
        } finally {
          probe.ws.terminate();
        }
      }),
      FRAME_BATCHES,
    );
    t.diagnostic(`seed ${FUZZ_SEED}: ${frames} frames in ${FRAME_BATCHES} connections, ${closes} closed by the server with 1002/1007/1009`);
  });

  it('random upgrade requests (path, query, headers): 101 or a refusal in the error format', async (t) => {
    let upgrades = 0;
    const upgrade = fc.record({
      path: fc.oneof(
        fc.constant('/ws'),
        pathSegment(['fuzz-ws']).map((q) => `/ws/queues/${q}`),
        fc.webPath().map((p) => `/ws${p}`),
        fc.constantFrom('/ws/', '/ws/queues', '/ws/queues/', '/ws/queues/a/b', '/WS', '/ws//queues/x', '/events'),
      ),
      query: queryString,
      headers: headerSet,
      version: fc.constantFrom('13', '8', '', 'x'),
      key: fc.constantFrom('dGhlIHNhbXBsZSBub25jZQ==', '', 'short', '!!!!'),
    });
    await fuzz(
      'ws upgrades',
      fc.asyncProperty(fc.array(upgrade, { minLength: CONCURRENCY, maxLength: CONCURRENCY }), async (batch) => {
        const faults: string[] = [];
        await Promise.all(
          batch.map(async ({ path, query, headers, version, key }) => {
            const request = rawRequest('GET', path + query, {
              ...headers,
              Upgrade: 'websocket',
              'Sec-WebSocket-Version': version,
              'Sec-WebSocket-Key': key,
            }).replace('Connection: close', 'Connection: Upgrade');
            const res = await rawExchange(server.port, [request], { waitMs: 3000, firstResponse: true });
            upgrades += 1;
            if (res.status === 101) return;
            if (res.status === 0 || res.status >= 500) faults.push(`${path}${query} → ${res.status}: ${res.raw.slice(0, 300)}`);
            else if (res.status >= 400) {
              const fault = errorShapeFault(res.status, contentTypeOf(res.head), res.body);
              if (fault) faults.push(`${path}${query} ${JSON.stringify(headers)} v=${version} key=${key} → ${fault}`);
            }
          }),
        );
        assert.deepEqual(faults, []);
        assert.ok(server.alive, server.output());
      }),
      UPGRADE_BATCHES,
    );
    t.diagnostic(`seed ${FUZZ_SEED}: ${upgrades} upgrade requests`);
  });

  it('afterwards: alive, /health 200, a new socket works, RSS bounded', async (t) => {
    assert.ok(server.alive, server.output());
    const health = await server.request('GET', '/health');
    assert.equal(health.status, 200, health.describe);
    const probe = await Probe.open(server.port, '/ws');
    assert.equal(await probe.ping('last'), true);
    probe.ws.close();
    const rssAfter = rssMb(server.pid);
    t.diagnostic(`server RSS ${rssBefore} MB → ${rssAfter} MB (bound +${RSS_BOUND_MB} MB)`);
    assert.ok(rssAfter - rssBefore < RSS_BOUND_MB, `RSS grew from ${rssBefore} to ${rssAfter} MB`);
  });
});

// Who each entry is attributed to, decided in one place: rules stamp the
// server's own decisions with their reason (the deadline that caused them,
// cascades included; a repeat's next occurrence is `repeat`), and the ledger
// stamps the requester on everything else a command logs, cascades included.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { actorOf } from '../../src/domain/actor.ts';
import { decideAck } from '../../src/domain/decideAck.ts';
import { decideCancel } from '../../src/domain/decideCancel.ts';
import { decideDue } from '../../src/domain/decideDue.ts';
import { decidePull } from '../../src/domain/decidePull.ts';
import { decidePush } from '../../src/domain/decidePush.ts';
import { decideRelease } from '../../src/domain/decideRelease.ts';
import type { Actor, Entry, RequestActor } from '../../src/domain/entries.ts';
import { decodeEntry } from '../../src/domain/entryCodec.ts';
import { parsePushOptions } from '../../src/domain/pushOptions.ts';
import { EventBus } from '../../src/projections/EventBus.ts';
import { QueueProjection } from '../../src/projections/QueueProjection.ts';
import { commandContext } from '../../src/commands/CommandContext.ts';
import { Ledger } from '../../src/commands/Ledger.ts';
import { Harness } from '../domain/fixtures.ts';
import { HeldLog } from '../support/heldLog.ts';

const pull = (h: Harness, queue: string) => h.run((v, c) => decidePull(v, queue, c));
const tick = (h: Harness) => h.run((v, c) => decideDue(v, c));

/** The entries logged since `from` (an index into h.log), as [type, jobId or jobIds, actor]. */
function since(h: Harness, from: number): Array<[string, string, Actor | null | undefined]> {
  return h.log.slice(from).map(([e]) => [e.type, e.type === 'evict' ? e.jobIds.join(',') : e.jobId, e.by]);
}

/** `alice` for a request with token alice, `server: <reason>` for the server's. */
function who(entry: Entry): string {
  const actor = actorOf(entry);
  if (actor === null) return 'unknown';
  return actor.kind === 'server' ? `server: ${actor.reason}` : String(actor.token);
}

describe('the server decisions carry their reason', () => {
  it('ttl: the expired job and the dependents it fails', () => {
    const h = new Harness();
    const parent = h.push('q', { ttl: 100 });
    const child = h.push('q', { dependsOn: [parent] });
    const grandchild = h.push('q', { dependsOn: [child] });
    const mark = h.log.length;
    h.now += 100;
    tick(h);
    assert.deepEqual(since(h, mark), [
      ['fail', parent, { s: 'ttl' }],
      ['fail', child, { s: 'ttl' }],
      ['fail', grandchild, { s: 'ttl' }],
    ]);
  });

  it('timeout and lease expired (a stall), each with its own reason in one tick', () => {
    const h = new Harness();
    const timed = h.push('q', { timeout: 1000, maxAttempts: 1 });
    const stalls = h.push('q', { maxAttempts: 2, backoff: 0 });
    pull(h, 'q');
    pull(h, 'q');
    const mark = h.log.length;
    h.now += 30_000;
    tick(h);
    assert.deepEqual(since(h, mark), [
      ['fail', timed, { s: 'timeout' }],
      ['fail', stalls, { s: 'lease expired' }],
    ]);
  });

  it('delay due and retention', () => {
    const h = new Harness();
    h.retention = { completedMs: 1000, completedMax: Infinity, failedMs: Infinity, failedMax: Infinity };
    const done = h.push('q', {});
    const token = pull(h, 'q')?.token;
    h.run((v, c) => decideAck(v, done, token, null, c));
    const delayed = h.push('q', { delay: 1000 });
    const mark = h.log.length;
    h.now += 1000;
    tick(h);
    assert.deepEqual(since(h, mark), [
      ['promote', delayed, { s: 'delay due' }],
      ['evict', done, { s: 'retention' }],
    ]);
  });

  it('repeat: the next occurrence is the server’s, whoever ended the previous one', () => {
    const h = new Harness();
    const first = h.push('q', { repeat: { every: 1000 }, ttl: 500 });
    let mark = h.log.length;
    h.now += 500;
    tick(h);
    const afterTtl = since(h, mark);
    assert.deepEqual(afterTtl[0], ['fail', first, { s: 'ttl' }]);
    assert.equal(afterTtl[1]?.[0], 'push');
    assert.deepEqual(afterTtl[1]?.[2], { s: 'repeat' }, 'not the ttl: the chain goes on by itself');

    const acked = h.push('r', { repeat: { every: 1000 } });
    const token = pull(h, 'r')?.token;
    mark = h.log.length;
    h.run((v, c) => decideAck(v, acked, token, null, c));
    const afterAck = since(h, mark);
    assert.deepEqual(afterAck.map(([type, , by]) => [type, by]), [
      ['ack', undefined],
      ['push', { s: 'repeat' }],
    ]);
  });

  it('connection closed: a release', () => {
    const h = new Harness();
    const id = h.push('q', {});
    const lease = pull(h, 'q');
    assert.ok(lease);
    const mark = h.log.length;
    h.run((v, c) => decideRelease(v, [lease], c));
    assert.deepEqual(since(h, mark), [['release', id, { s: 'connection closed' }]]);
  });
});

describe('the ledger stamps the requester', () => {
  const context = commandContext(30_000);
  const alice: RequestActor = { t: 'alice', a: '10.0.0.1', r: 'req-1' };
  const bob: RequestActor = { t: 'bob', a: '10.0.0.2', r: 'req-2' };

  function setup() {
    const log = new HeldLog();
    const ledger = new Ledger(log, new QueueProjection(), new EventBus());
    const push = (body: Record<string, unknown>, actor: Actor) => {
      const options = parsePushOptions({ data: null, ...body });
      assert.ok(options.ok);
      const outcome = ledger.run((view) => decidePush(view, 'q', options.value, context()), actor);
      assert.ok(outcome.ok);
      return outcome.result.id;
    };
    /** Every entry in the log, decoded as replay reads it. */
    const logged = async () => {
      const entries: Entry[] = [];
      for await (const record of log.read(1)) entries.push(decodeEntry(record.type, record.payload));
      return entries;
    };
    return { ledger, push, logged };
  }

  it('on every entry of the command, cascades included, and the same object for all', async () => {
    const { ledger, push, logged } = setup();
    const parent = push({}, alice);
    const child = push({ dependsOn: [parent] }, alice);
    const outcome = ledger.run((view) => decideCancel(view, parent, context()), bob);
    assert.ok(outcome.ok);
    const entries = await logged();
    assert.deepEqual(
      entries.map((e) => [e.type, e.type === 'evict' ? '' : e.jobId, actorOf(e)]),
      [
        ['push', parent, { kind: 'request', token: 'alice', address: '10.0.0.1', requestId: 'req-1' }],
        ['push', child, { kind: 'request', token: 'alice', address: '10.0.0.1', requestId: 'req-1' }],
        ['cancel', parent, { kind: 'request', token: 'bob', address: '10.0.0.2', requestId: 'req-2' }],
        ['fail', child, { kind: 'request', token: 'bob', address: '10.0.0.2', requestId: 'req-2' }],
      ],
    );
    assert.ok(entries.every((e) => e.v === 2), 'every payload says its version');
  });

  it('keeps what a rule stamped: the repeat after an ack is the server’s, the ack the worker’s', async () => {
    const { ledger, push, logged } = setup();
    const id = push({ repeat: { every: 1000 } }, alice);
    const pulled = ledger.run((view) => decidePull(view, 'q', context()), bob);
    assert.ok(pulled.ok && pulled.result);
    ledger.run((view) => decideAck(view, id, pulled.result?.token, null, context()), bob);
    const entries = await logged();
    assert.deepEqual(
      entries.map((e) => [e.type, who(e)]),
      [
        ['push', 'alice'],
        ['pull', 'bob'],
        ['ack', 'bob'],
        ['push', 'server: repeat'],
      ],
    );
  });
});

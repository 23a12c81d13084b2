// Logs written before actors were recorded (payload version 1: no `v`, no
// `by`) still replay: the server starts on one and rebuilds the same state;
// their entries read back with no actor (null), the new ones with theirs.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { jobView } from '../../src/api/jobView.ts';
import { actorOf } from '../../src/domain/actor.ts';
import { decideAck } from '../../src/domain/decideAck.ts';
import { decideFail } from '../../src/domain/decideFail.ts';
import { decidePull } from '../../src/domain/decidePull.ts';
import type { Entry } from '../../src/domain/entries.ts';
import type { Job } from '../../src/domain/job.ts';
import { decodeEntry, encodeEntry } from '../../src/domain/entryCodec.ts';
import { SegmentedLog } from '../../src/log/SegmentedLog.ts';
import { Harness } from '../domain/fixtures.ts';
import { loggedEntries } from '../support/loggedEntries.ts';
import { cleanupAll, makeTempDir, startServer } from '../support/testServer.ts';

after(async () => {
  await cleanupAll();
});

/** A record as the server wrote it before this change: the entry's fields as JSON, without `v` and `by`. */
function encodeVersion1(entry: Entry): { type: number; payload: Uint8Array } {
  const { type: _type, by: _by, v: _v, ...body } = entry;
  return { type: encodeEntry(entry).type, payload: new TextEncoder().encode(JSON.stringify(body)) };
}

describe('a log of payload version 1', () => {
  it('decodes with actor null', () => {
    const h = new Harness();
    h.push('q', { data: 1 });
    const [entry] = h.log[0] as [Entry, number];
    const { type, payload } = encodeVersion1(entry);
    assert.doesNotMatch(new TextDecoder().decode(payload), /"v"|"by"/);
    const decoded = decodeEntry(type, payload);
    assert.equal(decoded.by, null);
    assert.equal(decoded.v, undefined);
    assert.equal(actorOf(decoded), null);
    assert.deepEqual({ ...decoded, by: undefined }, { ...entry, by: undefined });
  });

  it('replays: the server starts on it with the same state, and appends version 2 entries after it', async () => {
    // The old server's history, decided by the real rules on the real clock.
    const h = new Harness();
    h.now = Date.now();
    const completed = h.push('old', { data: 'done' });
    const token = h.run((v, c) => decidePull(v, 'old', c))?.token;
    h.run((v, c) => decideAck(v, completed, token, { answer: 42 }, c));
    const waiting = h.push('old', { data: 'waits', priority: 5 });
    const retried = h.push('other', { data: 'retried', backoff: 3_600_000 });
    const retryToken = h.run((v, c) => decidePull(v, 'other', c))?.token;
    h.run((v, c) => decideFail(v, retried, retryToken, 'first try', c));
    const delayed = h.push('old', { data: 'later', delay: 3_600_000 });

    const dataDir = makeTempDir();
    const log = await SegmentedLog.open({ dir: join(dataDir, 'wal') });
    for (const [entry] of h.log) {
      const { type, payload } = encodeVersion1(entry);
      log.append(type, payload);
    }
    await log.sync(log.lastPosition);
    await log.close();
    const oldCount = h.log.length;

    const srv = await startServer({ dataDir });
    // Field by field, what the old server answered (the rules' state, rendered by GET /jobs/:id's view).
    for (const id of [completed, waiting, retried, delayed]) {
      assert.deepEqual(await srv.getJob(id), jobView(h.state.job(id) as Job), id);
    }
    assert.equal((await srv.getJob(retried)).state, 'delayed');
    const fresh = await srv.push('old', { data: 'new' });
    assert.equal((await srv.cancel(fresh)).status, 200);
    await srv.stop();

    const entries = await loggedEntries(dataDir);
    assert.equal(entries.length, oldCount + 2);
    for (const entry of entries.slice(0, oldCount)) {
      assert.equal(actorOf(entry), null, `old entry ${entry.position}`);
      assert.equal(entry.v, undefined);
    }
    for (const entry of entries.slice(oldCount)) {
      assert.equal(entry.v, 2);
      assert.equal(actorOf(entry)?.kind, 'request', `new entry ${entry.position}`);
    }

    // And again from the snapshot SIGTERM wrote plus the log: same state.
    const again = await srv.restart();
    assert.equal((await again.getJob(completed)).state, 'completed');
    assert.equal((await again.getRaw(fresh)).status, 404);
    await again.stop();
  });
});

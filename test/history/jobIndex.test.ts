// The job id index in-process: the indexer follows the log from its marker
// (so a crash loses nothing), indexes only durable entries, keeps each
// record's offset for point reads; JobHistory joins index and unindexed tail
// and reports what retention deleted.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Entry } from '../../src/domain/entries.ts';
import { encodeEntry } from '../../src/domain/entryCodec.ts';
import { SegmentedLog } from '../../src/log/SegmentedLog.ts';
import { IndexCatchingUpError, JobHistory } from '../../src/projections/JobHistory.ts';
import { JobIndex } from '../../src/projections/JobIndex.ts';
import { JobIndexer } from '../../src/projections/JobIndexer.ts';

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ledgerq-index-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function append(log: SegmentedLog, entry: Entry): number {
  const { type, payload } = encodeEntry(entry);
  return log.append(type, payload);
}

/**
 * Appends `count` entries for jobs `j0`..`j<jobs-1>` round robin, every 10th
 * an eviction naming two jobs; adds their positions per job to `positions`.
 */
function fill(log: SegmentedLog, count: number, jobs: number, pad = '', positions = new Map<string, number[]>()): Map<string, number[]> {
  const note = (id: string, p: number) => positions.set(id, [...(positions.get(id) ?? []), p]);
  for (let i = 0; i < count; i++) {
    const id = `j${i % jobs}`;
    if (i % 10 === 9) {
      const other = `j${(i + 1) % jobs}`;
      const p = append(log, { type: 'evict', at: i, jobIds: [id, other] });
      note(id, p);
      note(other, p);
    } else {
      note(id, append(log, { type: 'promote', at: i, queue: 'q', jobId: id, pad } as Entry));
    }
  }
  return positions;
}

async function allOf(history: JobHistory, jobId: string, limit = 1000): Promise<number[]> {
  const out: number[] = [];
  let after = 0;
  for (;;) {
    const page = await history.page(jobId, after, limit);
    out.push(...page.entries.map((e) => e.position));
    if (page.nextAfter === null) return out;
    after = page.nextAfter;
  }
}

describe('job index', () => {
  it('indexes durable entries only, from its marker; a reopened index continues where its last batch ended', () =>
    withTempDir(async (dir) => {
      const log = await SegmentedLog.open({ dir: join(dir, 'wal'), flushIntervalMs: 60_000 });
      let index = await JobIndex.open(join(dir, 'index'));
      let indexer = new JobIndexer(index, log, { batchEntries: 50 });
      const expected = fill(log, 200, 7);
      await log.flush();
      fill(log, 100, 7, '', expected);
      assert.equal(log.durablePosition, 200);
      // Entries 201..300 are not durable: left for later even though they are readable.
      await indexer.catchUp();
      assert.equal(index.indexedThrough, 200);
      const refs = await index.refsOf('j3', 0, Infinity, 1000);
      assert.deepEqual(refs.map((r) => r.position), expected.get('j3')!.filter((p) => p <= 200));
      // The offsets point at the very records: point reads return them.
      const records = await log.readAt(refs);
      assert.deepEqual(records.map((r) => r?.position), refs.map((r) => r.position));
      // "Crash": close as is, reopen, continue.
      await log.flush();
      await index.close();
      index = await JobIndex.open(join(dir, 'index'));
      assert.equal(index.indexedThrough, 200, 'the marker survives');
      indexer = new JobIndexer(index, log, { batchEntries: 64 });
      await indexer.open();
      await indexer.catchUp();
      assert.equal(index.indexedThrough, 300);
      const history = new JobHistory(index, log);
      for (const [id, positions] of expected) assert.deepEqual(await allOf(history, id, 7), positions, id);
      await index.close();
      await log.close();
    }));

  it('history = indexed entries + the unindexed tail, in order, paginated; unknown ids are not found', () =>
    withTempDir(async (dir) => {
      const log = await SegmentedLog.open({ dir: join(dir, 'wal') });
      const index = await JobIndex.open(join(dir, 'index'));
      const indexer = new JobIndexer(index, log);
      const first = fill(log, 500, 5);
      await log.flush();
      await indexer.catchUp();
      assert.equal(index.indexedThrough, 500);
      const second = fill(log, 120, 5);
      // Not indexed, not even durable: the tail scan finds them.
      const history = new JobHistory(index, log);
      for (const id of first.keys()) {
        const want = [...first.get(id)!, ...second.get(id)!];
        assert.deepEqual(await allOf(history, id, 13), want, id);
        assert.deepEqual(await allOf(history, id), want, id);
      }
      // A tail longer than the bound is refused (HTTP 503) rather than scanned.
      await assert.rejects(new JobHistory(index, log, 100).page('j1', 0, 10), IndexCatchingUpError);
      const page = await history.page('j1', 0, 10);
      assert.equal(page.entries.length, 10);
      assert.equal(page.nextAfter, page.entries[9].position);
      assert.equal(page.found, true);
      const unknown = await history.page('nope', 0, 10);
      assert.deepEqual(unknown, { entries: [], nextAfter: null, truncatedBefore: null, found: false });
      // An id that is a prefix of others ("j" of "j1") or contains a NUL is another job.
      assert.equal((await history.page('j', 0, 10)).found, false);
      await index.close();
      await log.close();
    }));

  it('entries retention deleted are skipped and reported as truncatedBefore; a job all gone is still known', () =>
    withTempDir(async (dir) => {
      const log = await SegmentedLog.open({ dir: join(dir, 'wal'), segmentBytes: 4096 });
      const index = await JobIndex.open(join(dir, 'index'));
      const indexer = new JobIndexer(index, log);
      append(log, { type: 'promote', at: 0, queue: 'q', jobId: 'early' } as Entry);
      const positions = fill(log, 400, 4, 'x'.repeat(50));
      await log.flush();
      await indexer.catchUp();
      assert.ok((await log.trimBefore(200)) > 0);
      const first = log.firstPosition;
      assert.ok(first > 1 && first <= 200);
      const history = new JobHistory(index, log);
      const page = await history.page('j2', 0, 1000);
      assert.equal(page.truncatedBefore, first);
      assert.deepEqual(page.entries.map((e) => e.position), positions.get('j2')!.filter((p) => p >= first));
      const early = await history.page('early', 0, 10);
      assert.deepEqual({ found: early.found, entries: early.entries, truncatedBefore: early.truncatedBefore }, { found: true, entries: [], truncatedBefore: first });
      await index.close();
      await log.close();
    }));

  it('an index whose marker is past the end of the log belongs to another log and is rebuilt', () =>
    withTempDir(async (dir) => {
      let log = await SegmentedLog.open({ dir: join(dir, 'wal') });
      let index = await JobIndex.open(join(dir, 'index'));
      await new JobIndexer(index, log).catchUp();
      fill(log, 50, 3);
      await log.flush();
      await new JobIndexer(index, log).catchUp();
      assert.equal(index.indexedThrough, 50);
      await log.close();
      await index.close();
      // A new, shorter log under the same index.
      await rm(join(dir, 'wal'), { recursive: true });
      log = await SegmentedLog.open({ dir: join(dir, 'wal') });
      append(log, { type: 'promote', at: 0, queue: 'q', jobId: 'fresh' } as Entry);
      await log.flush();
      index = await JobIndex.open(join(dir, 'index'));
      const indexer = new JobIndexer(index, log);
      await indexer.open();
      await indexer.catchUp();
      assert.equal(index.indexedThrough, 1);
      const history = new JobHistory(index, log);
      assert.equal((await history.page('j1', 0, 10)).found, false);
      assert.deepEqual((await history.page('fresh', 0, 10)).entries.map((e) => e.position), [1]);
      await index.close();
      await log.close();
    }));
});

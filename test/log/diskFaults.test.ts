// Disk faults under the log, injected through its file layer (wrapFile):
//  - ENOSPC / EDQUOT on write or fsync STALL the log: syncs are answered with
//    a LogStalledError after a bounded wait, appends are refused, reads go on,
//    the failed run is cut back to its record boundary and retried from
//    memory, and the log resumes by itself once a retry succeeds;
//  - EIO (or any other error) on write or fsync fails it for good at once:
//    no retry (a failed fsync cannot be retried safely), every waiter and
//    append refused, onFailure called once; reopening recovers exactly the
//    records that were durable.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { LogStalledError } from '../../src/log/LogStalledError.ts';
import { LogWriteError } from '../../src/log/LogWriteError.ts';
import { segmentFileName } from '../../src/log/segmentFiles.ts';
import type { SegmentedLog } from '../../src/log/SegmentedLog.ts';
import { faultyFiles } from './faultyFiles.ts';
import { assertRecordsMatch, collect, frameOffsets, openLog, recordFor, withTempDir } from './helpers.ts';

const STALL = { stallAnswerMs: 150, stallRetryMs: 5, maxStallRetryMs: 20, flushIntervalMs: 60_000 };

function appendNext(log: SegmentedLog): number {
  const { type, payload } = recordFor(log.lastPosition + 1);
  return log.append(type, payload);
}

async function until(condition: () => boolean, ms = 3000): Promise<void> {
  for (const end = Date.now() + ms; !condition(); await sleep(2)) if (Date.now() > end) throw new Error('condition not met in time');
}

for (const { op, code, partialBytes } of [
  { op: 'writev' as const, code: 'ENOSPC', partialBytes: 7 },
  { op: 'datasync' as const, code: 'ENOSPC', partialBytes: 0 },
  { op: 'writev' as const, code: 'EDQUOT', partialBytes: 0 },
]) {
  test(`${code} on ${op}: the log stalls, refuses, serves reads, never keeps a partial record, and resumes by itself`, () =>
    withTempDir(async (dir) => {
      const faults = faultyFiles();
      const events: string[] = [];
      const { log } = await openLog(dir, {
        ...STALL,
        wrapFile: faults.wrapFile,
        onStall: (err) => events.push(`stall ${err.message}`),
        onResume: () => events.push('resume'),
        onFailure: (err) => events.push(`failure ${err.message}`),
      });
      for (let i = 0; i < 3; i++) appendNext(log);
      await log.sync();
      const boundary = (await stat(join(dir, segmentFileName(1)))).size;

      faults.arm({ op, code, partialBytes });
      const p4 = appendNext(log);
      const p5 = appendNext(log);
      const waited = performance.now();
      await assert.rejects(log.sync(p5), (err: unknown) => {
        assert.ok(err instanceof LogStalledError, String(err));
        assert.equal(err.kind, 'pending');
        assert.match(err.message, new RegExp(`^disk full: .*${code}`));
        return true;
      });
      assert.ok(performance.now() - waited >= STALL.stallAnswerMs - 5, 'a waiter is answered after the bounded wait, not at once');
      assert.equal(log.stalled, true);
      assert.equal(log.durablePosition, 3);
      assert.ok(log.unavailable instanceof LogStalledError);
      assert.throws(() => appendNext(log), (err: unknown) => err instanceof LogStalledError && err.kind === 'refused');
      assert.equal(log.lastPosition, p5, 'a refused append takes no position');
      // A waiter that arrives during the stall is answered after the same bound.
      await assert.rejects(log.sync(p4), LogStalledError);
      // Reads go on, the unflushed records from memory.
      assertRecordsMatch(await collect(log.read(1)), 1, p5);
      // The writer keeps retrying, and every attempt starts from the record boundary: the partial bytes were cut.
      await until(() => faults.failures[op] >= 3);
      assert.ok(faults.sizesAtWrite.length >= 3);
      for (const size of faults.sizesAtWrite) assert.equal(size, boundary, `a retry found ${size} bytes, the boundary is ${boundary}`);
      assert.deepEqual(events, [`stall ${new LogStalledError(Object.assign(new Error(`${code}: injected, ${op === 'writev' ? 'write' : 'fsync'}`), { code }), 'pending').message}`]);

      // Space comes back: the next retry succeeds and everything resumes, nothing lost or doubled.
      faults.heal();
      const synced = log.sync(p5);
      await until(() => !log.stalled);
      await synced;
      assert.deepEqual(events.slice(1), ['resume']);
      assert.equal(log.durablePosition, p5);
      assert.equal(log.unavailable, undefined);
      const p6 = appendNext(log);
      await log.sync(p6);
      await log.close();
      const offsets = await frameOffsets(join(dir, segmentFileName(1)));
      assert.equal(offsets.length, 6, 'exactly the six records in the file');
      const { log: reopened, warnings } = await openLog(dir);
      assert.deepEqual(warnings, [], 'no torn tail to cut');
      assertRecordsMatch(await collect(reopened.read(1)), 1, 6);
      await reopened.close();
    }));
}

test('ENOSPC while creating a new segment: the file is cut back to empty and the retry writes header and records into it', () =>
  withTempDir(async (dir) => {
    const faults = faultyFiles();
    // 50-byte payloads make 59-byte frames: three fit in a 256-byte segment.
    const payload = Buffer.alloc(50, 0x62);
    const { log } = await openLog(dir, { ...STALL, segmentBytes: 256, wrapFile: faults.wrapFile });
    for (let i = 0; i < 3; i++) log.append(1, payload);
    await log.sync();
    faults.arm({ op: 'writev', code: 'ENOSPC', partialBytes: 40, pathEndsWith: segmentFileName(4) });
    const p4 = log.append(1, payload);
    await assert.rejects(log.sync(p4), LogStalledError);
    await until(() => faults.failures.writev >= 2);
    assert.ok(faults.sizesAtWrite.every((size) => size === 0), `the new segment was not cut back: ${faults.sizesAtWrite}`);
    faults.heal();
    await until(() => !log.stalled);
    await log.sync(p4);
    await log.close();
    const { log: reopened, warnings } = await openLog(dir, { segmentBytes: 256 });
    assert.deepEqual(warnings, []);
    assert.equal(reopened.lastPosition, 4);
    assert.equal((await collect(reopened.read(1))).length, 4);
    await reopened.close();
  }));

for (const op of ['writev', 'datasync'] as const) {
  test(`EIO on ${op}: the log fails for good at once, is never retried, and reopening recovers exactly what was durable`, () =>
    withTempDir(async (dir) => {
      const faults = faultyFiles();
      const failures: LogWriteError[] = [];
      // A long stall bound: a final failure must be answered well before it.
      const { log } = await openLog(dir, { ...STALL, stallAnswerMs: 5000, wrapFile: faults.wrapFile, onFailure: (err) => failures.push(err) });
      for (let i = 0; i < 3; i++) appendNext(log);
      await log.sync();
      const boundary = (await stat(join(dir, segmentFileName(1)))).size;

      faults.arm({ op, code: 'EIO', partialBytes: op === 'writev' ? 11 : 0 });
      const p4 = appendNext(log);
      const waited = performance.now();
      await assert.rejects(log.sync(p4), (err: unknown) => err instanceof LogWriteError && /EIO/.test(err.message));
      assert.ok(performance.now() - waited < 2500, 'a final failure is answered at once');
      assert.equal(failures.length, 1);
      assert.equal(log.stalled, false);
      assert.ok(log.unavailable instanceof LogWriteError);
      assert.throws(() => appendNext(log), LogWriteError);
      await assert.rejects(log.sync(), LogWriteError);
      const attempts = { ...faults.attempts };
      await sleep(60);
      assert.deepEqual(faults.attempts, attempts, 'no retry after a failed write or fsync');
      assert.equal((await stat(join(dir, segmentFileName(1)))).size, boundary, 'the partial write was cut back');
      await assert.rejects(log.close(), LogWriteError);

      const { log: reopened, warnings } = await openLog(dir);
      assert.deepEqual(warnings, []);
      assertRecordsMatch(await collect(reopened.read(1)), 1, 3);
      await reopened.close();
    }));
}

test('EIO on a retry during a stall ends the stall in a final failure', () =>
  withTempDir(async (dir) => {
    const faults = faultyFiles();
    const events: string[] = [];
    const { log } = await openLog(dir, {
      ...STALL,
      wrapFile: faults.wrapFile,
      onStall: () => events.push('stall'),
      onFailure: () => events.push('failure'),
    });
    appendNext(log);
    await log.sync();
    faults.arm({ op: 'writev', code: 'ENOSPC' });
    const pending = log.sync(appendNext(log));
    await until(() => log.stalled);
    faults.arm({ op: 'datasync', code: 'EIO' });
    await assert.rejects(pending, LogWriteError);
    assert.deepEqual(events, ['stall', 'failure']);
    assert.equal(log.stalled, false);
    assert.ok(log.failure instanceof LogWriteError);
    await assert.rejects(log.close(), LogWriteError);
  }));

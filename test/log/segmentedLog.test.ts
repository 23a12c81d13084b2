import assert from 'node:assert/strict';
import { readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { LogCorruptionError } from '../../src/log/LogCorruptionError.ts';
import { parseSegmentFileName } from '../../src/log/segmentFiles.ts';
import type { SegmentedLog } from '../../src/log/SegmentedLog.ts';
import {
  appendRecords,
  assertRecordsMatch,
  collect,
  frameOffsets,
  openLog,
  recordFor,
  segmentNames,
  take,
  withTempDir,
} from './helpers.ts';

test('append, close, reopen: records survive with their positions and the sequence continues', () =>
  withTempDir(async (dir) => {
    const { log } = await openLog(dir);
    assert.equal(log.lastPosition, 0);
    assert.equal(log.firstPosition, 1);
    assert.deepEqual(await collect(log.read(1)), []);
    for (let p = 1; p <= 500; p++) {
      const { type, payload } = recordFor(p);
      assert.equal(log.append(type, payload), p);
    }
    const big = Buffer.alloc(2_500_000, 0x5a); // bigger than a write chunk and than a read buffer
    assert.equal(log.append(9, big), 501);
    await log.close();
    await log.close(); // idempotent
    assert.throws(() => log.append(1, Buffer.alloc(1)), /closed/);

    const { log: reopened, warnings } = await openLog(dir);
    assert.deepEqual(warnings, []);
    assert.equal(reopened.lastPosition, 501);
    assert.equal(reopened.durablePosition, 501);
    const records = await collect(reopened.read(1));
    assertRecordsMatch(records.slice(0, 500), 1, 500);
    assert.equal(records[500].position, 501);
    assert.equal(records[500].type, 9);
    assert.ok(Buffer.from(records[500].payload).equals(big));
    const { type, payload } = recordFor(502);
    assert.equal(reopened.append(type, payload), 502);
    await reopened.close();

    const { log: third } = await openLog(dir);
    assert.equal(third.lastPosition, 502);
    assertRecordsMatch(await collect(third.read(502)), 502, 502);
    await third.close();
  }));

test('append rejects bad types and payloads without consuming a position', () =>
  withTempDir(async (dir) => {
    const { log } = await openLog(dir);
    assert.throws(() => log.append(256, Buffer.alloc(0)), RangeError);
    assert.throws(() => log.append(-1, Buffer.alloc(0)), RangeError);
    assert.throws(() => log.append(1.5, Buffer.alloc(0)), RangeError);
    assert.equal(log.append(0, new Uint8Array([1, 2, 3])), 1);
    await log.close();
  }));

test('rotation: segment files named by first position, within the size limit, readable from every position', () =>
  withTempDir(async (dir) => {
    const segmentBytes = 1024;
    const { log } = await openLog(dir, { segmentBytes });
    appendRecords(log, 300);
    const oversized = log.append(1, Buffer.alloc(3000, 1)); // bigger than a segment: goes whole into its own
    appendRecords(log, 20);
    await log.close();

    const names = await segmentNames(dir);
    assert.ok(names.length > 10, `expected many segments, got ${names.length}`);
    // Check naming against an independent parse of the files: next name = this name + this file's record count.
    let expectedFirst = 1;
    for (const name of names) {
      assert.equal(parseSegmentFileName(name), expectedFirst, `segment ${name}`);
      const path = join(dir, name);
      const count = (await frameOffsets(path)).length;
      assert.ok(count >= 1);
      const size = (await stat(path)).size;
      if (!(expectedFirst <= oversized && oversized < expectedFirst + count)) assert.ok(size <= segmentBytes, `${name} is ${size} bytes`);
      else assert.equal(count, 1, 'the oversized record sits alone');
      expectedFirst += count;
    }
    assert.equal(expectedFirst, 322);

    const { log: reopened } = await openLog(dir, { segmentBytes });
    assert.equal(reopened.lastPosition, 321);
    const all = await collect(reopened.read(1));
    assert.equal(all.length, 321);
    for (let from = 1; from <= 322; from++) {
      const got = await collect(reopened.read(from));
      assert.deepEqual(
        got.map((r) => r.position),
        all.slice(from - 1).map((r) => r.position),
        `read(${from})`,
      );
      if (from <= 300) assertRecordsMatch(got.slice(0, 300 - from + 1), from, 300);
    }
    assert.equal((await collect(reopened.read(0))).length, 321);
    assert.equal((await collect(reopened.read(-10))).length, 321);
    assert.deepEqual(await collect(reopened.read(5000)), []);
    // Appends after reopen continue in the last segment and rotate onward.
    appendRecords(reopened, 50);
    await reopened.sync();
    assert.equal((await collect(reopened.read(300))).length, 72);
    await reopened.close();
  }));

test('sparse index: reading from the middle of big segments, active and reopened', () =>
  withTempDir(async (dir) => {
    const segmentBytes = 128 * 1024; // ~2900 records of ~45 bytes: several index points per segment
    const probes = [1, 2, 1023, 1024, 1025, 1026, 2047, 2048, 2049, 3000, 4097, 6000, 8191, 8192, 8193, 8999, 9000];
    const checkReads = async (log: SegmentedLog): Promise<void> => {
      for (const p of probes) assertRecordsMatch(await take(log.read(p), 3), p, Math.min(p + 2, 9000));
      for (let p = 1; p <= 9000; p += 97) assertRecordsMatch(await take(log.read(p), 2), p, Math.min(p + 1, 9000));
    };
    const { log } = await openLog(dir, { segmentBytes });
    appendRecords(log, 9000);
    await checkReads(log); // unflushed: served from memory
    await log.sync();
    await checkReads(log); // flushed: active segment indexed while appending
    await log.close();
    const names = await segmentNames(dir);
    assert.ok(names.length >= 3);

    const { log: reopened } = await openLog(dir, { segmentBytes });
    await checkReads(reopened); // older segments get indexed by this first pass
    await checkReads(reopened);
    // Proof that reads start at an index point: damage record 5 of the first segment;
    // a read from far into that segment never decodes it, a read from the start does.
    const first = join(dir, names[0]);
    const offsets = await frameOffsets(first);
    assert.ok(offsets.length > 2048);
    const bytes = await readFile(first);
    bytes[offsets[4] + 9] ^= 0x10;
    await writeFile(first, bytes);
    assertRecordsMatch(await take(reopened.read(2050), 3), 2050, 2052);
    await assert.rejects(collect(reopened.read(1)), LogCorruptionError);
    await reopened.close();
  }));

test('reading records appended but not yet flushed, including during a flush', () =>
  withTempDir(async (dir) => {
    const { log } = await openLog(dir, { flushIntervalMs: 60_000, segmentBytes: 2048 });
    appendRecords(log, 10);
    assert.equal(log.durablePosition, 0);
    assertRecordsMatch(await collect(log.read(1)), 1, 10);
    assertRecordsMatch(await collect(log.read(4)), 4, 10);
    assert.equal(log.durablePosition, 0, 'reading does not need a flush');

    const synced = log.sync(); // flush starts on the next setImmediate
    await new Promise((resolve) => setImmediate(resolve));
    appendRecords(log, 100); // lands in the next batch, rotating segments on the way
    const during = log.read(1);
    appendRecords(log, 5); // after the read started: not part of it
    assertRecordsMatch(await collect(during), 1, 110);
    await synced;
    assert.ok(log.durablePosition >= 10);
    assertRecordsMatch(await collect(log.read(1)), 1, 115);
    await log.flush();
    assert.equal(log.durablePosition, 115);
    assertRecordsMatch(await collect(log.read(50)), 50, 115);
    await log.close();
  }));

test('trimBefore removes whole old segments only, never the active one', () =>
  withTempDir(async (dir) => {
    const segmentBytes = 512;
    const { log } = await openLog(dir, { segmentBytes, flushIntervalMs: 60_000 });
    appendRecords(log, 200);
    await log.sync();
    const before = await segmentNames(dir);
    const firsts = before.map((n) => parseSegmentFileName(n) ?? 0);
    assert.ok(before.length > 5);

    // A position inside the third segment: only the first two hold nothing at or after it.
    const cut = firsts[2] + 1;
    assert.equal(await log.trimBefore(cut), 2);
    assert.deepEqual(await segmentNames(dir), before.slice(2));
    assert.equal(log.firstPosition, firsts[2]);
    assert.equal(log.stats.segments, before.length - 2);
    assertRecordsMatch(await collect(log.read(1)), firsts[2], 200);
    assert.equal(await log.trimBefore(cut), 0);

    // Records not yet on disk keep their segment: deletion only touches flushed segments.
    appendRecords(log, 30);
    const onDisk = await segmentNames(dir);
    const deleted = await log.trimBefore(Number.MAX_SAFE_INTEGER);
    assert.ok(deleted === onDisk.length - 1 || deleted === onDisk.length, `deleted ${deleted} of ${onDisk.length}`);
    assert.ok(log.firstPosition <= 201);
    assertRecordsMatch(await collect(log.read(1)), log.firstPosition, 230);
    await log.sync();
    const afterSync = await segmentNames(dir);
    assert.equal(await log.trimBefore(Number.MAX_SAFE_INTEGER), afterSync.length - 1);
    const remaining = await segmentNames(dir);
    assert.equal(remaining.length, 1, 'the active segment stays');
    assert.equal(remaining[0], afterSync[afterSync.length - 1]);
    await log.close();

    const { log: reopened } = await openLog(dir, { segmentBytes });
    assert.equal(reopened.firstPosition, parseSegmentFileName(remaining[0]));
    assert.equal(reopened.lastPosition, 230);
    assertRecordsMatch(await collect(reopened.read(1)), reopened.firstPosition, 230);
    assert.equal(reopened.append(1, Buffer.from('next')), 231);
    await reopened.close();
    assert.ok((await readFile(join(dir, remaining[0]))).length > 0);
  }));

test('trimBefore with writtenBefore keeps segments written more recently', () =>
  withTempDir(async (dir) => {
    const { log } = await openLog(dir, { segmentBytes: 512, flushIntervalMs: 60_000 });
    appendRecords(log, 100);
    await log.sync();
    const names = await segmentNames(dir);
    assert.ok(names.length > 3);
    // Age the first two files; the rest count as just written.
    const old = new Date(Date.now() - 3_600_000);
    for (const name of names.slice(0, 2)) await utimes(join(dir, name), old, old);
    assert.equal(await log.trimBefore(Number.MAX_SAFE_INTEGER, { writtenBefore: Date.now() - 60_000 }), 2);
    assert.deepEqual(await segmentNames(dir), names.slice(2));
    await log.close();
  }));

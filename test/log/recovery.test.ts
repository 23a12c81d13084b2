import assert from 'node:assert/strict';
import { mkdir, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { LogCorruptionError } from '../../src/log/LogCorruptionError.ts';
import { segmentFileName } from '../../src/log/segmentFiles.ts';
import {
  appendRecords,
  assertRecordsMatch,
  collect,
  frameOffsets,
  openLog,
  recordFor,
  RECORD_HEADER,
  segmentNames,
  withTempDir,
} from './helpers.ts';

const K = 12;

/** A single-segment log of K records; returns the segment's bytes and its frame offsets. */
async function writeLog(dir: string): Promise<{ path: string; bytes: Buffer; offsets: number[] }> {
  const { log } = await openLog(dir);
  appendRecords(log, K - 1);
  log.append(200, Buffer.from('the last record of the log, long enough to cut in many places: 0123456789'));
  await log.close();
  const path = join(dir, segmentFileName(1));
  return { path, bytes: await readFile(path), offsets: await frameOffsets(path) };
}

function assertCorruption(error: unknown, file: string, offset: number): true {
  assert.ok(error instanceof LogCorruptionError, `expected LogCorruptionError, got ${String(error)}`);
  assert.equal(error.file, file);
  assert.equal(error.offset, offset);
  assert.ok(error.message.includes(file), error.message);
  assert.ok(error.message.includes(`byte offset ${offset}`), error.message);
  return true;
}

test('torn tail at every byte offset of the last record is cut; the next append reuses its position', () =>
  withTempDir(async (root) => {
    const source = join(root, 'source');
    const { bytes, offsets } = await writeLog(source);
    const lastStart = offsets[K - 1];
    assert.ok(bytes.length - lastStart > 50);
    for (let cut = lastStart; cut < bytes.length; cut++) {
      const dir = join(root, `cut-${cut}`);
      await mkdir(dir);
      const path = join(dir, segmentFileName(1));
      await writeFile(path, bytes.subarray(0, cut));
      const { log, warnings } = await openLog(dir);
      assert.equal(log.lastPosition, K - 1, `cut at ${cut}`);
      assertRecordsMatch(await collect(log.read(1)), 1, K - 1);
      if (cut > lastStart) {
        assert.equal(warnings.length, 1);
        assert.ok(warnings[0].includes(path) && warnings[0].includes(`offset ${lastStart}`), warnings[0]);
        assert.ok(warnings[0].includes(`dropped ${cut - lastStart} bytes`), warnings[0]);
      } else {
        assert.deepEqual(warnings, []);
      }
      const { type, payload } = recordFor(K);
      assert.equal(log.append(type, payload), K);
      await log.close();
      const { log: again, warnings: none } = await openLog(dir);
      assert.deepEqual(none, []);
      assertRecordsMatch(await collect(again.read(1)), 1, K);
      await again.close();
      await rm(dir, { recursive: true });
    }
  }));

test('zero-filled tail (unwritten blocks after a crash) is cut', () =>
  withTempDir(async (root) => {
    const source = join(root, 'source');
    const { bytes, offsets } = await writeLog(source);
    const cases: Array<[string, Buffer, number]> = [
      // Whole records, then zeros: all records stay.
      ['zeros after the last record', Buffer.concat([bytes, Buffer.alloc(8192)]), K],
      // The last record's payload never reached the disk, and more zeros follow it.
      ['zeroed last record', Buffer.concat([bytes.subarray(0, offsets[K - 1] + RECORD_HEADER), Buffer.alloc(4096)]), K - 1],
      // Everything from the last record on is zero.
      ['zeros from the last record on', Buffer.concat([bytes.subarray(0, offsets[K - 1]), Buffer.alloc(100)]), K - 1],
    ];
    for (const [label, content, expectedLast] of cases) {
      const dir = join(root, label.replaceAll(' ', '-'));
      await mkdir(dir);
      await writeFile(join(dir, segmentFileName(1)), content);
      const { log, warnings } = await openLog(dir);
      assert.equal(log.lastPosition, expectedLast, label);
      assert.equal(warnings.length, 1, label);
      const records = await collect(log.read(1));
      assert.equal(records.length, expectedLast, label);
      assertRecordsMatch(records.slice(0, K - 1), 1, K - 1);
      assert.equal(log.append(1, Buffer.from('after')), expectedLast + 1);
      await log.close();
    }
  }));

test('a flipped bit in the last record is a torn tail and is cut', () =>
  withTempDir(async (dir) => {
    const { path, bytes, offsets } = await writeLog(dir);
    bytes[offsets[K - 1] + RECORD_HEADER + 20] ^= 0x04;
    await writeFile(path, bytes);
    const { log, warnings } = await openLog(dir);
    assert.equal(log.lastPosition, K - 1);
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0].includes(`offset ${offsets[K - 1]}`));
    assertRecordsMatch(await collect(log.read(1)), 1, K - 1);
    await log.close();
  }));

test('a flipped bit in a middle record of the last segment refuses to open, naming file and offset; the repair works', () =>
  withTempDir(async (dir) => {
    const { path, bytes, offsets } = await writeLog(dir);
    const damaged = 5; // index of the damaged record (position 6)
    const variants: Array<[string, number]> = [
      ['payload bit', offsets[damaged] + RECORD_HEADER + 1],
      ['type bit', offsets[damaged] + 8],
      ['crc bit', offsets[damaged] + 2],
    ];
    for (const [label, byteIndex] of variants) {
      const copy = Buffer.from(bytes);
      copy[byteIndex] ^= 0x01;
      await writeFile(path, copy);
      await assert.rejects(openLog(dir), (error) => assertCorruption(error, path, offsets[damaged]), label);
    }
    // Length damage: one that claims to run past the end of the file (a valid record still follows), one over the cap.
    for (const lengthBit of [0x00100000, 0x40000000]) {
      const copy = Buffer.from(bytes);
      copy.writeUInt32LE(copy.readUInt32LE(offsets[damaged] + 4) | lengthBit, offsets[damaged] + 4);
      await writeFile(path, copy);
      await assert.rejects(openLog(dir), (error) => assertCorruption(error, path, offsets[damaged]), `length | ${lengthBit}`);
    }
    // The error tells how to repair; doing so keeps everything before the damage.
    await assert.rejects(openLog(dir), (error) => {
      assert.ok(error instanceof Error && error.message.includes(`truncate -s ${offsets[damaged]} '${path}'`), String(error));
      return true;
    });
    await truncate(path, offsets[damaged]);
    const { log, warnings } = await openLog(dir);
    assert.deepEqual(warnings, []);
    assert.equal(log.lastPosition, damaged);
    assertRecordsMatch(await collect(log.read(1)), 1, damaged);
    await log.close();
  }));

test('a flipped bit in an older segment: open succeeds (no full scan), reading it refuses; the repair works', () =>
  withTempDir(async (dir) => {
    const { log } = await openLog(dir, { segmentBytes: 1024 });
    appendRecords(log, 200);
    await log.close();
    const names = await segmentNames(dir);
    assert.ok(names.length > 3);
    const path = join(dir, names[1]);
    const offsets = await frameOffsets(path);
    const bytes = await readFile(path);
    bytes[offsets[2] + RECORD_HEADER + 2] ^= 0x80;
    await writeFile(path, bytes);

    const { log: reopened, warnings } = await openLog(dir, { segmentBytes: 1024 });
    assert.deepEqual(warnings, []);
    assert.equal(reopened.lastPosition, 200);
    const firstOfSecond = Number(names[1].slice(0, 20));
    // Reads that start after the damaged segment are fine; a read through it refuses.
    assertRecordsMatch(await collect(reopened.read(Number(names[2].slice(0, 20)))), Number(names[2].slice(0, 20)), 200);
    let caught: unknown;
    try {
      for await (const record of reopened.read(1)) assert.ok(record.position < firstOfSecond + 2, 'no record at or past the damage is returned');
    } catch (error) {
      caught = error;
    }
    assertCorruption(caught, path, offsets[2]);
    assert.ok(String(caught).includes(names[2]), 'the repair names the later segment files to move away');
    await reopened.close();

    // Repair as instructed: cut the file at the damage, move the later segments out.
    await truncate(path, offsets[2]);
    await mkdir(join(dir, 'moved-away'));
    for (const later of names.slice(2)) await rename(join(dir, later), join(dir, 'moved-away', later));
    const { log: repaired } = await openLog(dir, { segmentBytes: 1024 });
    assert.equal(repaired.lastPosition, firstOfSecond + 1);
    assertRecordsMatch(await collect(repaired.read(1)), 1, firstOfSecond + 1);
    await repaired.close();
  }));

test('a missing segment file (gap between names) refuses to open with a clear message', () =>
  withTempDir(async (dir) => {
    const { log } = await openLog(dir, { segmentBytes: 512 });
    appendRecords(log, 100);
    await log.close();
    const names = await segmentNames(dir);
    assert.ok(names.length >= 4);
    await rm(join(dir, names[2]));
    await assert.rejects(openLog(dir), (error) => {
      assert.ok(error instanceof LogCorruptionError);
      assert.equal(error.file, join(dir, names[3]));
      assert.match(error.message, /not continuous/);
      assert.ok(error.message.includes(`${names[2]} is missing`), error.message);
      return true;
    });
  }));

test('a renamed segment file is caught by its header', () =>
  withTempDir(async (dir) => {
    const { log } = await openLog(dir, { segmentBytes: 512 });
    appendRecords(log, 100);
    await log.close();
    const names = await segmentNames(dir);
    await rename(join(dir, names[1]), join(dir, segmentFileName(Number(names[1].slice(0, 20)) + 1)));
    await assert.rejects(openLog(dir), (error) => {
      assert.ok(error instanceof LogCorruptionError);
      assert.match(error.message, /file name says/);
      return true;
    });
  }));

test('an empty or half-created last segment (crash during rotation) is fine', () =>
  withTempDir(async (dir) => {
    const { log } = await openLog(dir, { segmentBytes: 512 });
    appendRecords(log, 50);
    await log.close();
    const next = join(dir, segmentFileName(51));
    for (const content of [Buffer.alloc(0), Buffer.from('LQWAL0'), Buffer.alloc(32)]) {
      await writeFile(next, content);
      const { log: reopened, warnings } = await openLog(dir, { segmentBytes: 512 });
      assert.equal(warnings.length, content.length === 0 ? 0 : 1);
      assert.equal(reopened.lastPosition, 50);
      assertRecordsMatch(await collect(reopened.read(1)), 1, 50);
      await reopened.close();
    }
    const { log: reopened } = await openLog(dir, { segmentBytes: 512 });
    const { type, payload } = recordFor(51);
    assert.equal(reopened.append(type, payload), 51);
    await reopened.close();
    const { log: third } = await openLog(dir, { segmentBytes: 512 });
    assertRecordsMatch(await collect(third.read(1)), 1, 51);
    assert.equal((await frameOffsets(next)).length, 1, 'position 51 went into the empty segment');
    await third.close();
  }));

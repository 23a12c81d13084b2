// The time index across restarts: full chunks are saved once durable and
// loaded at the next start instead of reading the log; files past the log's
// end, damaged files and files of another log never give a wrong time.
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SegmentedLog } from '../../src/log/SegmentedLog.ts';
import { LogTimeline } from '../../src/projections/LogTimeline.ts';
import { TimeIndexFiles } from '../../src/projections/TimeIndexFiles.ts';
import { withTempDir } from '../log/helpers.ts';

const CHUNK = 65_536;

/** Entry times: a few ms apart, now and then a pause or a clock step back. */
function times(count: number, seed: number): number[] {
  let x = seed;
  const random = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let t = 1_764_000_000_000;
  return Array.from({ length: count }, () => {
    const r = random();
    t += r < 0.01 ? Math.floor(random() * 60_000) : r < 0.015 ? -Math.floor(random() * 3000) : Math.floor(random() * 3);
    return t;
  });
}

async function writeLog(dir: string, ats: number[]): Promise<void> {
  const log = await SegmentedLog.open({ dir, segmentBytes: 4 * 1024 * 1024 });
  for (const at of ats) log.append(4, Buffer.from(JSON.stringify({ at, queue: 'q', jobId: 'j' })));
  await log.close();
}

/** Opens the log and builds a timeline on it; returns what it answers for every position, and what it warned. */
async function timelineOf(logDir: string, filesDir: string) {
  const log = await SegmentedLog.open({ dir: logDir, segmentBytes: 4 * 1024 * 1024 });
  const warnings: string[] = [];
  const timeline = new LogTimeline(log, await TimeIndexFiles.open(filesDir), (message) => warnings.push(message));
  await timeline.ready;
  await timeline.saved();
  const index = timeline.index;
  const range = index.range();
  const timesOf = range ? Array.from({ length: range.last.position - range.first.position + 1 }, (_, i) => index.timeOf(range.first.position + i)) : [];
  const chunksLoaded = timeline.chunksLoaded;
  await log.close();
  return { timesOf, range, chunksLoaded, warnings, files: (await readdir(filesDir)).sort() };
}

function logTimes(ats: number[]): number[] {
  let max = -Infinity;
  return ats.map((at) => (max = Math.max(max, at)));
}

describe('LogTimeline', () => {
  it('saves every full chunk and loads them at the next start: the same answers, the log read only after them', async () => {
    await withTempDir(async (dir) => {
      const ats = times(2 * CHUNK + 5_000, 3);
      await writeLog(join(dir, 'wal'), ats);
      const first = await timelineOf(join(dir, 'wal'), join(dir, 'timeindex'));
      assert.equal(first.chunksLoaded, 0);
      assert.deepEqual(first.files, ['0000000000.chunk', '0000000001.chunk']);
      assert.deepEqual(first.timesOf, logTimes(ats));
      const second = await timelineOf(join(dir, 'wal'), join(dir, 'timeindex'));
      assert.equal(second.chunksLoaded, 2, 'both full chunks came from their files');
      assert.deepEqual(second.timesOf, logTimes(ats));
      assert.deepEqual(second.warnings, []);
    });
  });

  it('deletes chunk files past the log end (a cut log) and reads those positions from the log', async () => {
    await withTempDir(async (dir) => {
      const ats = times(2 * CHUNK + 10, 4);
      await writeLog(join(dir, 'long'), ats);
      await timelineOf(join(dir, 'long'), join(dir, 'timeindex'));
      // The same history, cut inside chunk 1: chunk 0 still describes it, chunk 1 does not exist any more.
      const cut = ats.slice(0, CHUNK + 100);
      await writeLog(join(dir, 'cut'), cut);
      const after = await timelineOf(join(dir, 'cut'), join(dir, 'timeindex'));
      assert.equal(after.chunksLoaded, 1);
      assert.deepEqual(after.files, ['0000000000.chunk']);
      assert.deepEqual(after.timesOf, logTimes(cut));
    });
  });

  it('drops files of another log and damaged files, and answers from the log', async () => {
    await withTempDir(async (dir) => {
      await writeLog(join(dir, 'a'), times(CHUNK + 10, 5));
      await timelineOf(join(dir, 'a'), join(dir, 'timeindex'));
      const other = times(CHUNK + 20, 6);
      await writeLog(join(dir, 'b'), other);
      const foreign = await timelineOf(join(dir, 'b'), join(dir, 'timeindex'));
      assert.equal(foreign.chunksLoaded, 0);
      assert.match(foreign.warnings.join('\n'), /the log/);
      assert.deepEqual(foreign.timesOf, logTimes(other));
      assert.deepEqual(foreign.files, ['0000000000.chunk'], 'saved again, from the log it now serves');
      // A damaged file is read around, not trusted.
      await writeFile(join(dir, 'timeindex', '0000000000.chunk'), Buffer.alloc(70_000, 7));
      const damaged = await timelineOf(join(dir, 'b'), join(dir, 'timeindex'));
      assert.equal(damaged.chunksLoaded, 0);
      assert.deepEqual(damaged.timesOf, logTimes(other));
    });
  });
});

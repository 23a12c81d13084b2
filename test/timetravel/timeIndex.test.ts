// TimeIndex against a brute-force model: log time is the running maximum of
// the entries' `at`, so a clock stepped back still gives one answer per time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { entryTime, TimeIndex } from '../../src/projections/TimeIndex.ts';

/** Entries' times: mostly +0..3 ms, sometimes a long pause (escape) or a clock step back. */
function times(count: number, seed: number): number[] {
  let x = seed;
  const random = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const out: number[] = [];
  let t = 1_700_000_000_000;
  for (let i = 0; i < count; i++) {
    const r = random();
    t += r < 0.01 ? Math.floor(random() * 100_000) : r < 0.02 ? -Math.floor(random() * 5000) : Math.floor(random() * 4);
    out.push(t);
  }
  return out;
}

function model(ats: number[], origin: number) {
  const logTime: number[] = [];
  let max = -Infinity;
  for (const at of ats) logTime.push((max = Math.max(max, at)));
  return {
    timeOf: (p: number) => logTime[p - origin],
    firstAtOrAfter: (t: number, first: number) => {
      for (let p = first; p < origin + ats.length; p++) if (logTime[p - origin] >= t) return p;
      return null;
    },
  };
}

describe('TimeIndex', () => {
  it('gives every position its log time and finds the first position at or after any time, across chunks', () => {
    const origin = 7;
    const ats = times(200_000, 42);
    const index = new TimeIndex();
    ats.forEach((at, i) => index.note(origin + i, at));
    const m = model(ats, origin);
    for (let p = origin; p < origin + ats.length; p += 997) assert.equal(index.timeOf(p), m.timeOf(p), `timeOf(${p})`);
    assert.equal(index.timeOf(origin + ats.length - 1), m.timeOf(origin + ats.length - 1));
    const range = index.range();
    assert.deepEqual(range, {
      first: { position: origin, time: ats[0] },
      last: { position: origin + ats.length - 1, time: m.timeOf(origin + ats.length - 1) },
    });
    for (let k = 0; k < 300; k++) {
      const p = origin + Math.floor((k / 300) * ats.length);
      for (const t of [m.timeOf(p) - 1, m.timeOf(p), m.timeOf(p) + 1]) {
        assert.equal(index.firstAtOrAfter(t), m.firstAtOrAfter(t, origin), `firstAtOrAfter(${t})`);
      }
    }
    assert.equal(index.firstAtOrAfter(range!.last.time + 1), null);
    assert.equal(index.firstAtOrAfter(0), origin);
    assert.ok(index.bytes < ats.length * 2, `${index.bytes} bytes for ${ats.length} entries`);
  });

  it('forgets whole chunks before the retained log and still answers exactly after it', () => {
    const ats = times(150_000, 7);
    const index = new TimeIndex();
    ats.forEach((at, i) => index.note(1 + i, at));
    const before = index.bytes;
    const first = 100_001;
    index.dropBefore(first);
    assert.ok(index.bytes < before, 'chunks were dropped');
    const m = model(ats, 1);
    assert.equal(index.range()!.first.position, first);
    assert.equal(index.range()!.first.time, m.timeOf(first));
    for (let p = first; p <= ats.length; p += 331) {
      assert.equal(index.timeOf(p), m.timeOf(p));
      assert.equal(index.firstAtOrAfter(m.timeOf(p)), m.firstAtOrAfter(m.timeOf(p), first));
    }
    assert.throws(() => index.timeOf(first - 1), RangeError);
  });

  it('saves full chunks as bytes; an index loaded from them and the rest of the log answers as one built from the log', () => {
    const ats = times(200_000, 11);
    const built = new TimeIndex();
    ats.forEach((at, i) => built.note(1 + i, at));
    assert.equal(TimeIndex.chunkStart(1), 65_537);
    assert.equal(built.exportChunk(3), null, 'chunk 3 (positions 196 609-262 144) is not full');
    const loaded = new TimeIndex();
    for (const n of [0, 1, 2]) loaded.restoreChunk(n, built.exportChunk(n) as Uint8Array);
    for (let p = TimeIndex.chunkStart(3); p <= ats.length; p++) loaded.note(p, ats[p - 1] as number);
    const m = model(ats, 1);
    assert.deepEqual(loaded.range(), built.range());
    for (let p = 1; p <= ats.length; p += 173) assert.equal(loaded.timeOf(p), m.timeOf(p), `timeOf(${p})`);
    for (let k = 0; k < 300; k++) {
      const t = m.timeOf(1 + Math.floor((k / 300) * ats.length)) + (k % 3) - 1;
      assert.equal(loaded.firstAtOrAfter(t), m.firstAtOrAfter(t, 1), `firstAtOrAfter(${t})`);
    }
  });

  it('saves no chunk it did not index whole, and loads chunks only in order', () => {
    const ats = times(140_000, 5);
    const lateStart = new TimeIndex();
    ats.forEach((at, i) => i >= 1000 && lateStart.note(1 + i, at));
    assert.equal(lateStart.exportChunk(0), null, 'chunk 0 was indexed from position 1 001 on');
    assert.ok(lateStart.exportChunk(1), 'chunk 1 was indexed whole');
    const index = new TimeIndex();
    index.restoreChunk(1, lateStart.exportChunk(1) as Uint8Array);
    assert.throws(() => index.restoreChunk(0, new Uint8Array(0)), /does not follow/);
    assert.throws(() => new TimeIndex().restoreChunk(1, new Uint8Array(100)), /bytes/);
    // A chunk loaded first may start before the retained log: positions before it are then dropped.
    index.dropBefore(70_000);
    const m = model(ats, 1);
    assert.equal(index.range()!.first.position, 70_000);
    assert.equal(index.timeOf(70_000), m.timeOf(70_000));
  });

  it('refuses a gap: positions must follow each other', () => {
    const index = new TimeIndex();
    index.note(1, 10);
    assert.throws(() => index.note(3, 11), /does not follow/);
  });

  it('reads `at` from an encoded entry without parsing it, and falls back to JSON otherwise', () => {
    const bytes = (text: string) => new TextEncoder().encode(text);
    assert.equal(entryTime(bytes('{"at":1764686587123,"queue":"q","jobId":"x"}')), 1764686587123);
    assert.equal(entryTime(bytes('{"at":5}')), 5);
    assert.equal(entryTime(bytes('{"queue":"q","at":42}')), 42);
    assert.equal(entryTime(bytes('{"at":1.5e3,"queue":"q"}')), 1500);
  });
});

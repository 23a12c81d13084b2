/**
 * Log position ↔ time, in memory, exact, without reading the log.
 *
 * The time of a position is the running maximum of the entries' `at` up to it
 * ("log time"). Within a process `at` never decreases (one clock, one
 * writer), but a clock stepped back across a restart can make an entry older
 * than the one before it; the running maximum keeps log time monotonic, so
 * "the first position whose time is >= t" is always well defined and found
 * by bisection. With a monotonic clock it is exactly the entry's `at`.
 *
 * Layout: one byte per position (the increase of log time over the previous
 * position; 255 = look in `escapes`), plus the exact time of every 64th
 * position. Both live in chunks of 65 536 positions, so retention drops whole
 * chunks. About 1.1 byte per entry: 11 MB for 10 million entries. Chunk n
 * always holds positions n × 65 536 + 1 onwards, whatever position the index
 * started at, so a full ("sealed") chunk can be saved and loaded as it is
 * (TimeIndexFiles) instead of read again from the log at every start.
 */
const BLOCK_BITS = 6;
const BLOCK = 1 << BLOCK_BITS;
const CHUNK_BITS = 16;
const CHUNK = 1 << CHUNK_BITS;
const BLOCKS_PER_CHUNK = CHUNK / BLOCK;
const ESCAPE = 255;
/** Position of slot 0 of chunk 0. */
const ORIGIN = 1;

interface Chunk {
  /** Index (position - origin) of the chunk's first slot. */
  start: number;
  deltas: Uint8Array;
  /** Log time of each block's first position. */
  blockTimes: Float64Array;
}

export interface TimedPosition {
  position: number;
  time: number;
}

export class TimeIndex {
  private readonly chunks: Chunk[] = [];
  /** Increases of 255 ms or more, by position. */
  private readonly escapes = new Map<number, number>();
  private firstIndexed = 0;
  private lastIndexed = 0;
  private lastTime = -Infinity;

  /** Records the entry at `position` (the next one after the last noted) decided at `at`. */
  note(position: number, at: number): void {
    const first = this.lastIndexed === 0;
    if (first) {
      if (position < ORIGIN) throw new RangeError(`TimeIndex: position ${position} is before ${ORIGIN}`);
      this.firstIndexed = position;
    } else if (position !== this.lastIndexed + 1) {
      throw new Error(`TimeIndex: position ${position} does not follow ${this.lastIndexed}`);
    }
    const time = Math.max(this.lastTime, at);
    const index = position - ORIGIN;
    const slot = index & (CHUNK - 1);
    if (first || slot === 0) this.chunks.push({ start: index - slot, deltas: new Uint8Array(CHUNK), blockTimes: new Float64Array(BLOCKS_PER_CHUNK) });
    const chunk = this.chunks[this.chunks.length - 1];
    // The first position may fall inside a block: the block starts at its time, the slots before it are never asked.
    if (first || (slot & (BLOCK - 1)) === 0) {
      chunk.blockTimes[slot >> BLOCK_BITS] = time;
    } else {
      const delta = time - this.lastTime;
      if (delta >= ESCAPE) {
        chunk.deltas[slot] = ESCAPE;
        this.escapes.set(position, delta);
      } else {
        chunk.deltas[slot] = delta;
      }
    }
    this.lastIndexed = position;
    this.lastTime = time;
  }

  /** Forgets positions before `first` (log retention), a whole chunk at a time. */
  dropBefore(first: number): void {
    if (first <= this.firstIndexed) return;
    this.firstIndexed = Math.min(first, this.lastIndexed + 1);
    while (this.chunks.length > 1 && this.chunks[1].start + ORIGIN <= this.firstIndexed) {
      const dropped = this.chunks.shift() as Chunk;
      for (let p = dropped.start + ORIGIN; p < dropped.start + ORIGIN + CHUNK; p++) this.escapes.delete(p);
    }
  }

  /** First and last positions indexed with their times; null while empty. */
  range(): { first: TimedPosition; last: TimedPosition } | null {
    if (this.lastIndexed === 0 || this.firstIndexed > this.lastIndexed) return null;
    return {
      first: { position: this.firstIndexed, time: this.timeOf(this.firstIndexed) },
      last: { position: this.lastIndexed, time: this.lastTime },
    };
  }

  /** Log time of `position`, which must be indexed. */
  timeOf(position: number): number {
    if (position < this.firstIndexed || position > this.lastIndexed) throw new RangeError(`TimeIndex: position ${position} is not indexed`);
    const index = position - ORIGIN;
    const chunk = this.chunkOf(index);
    const slot = index - chunk.start;
    const blockStart = slot & ~(BLOCK - 1);
    let time = chunk.blockTimes[blockStart >> BLOCK_BITS];
    for (let s = blockStart + 1; s <= slot; s++) time += this.deltaAt(chunk, s);
    return time;
  }

  /** The first indexed position whose log time is >= `time`, or null when every one is earlier. */
  firstAtOrAfter(time: number): number | null {
    const range = this.range();
    if (range === null || range.last.time < time) return null;
    if (range.first.time >= time) return range.first.position;
    // Last block starting before `time`: the answer is in it or is the next block's first position.
    let lo = 0;
    let hi = this.blockCount() - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.blockTime(mid) < time) lo = mid;
      else hi = mid - 1;
    }
    const chunk = this.chunks[lo >> (CHUNK_BITS - BLOCK_BITS)];
    const blockStart = (lo & (BLOCKS_PER_CHUNK - 1)) << BLOCK_BITS;
    let t = chunk.blockTimes[blockStart >> BLOCK_BITS];
    const end = Math.min(blockStart + BLOCK, this.lastIndexed - ORIGIN - chunk.start + 1);
    for (let s = blockStart + 1; s < end; s++) {
      t += this.deltaAt(chunk, s);
      if (t >= time) return ORIGIN + chunk.start + s;
    }
    return ORIGIN + chunk.start + end;
  }

  /** Number of the chunk that holds `position`. */
  static chunkOf(position: number): number {
    return Math.floor((position - ORIGIN) / CHUNK);
  }

  /** First position of chunk `n`. */
  static chunkStart(n: number): number {
    return n * CHUNK + ORIGIN;
  }

  /** Last position of chunk `n`. */
  static chunkEnd(n: number): number {
    return TimeIndex.chunkStart(n + 1) - 1;
  }

  /** Chunk `n` as bytes, once every one of its positions is indexed (sealed); null before. */
  exportChunk(n: number): Uint8Array | null {
    const chunk = this.chunks.find((c) => c.start === n * CHUNK);
    if (!chunk || this.lastIndexed < TimeIndex.chunkEnd(n) || this.firstIndexed > TimeIndex.chunkStart(n)) return null;
    const escapes = [...this.escapes].filter(([position]) => TimeIndex.chunkOf(position) === n);
    const bytes = new Uint8Array(CHUNK + BLOCKS_PER_CHUNK * 8 + 4 + escapes.length * 12);
    const view = new DataView(bytes.buffer);
    bytes.set(chunk.deltas, 0);
    let at = CHUNK;
    for (const time of chunk.blockTimes) {
      view.setFloat64(at, time, true);
      at += 8;
    }
    view.setUint32(at, escapes.length, true);
    at += 4;
    for (const [position, delta] of escapes) {
      view.setUint32(at, position - TimeIndex.chunkStart(n), true);
      view.setFloat64(at + 4, delta, true);
      at += 12;
    }
    return bytes;
  }

  /**
   * Adds chunk `n` from `exportChunk`'s bytes: into an empty index, or right
   * after the last position indexed. Throws on bytes of the wrong shape.
   */
  restoreChunk(n: number, bytes: Uint8Array): void {
    const start = TimeIndex.chunkStart(n);
    if (this.lastIndexed !== 0 && start !== this.lastIndexed + 1) throw new Error(`TimeIndex: chunk ${n} does not follow position ${this.lastIndexed}`);
    const fixed = CHUNK + BLOCKS_PER_CHUNK * 8 + 4;
    if (bytes.length < fixed) throw new Error(`TimeIndex: chunk ${n} is ${bytes.length} bytes`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const count = view.getUint32(CHUNK + BLOCKS_PER_CHUNK * 8, true);
    if (bytes.length !== fixed + count * 12) throw new Error(`TimeIndex: chunk ${n} is ${bytes.length} bytes, not ${fixed + count * 12}`);
    const chunk: Chunk = { start: n * CHUNK, deltas: bytes.slice(0, CHUNK), blockTimes: new Float64Array(BLOCKS_PER_CHUNK) };
    for (let b = 0; b < BLOCKS_PER_CHUNK; b++) chunk.blockTimes[b] = view.getFloat64(CHUNK + b * 8, true);
    for (let e = 0, at = fixed; e < count; e++, at += 12) this.escapes.set(start + view.getUint32(at, true), view.getFloat64(at + 4, true));
    this.chunks.push(chunk);
    if (this.lastIndexed === 0) this.firstIndexed = start;
    this.lastIndexed = start + CHUNK - 1;
    this.lastTime = this.timeOf(this.lastIndexed);
  }

  /** Bytes held, for /heapstats-style reporting and the benchmark. */
  get bytes(): number {
    return this.chunks.length * (CHUNK + BLOCKS_PER_CHUNK * 8) + this.escapes.size * 40;
  }

  private blockCount(): number {
    const lastChunk = this.chunks[this.chunks.length - 1];
    return (this.chunks.length - 1) * BLOCKS_PER_CHUNK + (((this.lastIndexed - ORIGIN - lastChunk.start) >> BLOCK_BITS) + 1);
  }

  /** Time of the n-th block held (counting from the first chunk held). */
  private blockTime(n: number): number {
    return this.chunks[n >> (CHUNK_BITS - BLOCK_BITS)].blockTimes[n & (BLOCKS_PER_CHUNK - 1)];
  }

  private chunkOf(index: number): Chunk {
    return this.chunks[(index - this.chunks[0].start) >> CHUNK_BITS];
  }

  private deltaAt(chunk: Chunk, slot: number): number {
    const delta = chunk.deltas[slot];
    return delta === ESCAPE ? (this.escapes.get(ORIGIN + chunk.start + slot) as number) : delta;
  }
}

/**
 * The `at` of an encoded entry. Entries are encoded as `{"at":...` first
 * (entryCodec drops `type`, and every entry literal starts with `at`), so the
 * number is read from the bytes without parsing a possibly large payload.
 */
export function entryTime(payload: Uint8Array): number {
  // {"at":
  if (payload[0] === 0x7b && payload[1] === 0x22 && payload[2] === 0x61 && payload[3] === 0x74 && payload[4] === 0x22 && payload[5] === 0x3a) {
    let value = 0;
    let i = 6;
    for (; i < payload.length && i < 24; i++) {
      const c = payload[i];
      if (c < 0x30 || c > 0x39) break;
      value = value * 10 + (c - 0x30);
    }
    const next = payload[i];
    if (i > 6 && (next === 0x2c || next === 0x7d)) return value;
  }
  const parsed = JSON.parse(new TextDecoder().decode(payload)) as { at?: unknown };
  return typeof parsed.at === 'number' ? parsed.at : 0;
}

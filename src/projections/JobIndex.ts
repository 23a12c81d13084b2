/**
 * The job id index: for every job id, the log positions of the entries that
 * name it, and where each record sits in its segment file. Kept on disk in
 * its own LevelDB directory (DATA_DIR/index) so that the history of any job,
 * evicted long ago or not, costs a few point reads instead of a log scan, and
 * no per-job data is held in memory.
 *
 * Layout (binary keys):
 *   <jobId UTF-8> 0x00 <position u48 big-endian>  →  <byte offset in its segment u32 LE>
 *   0xFF "indexedThrough"                          →  <position u48 big-endian>
 * 0xFF never occurs in UTF-8, so the marker cannot collide with a job's key;
 * a job id containing 0x00 is told apart by the exact key length. A job's
 * keys are adjacent and in position order, and LevelDB stores each after the
 * first in a few bytes (shared prefix).
 *
 * The marker is written in the same batch as the keys it covers, so after a
 * crash the index is exactly what it was at some batch, and the indexer
 * continues from the marker (re-writing a key is harmless).
 */
import { Level } from 'level';

export interface IndexRef {
  jobId: string;
  position: number;
  /** Byte offset of the record in its segment file (UNKNOWN_OFFSET if the reader did not say). */
  offset: number;
}

export const UNKNOWN_OFFSET = 0xffffffff;

const POSITION_BYTES = 6;
const MARKER_KEY = Buffer.concat([Buffer.from([0xff]), Buffer.from('indexedThrough')]);

function positionBytes(position: number): Buffer {
  const bytes = Buffer.allocUnsafe(POSITION_BYTES);
  bytes.writeUIntBE(position, 0, POSITION_BYTES);
  return bytes;
}

function keyOf(jobId: Buffer, position: number): Buffer {
  return Buffer.concat([jobId, Buffer.from([0]), positionBytes(position)]);
}

function offsetBytes(offset: number): Buffer {
  const bytes = Buffer.allocUnsafe(4);
  bytes.writeUInt32LE(offset >= 0 && offset < UNKNOWN_OFFSET ? offset : UNKNOWN_OFFSET);
  return bytes;
}

export class JobIndex {
  /** Opens (or creates) the index in `dir`. */
  static async open(dir: string): Promise<JobIndex> {
    const db = new Level<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    try {
      await db.open();
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause;
      throw new Error(`JobIndex: cannot open ${dir}: ${cause instanceof Error ? cause.message : (error as Error).message}`, { cause: error });
    }
    const marker = await db.get(MARKER_KEY);
    return new JobIndex(db, marker === undefined ? 0 : marker.readUIntBE(0, POSITION_BYTES));
  }

  private through: number;

  private constructor(
    private readonly db: Level<Buffer, Buffer>,
    indexedThrough: number,
  ) {
    this.through = indexedThrough;
  }

  /** Every entry at or before this position is in the index (as far as the log still held it). */
  get indexedThrough(): number {
    return this.through;
  }

  /**
   * Adds `refs` and moves the marker to `through`, in one atomic batch. Not
   * synced: a crash loses the batch and its marker together, and the indexer
   * writes them again from the log.
   */
  async write(refs: readonly IndexRef[], through: number): Promise<void> {
    const operations = refs.map((ref) => ({
      type: 'put' as const,
      key: keyOf(Buffer.from(ref.jobId, 'utf8'), ref.position),
      value: offsetBytes(ref.offset),
    }));
    operations.push({ type: 'put', key: MARKER_KEY, value: positionBytes(through) });
    await this.db.batch(operations);
    this.through = through;
  }

  /**
   * Positions of `jobId` from `from` to `to` (inclusive), oldest first, at
   * most `limit` of them, with their record offsets.
   */
  async refsOf(jobId: string, from: number, to: number, limit: number): Promise<IndexRef[]> {
    if (to < from || limit <= 0) return [];
    const id = Buffer.from(jobId, 'utf8');
    const keyLength = id.length + 1 + POSITION_BYTES;
    const refs: IndexRef[] = [];
    const iterator = this.db.iterator({ gte: keyOf(id, Math.max(0, from)), lte: keyOf(id, Math.min(to, 2 ** 48 - 1)) });
    try {
      // nextv: a page of keys per round trip to LevelDB's thread, not one each.
      while (refs.length < limit) {
        const batch = await iterator.nextv(limit - refs.length);
        if (batch.length === 0) break;
        for (const [key, value] of batch) {
          // A longer key is another job whose id starts with this one and a 0x00.
          if (key.length !== keyLength) continue;
          refs.push({ jobId, position: key.readUIntBE(id.length + 1, POSITION_BYTES), offset: value.readUInt32LE(0) });
        }
      }
    } finally {
      // Not awaited: the answer need not wait for the release (LevelDB's close waits for open iterators).
      iterator.close().catch(() => {});
    }
    return refs;
  }

  /** Drops everything (the index belongs to another log): it is rebuilt from the log. */
  async clear(): Promise<void> {
    await this.db.clear();
    this.through = 0;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

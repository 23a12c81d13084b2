/**
 * Reads single records at byte offsets an index remembered, instead of
 * decoding a segment from its nearest seek point: a job's history is a
 * handful of records scattered over the whole log, and an older segment's
 * seek points only exist as far as something has read it.
 */
import { type FileHandle, open } from 'node:fs/promises';
import type { LogRecord } from './Log.ts';
import { decodeRecord, RECORD_HEADER_BYTES } from './recordCodec.ts';
import type { SegmentOnDisk } from './SegmentReader.ts';

/** Where a record was seen: its position and its byte offset in its segment file. */
export interface RecordRef {
  position: number;
  offset: number;
}

/** Most records fit in one read of this size; a bigger one takes a second read. */
const PROBE_BYTES = 4096;

/**
 * The records at `refs`, in the order given. A ref whose position is not on
 * disk in `parts` (deleted by retention, not flushed yet), or whose offset
 * does not hold a whole valid record, is answered `undefined`: the caller
 * falls back to a sequential read.
 */
export async function readRecordsAt(parts: SegmentOnDisk[], refs: readonly RecordRef[]): Promise<Array<LogRecord | undefined>> {
  const out: Array<LogRecord | undefined> = new Array(refs.length).fill(undefined);
  const bySegment = new Map<SegmentOnDisk, number[]>();
  refs.forEach((ref, i) => {
    const part = partHolding(parts, ref.position);
    if (part === undefined) return;
    const list = bySegment.get(part);
    if (list) list.push(i);
    else bySegment.set(part, [i]);
  });
  for (const [part, indexes] of bySegment) {
    let handle: FileHandle;
    try {
      handle = await open(part.segment.path, 'r');
    } catch (error) {
      // Retention deleted the file since the plan was made: those records are gone.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    try {
      // In parallel: each read is a trip to libuv's thread pool.
      await Promise.all(indexes.map(async (i) => (out[i] = await readOne(handle, part, refs[i]))));
    } finally {
      // Not awaited: the caller need not wait for a trip to the thread pool to release a read-only handle.
      handle.close().catch(() => {});
    }
  }
  return out;
}

async function readOne(handle: FileHandle, part: SegmentOnDisk, ref: RecordRef): Promise<LogRecord | undefined> {
  if (!Number.isSafeInteger(ref.offset) || ref.offset < 0 || ref.offset + RECORD_HEADER_BYTES > part.fileEnd) return undefined;
  let buffer = Buffer.allocUnsafe(Math.min(PROBE_BYTES, part.fileEnd - ref.offset));
  let { bytesRead } = await handle.read(buffer, 0, buffer.length, ref.offset);
  let decoded = decodeRecord(buffer, 0, bytesRead);
  if (decoded.kind === 'incomplete' && decoded.needBytes > bytesRead && ref.offset + decoded.needBytes <= part.fileEnd) {
    buffer = Buffer.allocUnsafe(decoded.needBytes);
    ({ bytesRead } = await handle.read(buffer, 0, buffer.length, ref.offset));
    decoded = decodeRecord(buffer, 0, bytesRead);
  }
  if (decoded.kind !== 'record') return undefined;
  return { position: ref.position, type: decoded.type, payload: Buffer.from(decoded.payload), offset: ref.offset };
}

/** The on-disk part whose records include `position`, by binary search (parts are in position order). */
function partHolding(parts: SegmentOnDisk[], position: number): SegmentOnDisk | undefined {
  let low = 0;
  let high = parts.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const part = parts[mid];
    if (position < part.segment.firstPosition) high = mid - 1;
    else if (position >= part.segment.firstPosition + part.records) low = mid + 1;
    else return part;
  }
  return undefined;
}

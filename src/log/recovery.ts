/**
 * Opening the log directory: validate segment headers and their continuity,
 * scan the last segment and cut a torn tail, refuse damage anywhere else.
 * Older segments are not scanned here (restart time must not grow with the
 * log); their record counts come from the next segment's name, and readers
 * verify their checksums as they go.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { crc32c } from './crc32c.ts';
import { durableMkdir } from './durableMkdir.ts';
import { LogCorruptionError, truncationRepair } from './LogCorruptionError.ts';
import type { IoCounters } from './LogStats.ts';
import { MAX_PAYLOAD_BYTES, RECORD_HEADER_BYTES } from './recordCodec.ts';
import { READ_BUFFER_BYTES, RecordScanner } from './RecordScanner.ts';
import { Segment } from './Segment.ts';
import { fsyncDirectory, listSegmentFiles, segmentFileName, type SegmentFile } from './segmentFiles.ts';
import { decodeSegmentHeader, encodeSegmentHeader, SEGMENT_HEADER_BYTES, type SegmentHeader } from './segmentHeader.ts';

export interface RecoveredLog {
  /** Oldest first; the last one is the active segment. */
  segments: Segment[];
  /** The active segment's file, open for writing at its end. */
  activeHandle: FileHandle;
}

export type Warn = (message: string) => void;

export async function recoverLog(dir: string, warn: Warn, io: IoCounters): Promise<RecoveredLog> {
  io.fsyncs += await durableMkdir(dir);
  const files = await listSegmentFiles(dir);
  if (files.length === 0) {
    const first: SegmentFile = { firstPosition: 1, name: segmentFileName(1), path: join(dir, segmentFileName(1)) };
    const handle = await open(first.path, 'wx');
    try {
      const segment = await writeFreshHeader(handle, first, 0, io);
      await fsyncDirectory(dir);
      io.fsyncs++;
      return { segments: [segment], activeHandle: handle };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }
  const segments: Segment[] = [];
  for (let i = 0; i < files.length - 1; i++) segments.push(await loadOlderSegment(files, i));
  const last = await recoverLastSegment(files, warn, io);
  segments.push(last.segment);
  // The previous process may have died with entries not yet durable (a new file, a deletion).
  await fsyncDirectory(dir);
  io.fsyncs++;
  return { segments, activeHandle: last.handle };
}

/** An older segment: check its header; its record count is the gap to the next segment's name. */
async function loadOlderSegment(files: SegmentFile[], i: number): Promise<Segment> {
  const file = files[i];
  const later = files.slice(i + 1).map((f) => f.path);
  const handle = await open(file.path, 'r');
  let size: number;
  let head: Buffer;
  try {
    size = (await handle.stat()).size;
    head = Buffer.alloc(Math.min(size, SEGMENT_HEADER_BYTES));
    await handle.read(head, 0, head.length, 0);
  } finally {
    await handle.close();
  }
  const header = decodeSegmentHeader(head);
  if ('problem' in header) throw LogCorruptionError.atRecord(file.path, 0, header.problem, later);
  checkHeader(files, i, header);
  const recordCount = files[i + 1].firstPosition - file.firstPosition;
  if (size < SEGMENT_HEADER_BYTES + recordCount * RECORD_HEADER_BYTES) {
    throw new LogCorruptionError(
      file.path,
      size,
      `segment is too short (${size} bytes) to hold the ${recordCount} records that the next segment's name implies (positions ${file.firstPosition}..${files[i + 1].firstPosition - 1})`,
      `Records are missing. To keep this segment's records and discard everything after them, stop the server, back up ${dirname(file.path)} and move every later segment file out of it (${files[i + 1].name} onward); the segment is then scanned as the last one on the next start.`,
    );
  }
  return new Segment(file.firstPosition, header.previousFirstPosition, file.path, { recordCount, bytes: size, created: true });
}

/** The header must match the file name and link to the file before it. */
function checkHeader(files: SegmentFile[], i: number, header: SegmentHeader): void {
  const file = files[i];
  if (header.firstPosition !== file.firstPosition) {
    throw new LogCorruptionError(
      file.path,
      8,
      `segment header says the segment starts at position ${header.firstPosition}, but its file name says ${file.firstPosition}`,
      `The file was renamed or copied from elsewhere. Rename it back to ${segmentFileName(header.firstPosition)} if that is where it belongs, otherwise move it out of ${dirname(file.path)} together with every later segment file.`,
    );
  }
  const previous = files[i - 1];
  if (previous !== undefined && header.previousFirstPosition !== previous.firstPosition) {
    const missing = header.previousFirstPosition > previous.firstPosition ? ` (${segmentFileName(header.previousFirstPosition)} is missing)` : '';
    throw new LogCorruptionError(
      file.path,
      16,
      `segment files are not continuous: ${file.name} follows the segment starting at position ${header.previousFirstPosition}, but the file before it is ${previous.name}${missing}`,
      `Restore the missing segment file from a backup. Or, to keep only the records from position ${file.firstPosition} on, stop the server, back up ${dirname(file.path)} and move ${previous.name} and every older segment file out of it.`,
    );
  }
}

/** The active segment: scan every record, cut a torn tail, refuse damage before the tail. */
async function recoverLastSegment(files: SegmentFile[], warn: Warn, io: IoCounters): Promise<{ segment: Segment; handle: FileHandle }> {
  const i = files.length - 1;
  const file = files[i];
  const previousFirst = files[i - 1]?.firstPosition ?? 0;
  const handle = await open(file.path, 'r+');
  try {
    const size = (await handle.stat()).size;
    const head = Buffer.alloc(Math.min(size, SEGMENT_HEADER_BYTES));
    await handle.read(head, 0, head.length, 0);
    if (size < SEGMENT_HEADER_BYTES || isZero(head)) {
      // Created by a rotation that crashed before its header was durable.
      if (size >= SEGMENT_HEADER_BYTES && !(await isZeroRange(handle, 0, size))) {
        throw LogCorruptionError.atRecord(file.path, 0, 'segment header is zeroed but data follows it', []);
      }
      if (size > 0) warn(`write-ahead log: ${file.path} had an incomplete segment header (${size} bytes); rewrote it as an empty segment`);
      await handle.truncate(0);
      return { segment: await writeFreshHeader(handle, file, previousFirst, io), handle };
    }
    const header = decodeSegmentHeader(head);
    if ('problem' in header) throw LogCorruptionError.atRecord(file.path, 0, header.problem, []);
    checkHeader(files, i, header);
    const segment = new Segment(file.firstPosition, header.previousFirstPosition, file.path, {
      recordCount: 0,
      bytes: SEGMENT_HEADER_BYTES,
      created: true,
    });
    const end = await scanAndCut(handle, file.path, size, segment, warn);
    segment.appendedBytes = end;
    segment.writtenBytes = end;
    // What the previous process wrote may still sit only in the page cache: make it as durable as we will claim.
    await handle.datasync();
    io.fsyncs++;
    return { segment, handle };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Counts the segment's valid records (indexing them); cuts a torn tail. Returns the end of the last good record. */
async function scanAndCut(handle: FileHandle, path: string, size: number, segment: Segment, warn: Warn): Promise<number> {
  const scanner = new RecordScanner(handle, SEGMENT_HEADER_BYTES, size);
  for (;;) {
    const step = await scanner.next();
    if (step.kind === 'record') {
      segment.noteRecordOffset(segment.recordCount, step.offset);
      segment.recordCount++;
      continue;
    }
    if (step.kind === 'end') return step.offset;
    const verdict = await judgeBadTail(handle, step.offset, size);
    if (verdict.torn) {
      await handle.truncate(step.offset);
      warn(
        `write-ahead log: cut a torn tail from ${path} at byte offset ${step.offset}: dropped ${size - step.offset} bytes ` +
          `(${verdict.reason}); the log now ends at position ${segment.lastPosition}`,
      );
      return step.offset;
    }
    throw LogCorruptionError.atRecord(path, step.offset, `damaged record (${verdict.reason})`, []);
  }
}

type Verdict = { torn: true; reason: string } | { torn: false; reason: string };

/**
 * A bad record at `offset` is a torn tail (a write the crash interrupted,
 * never acknowledged) when nothing but it, or zeros, follows: its frame runs
 * to or past the end of the file, or every byte after it is zero. A length
 * beyond the payload limit, or a valid record somewhere after it, means the
 * bytes were damaged after being written: refuse rather than drop data.
 */
async function judgeBadTail(handle: FileHandle, offset: number, size: number): Promise<Verdict> {
  if (size - offset < RECORD_HEADER_BYTES) return { torn: true, reason: 'partial record header' };
  const header = Buffer.alloc(RECORD_HEADER_BYTES);
  await handle.read(header, 0, RECORD_HEADER_BYTES, offset);
  const length = header.readUInt32LE(4);
  if (length > MAX_PAYLOAD_BYTES) return { torn: false, reason: `length field ${length} exceeds the payload limit` };
  const frameEnd = offset + RECORD_HEADER_BYTES + length;
  if (frameEnd < size) {
    return (await isZeroRange(handle, frameEnd, size))
      ? { torn: true, reason: 'damaged last record followed by zero-filled space' }
      : { torn: false, reason: 'checksum mismatch, and more data follows it' };
  }
  // The frame reaches the end of the file, so its length is at most the payload limit: read it whole.
  const tail = Buffer.alloc(size - offset);
  await handle.read(tail, 0, tail.length, offset);
  const resync = findValidRecord(tail, 1);
  if (resync !== undefined) {
    return { torn: false, reason: `its length runs to the end of the file, yet a valid record starts at byte offset ${offset + resync}` };
  }
  return { torn: true, reason: frameEnd > size ? 'partial record' : 'checksum mismatch in the last record' };
}

/** Offset of the first valid frame starting at or after `from` in `bytes`, if any (bounded work). */
function findValidRecord(bytes: Buffer, from: number): number | undefined {
  let crcBudget = 2 * MAX_PAYLOAD_BYTES;
  for (let p = from; p + RECORD_HEADER_BYTES <= bytes.length; p++) {
    const length = bytes.readUInt32LE(p + 4);
    const end = p + RECORD_HEADER_BYTES + length;
    if (length > MAX_PAYLOAD_BYTES || end > bytes.length) continue;
    crcBudget -= length + 5;
    if (crcBudget < 0) return undefined;
    if (crc32c(bytes.subarray(p + 4, end)) === bytes.readUInt32LE(p)) return p;
  }
  return undefined;
}

/** Writes the header of an empty segment into an empty file and makes it durable. */
async function writeFreshHeader(handle: FileHandle, file: SegmentFile, previousFirstPosition: number, io: IoCounters): Promise<Segment> {
  const header = encodeSegmentHeader({ firstPosition: file.firstPosition, previousFirstPosition });
  await handle.write(header, 0, header.length, 0);
  io.bytesWritten += header.length;
  await handle.datasync();
  io.fsyncs++;
  return new Segment(file.firstPosition, previousFirstPosition, file.path, { recordCount: 0, bytes: SEGMENT_HEADER_BYTES, created: true });
}

function isZero(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

const ZEROS = Buffer.alloc(READ_BUFFER_BYTES);

async function isZeroRange(handle: FileHandle, from: number, to: number): Promise<boolean> {
  const chunk = Buffer.allocUnsafe(Math.min(READ_BUFFER_BYTES, Math.max(0, to - from)));
  for (let at = from; at < to; ) {
    const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, to - at), at);
    if (bytesRead === 0) break;
    if (!chunk.subarray(0, bytesRead).equals(ZEROS.subarray(0, bytesRead))) return false;
    at += bytesRead;
  }
  return true;
}

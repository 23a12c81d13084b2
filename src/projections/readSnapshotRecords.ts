/**
 * Streams the records of one committed snapshot and verifies them against
 * its marker as it goes: too many records or an unparsable one fail at once;
 * a missing record, a wrong byte count or checksum fail after the last one.
 * Whoever consumes the stream must therefore treat a throw as "discard what
 * was built from it".
 */
import type { Level } from 'level';
import { checksumRecord } from './snapshotChecksum.ts';
import { SnapshotDamagedError } from './SnapshotDamagedError.ts';
import { recordRange } from './snapshotKeys.ts';
import type { SnapshotMarker } from './snapshotMarker.ts';

/** Records fetched from LevelDB per round trip. */
const CHUNK_RECORDS = 1000;
/**
 * classic-level stops a `nextv` once this many bytes are buffered (default
 * 16 KiB, i.e. ~50 records of 300 bytes); 1 MiB lets a chunk reach 1000.
 */
const CHUNK_BYTES = 1024 * 1024;

/** The iterator is only created when reading starts, so an unread stream holds no LevelDB resources. */
export async function* readSnapshotRecords(db: Level<string, string>, marker: SnapshotMarker): AsyncGenerator<unknown, void, undefined> {
  const { position } = marker;
  const iterator = db.values<string, Buffer>({ ...recordRange(position), valueEncoding: 'buffer', highWaterMarkBytes: CHUNK_BYTES });
  let records = 0;
  let bytes = Buffer.byteLength(marker.header, 'utf8');
  let checksum = 0;
  try {
    for (;;) {
      let chunk: Buffer[];
      try {
        chunk = await iterator.nextv(CHUNK_RECORDS);
      } catch (error) {
        if ((error as { code?: unknown }).code === 'LEVEL_CORRUPTION') {
          throw new SnapshotDamagedError(position, `LevelDB reports corruption: ${(error as Error).message}`, { cause: error });
        }
        throw error;
      }
      if (chunk.length === 0) break;
      for (const value of chunk) {
        if (records === marker.records) throw new SnapshotDamagedError(position, `it holds more records than the ${marker.records} its marker counts`);
        checksum = checksumRecord(checksum, value);
        bytes += value.length;
        let record: unknown;
        try {
          record = JSON.parse(value.toString('utf8'));
        } catch {
          throw new SnapshotDamagedError(position, `record ${records} is not valid JSON`);
        }
        records++;
        yield record;
      }
    }
  } finally {
    await iterator.close();
  }
  if (records !== marker.records) throw new SnapshotDamagedError(position, `it holds ${records} records, its marker counts ${marker.records}`);
  if (bytes !== marker.bytes) throw new SnapshotDamagedError(position, `it holds ${bytes} bytes, its marker counts ${marker.bytes}`);
  if (checksum !== marker.checksum) throw new SnapshotDamagedError(position, 'record checksum mismatch');
}

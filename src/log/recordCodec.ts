/**
 * One framed record (all integers little-endian):
 *
 *   offset 0  crc32c  u32   CRC-32C of bytes 4 .. 9+length (length, type, payload)
 *   offset 4  length  u32   payload length in bytes
 *   offset 8  type    u8
 *   offset 9  payload length bytes
 *
 * The CRC covers the length too, so a flipped bit in the length is caught by
 * the checksum instead of silently shifting every later frame boundary.
 */
import { crc32c } from './crc32c.ts';

export const RECORD_HEADER_BYTES = 9;

/**
 * Largest payload a record may carry. Also a sanity bound for recovery: a
 * length above it is damage, so a corrupt length never makes us allocate or
 * read gigabytes.
 */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

export function frameBytes(payloadLength: number): number {
  return RECORD_HEADER_BYTES + payloadLength;
}

/** Throws a RangeError when (type, payload) cannot be framed. */
export function checkRecord(type: number, payload: Uint8Array): void {
  if (!Number.isInteger(type) || type < 0 || type > 255) {
    throw new RangeError(`record type must be an integer 0..255, got ${type}`);
  }
  if (!(payload instanceof Uint8Array)) throw new TypeError('record payload must be a Uint8Array');
  if (payload.length > MAX_PAYLOAD_BYTES) {
    throw new RangeError(`record payload of ${payload.length} bytes exceeds the ${MAX_PAYLOAD_BYTES}-byte limit`);
  }
}

/** Encodes one record at `offset` of `target` (which must have room); returns the offset after it. */
export function encodeRecord(target: Buffer, offset: number, type: number, payload: Uint8Array): number {
  const end = offset + RECORD_HEADER_BYTES + payload.length;
  target.writeUInt32LE(payload.length, offset + 4);
  target[offset + 8] = type;
  target.set(payload, offset + RECORD_HEADER_BYTES);
  target.writeUInt32LE(crc32c(target.subarray(offset + 4, end)), offset);
  return end;
}

export type DecodeResult =
  /** `payload` is a view into the source buffer, not a copy. */
  | { kind: 'record'; type: number; payload: Buffer; end: number }
  /** The bytes up to `limit` hold only the first part of a frame; `needBytes` is the whole frame's size when known. */
  | { kind: 'incomplete'; needBytes: number }
  | { kind: 'bad'; reason: string };

/** Decodes the record starting at `offset`, looking no further than `limit`. */
export function decodeRecord(source: Buffer, offset: number, limit: number): DecodeResult {
  const available = limit - offset;
  if (available < RECORD_HEADER_BYTES) return { kind: 'incomplete', needBytes: RECORD_HEADER_BYTES };
  const length = source.readUInt32LE(offset + 4);
  if (length > MAX_PAYLOAD_BYTES) {
    return { kind: 'bad', reason: `length field ${length} exceeds the ${MAX_PAYLOAD_BYTES}-byte payload limit` };
  }
  const end = offset + RECORD_HEADER_BYTES + length;
  if (end > limit) return { kind: 'incomplete', needBytes: RECORD_HEADER_BYTES + length };
  const stored = source.readUInt32LE(offset);
  if (crc32c(source.subarray(offset + 4, end)) !== stored) {
    return { kind: 'bad', reason: 'checksum mismatch' };
  }
  return { kind: 'record', type: source[offset + 8], payload: source.subarray(offset + RECORD_HEADER_BYTES, end), end };
}

/**
 * The 32-byte header at the start of every segment file (little-endian):
 *
 *   offset 0   magic                  8 bytes  "LQWAL001"
 *   offset 8   firstPosition          u64      must equal the file name
 *   offset 16  previousFirstPosition  u64      first position of the segment before it (0: none)
 *   offset 24  reserved               u32      zero
 *   offset 28  crc32c                 u32      CRC-32C of bytes 0..27
 *
 * The back link is what lets `open` notice a missing segment file without
 * scanning older segments: each file names the one that must precede it.
 */
import { crc32c } from './crc32c.ts';

export const SEGMENT_HEADER_BYTES = 32;
const MAGIC = Buffer.from('LQWAL001', 'latin1');

export interface SegmentHeader {
  firstPosition: number;
  previousFirstPosition: number;
}

export function encodeSegmentHeader(header: SegmentHeader): Buffer {
  const bytes = Buffer.alloc(SEGMENT_HEADER_BYTES);
  MAGIC.copy(bytes, 0);
  bytes.writeBigUInt64LE(BigInt(header.firstPosition), 8);
  bytes.writeBigUInt64LE(BigInt(header.previousFirstPosition), 16);
  bytes.writeUInt32LE(crc32c(bytes.subarray(0, 28)), 28);
  return bytes;
}

/** Decodes a header, or returns why the bytes are not a valid one. */
export function decodeSegmentHeader(bytes: Buffer): SegmentHeader | { problem: string } {
  if (bytes.length < SEGMENT_HEADER_BYTES) return { problem: `segment header is only ${bytes.length} bytes long` };
  if (!bytes.subarray(0, 8).equals(MAGIC)) return { problem: 'not a ledgerq segment file (bad magic)' };
  if (crc32c(bytes.subarray(0, 28)) !== bytes.readUInt32LE(28)) return { problem: 'segment header checksum mismatch' };
  const firstPosition = Number(bytes.readBigUInt64LE(8));
  const previousFirstPosition = Number(bytes.readBigUInt64LE(16));
  if (!Number.isSafeInteger(firstPosition) || !Number.isSafeInteger(previousFirstPosition)) {
    return { problem: 'segment header positions out of range' };
  }
  return { firstPosition, previousFirstPosition };
}

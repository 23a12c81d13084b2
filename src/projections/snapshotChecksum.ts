/**
 * Checksum of a snapshot's records: CRC-32C over, for each record in order,
 * its byte length (uint32 little-endian) then its UTF-8 JSON bytes. The
 * length prefix makes record boundaries part of the sum, so bytes shifted
 * from one record into its neighbour do not go unnoticed.
 */
import { crc32c } from '../log/crc32c.ts';

const lengthBytes = new Uint8Array(4);

/** Folds one record's bytes into `crc` (start from 0). */
export function checksumRecord(crc: number, bytes: Uint8Array): number {
  const n = bytes.length;
  lengthBytes[0] = n & 0xff;
  lengthBytes[1] = (n >>> 8) & 0xff;
  lengthBytes[2] = (n >>> 16) & 0xff;
  lengthBytes[3] = (n >>> 24) & 0xff;
  return crc32c(bytes, crc32c(lengthBytes, crc));
}

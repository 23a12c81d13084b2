/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every
 * log record. Slice-by-8: eight 256-entry tables let the loop consume eight
 * bytes per step instead of one, which is what keeps the append path cheap.
 */
const POLY = 0x82f63b78;

/** TABLES[k * 256 + b]: CRC contribution of byte b seen k bytes before the end of an 8-byte block. */
const TABLES = buildTables();

function buildTables(): Uint32Array {
  const tables = new Uint32Array(8 * 256);
  for (let b = 0; b < 256; b++) {
    let crc = b;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ POLY : crc >>> 1;
    tables[b] = crc >>> 0;
  }
  for (let k = 1; k < 8; k++) {
    for (let b = 0; b < 256; b++) {
      const prev = tables[(k - 1) * 256 + b];
      tables[k * 256 + b] = ((prev >>> 8) ^ tables[prev & 0xff]) >>> 0;
    }
  }
  return tables;
}

/**
 * CRC-32C of `data`. Pass a previous result as `crc` to continue a checksum
 * over data split in pieces: crc32c(b, crc32c(a)) === crc32c(a ++ b).
 */
export function crc32c(data: Uint8Array, crc = 0): number {
  const t = TABLES;
  let c = ~crc >>> 0;
  let i = 0;
  const end8 = data.length - (data.length & 7);
  while (i < end8) {
    c ^= data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    c =
      t[1792 + (c & 0xff)] ^
      t[1536 + ((c >>> 8) & 0xff)] ^
      t[1280 + ((c >>> 16) & 0xff)] ^
      t[1024 + (c >>> 24)] ^
      t[768 + data[i + 4]] ^
      t[512 + data[i + 5]] ^
      t[256 + data[i + 6]] ^
      t[data[i + 7]];
    i += 8;
  }
  while (i < data.length) c = t[(c ^ data[i++]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32c } from '../../src/log/crc32c.ts';
import { decodeRecord, encodeRecord, frameBytes, MAX_PAYLOAD_BYTES } from '../../src/log/recordCodec.ts';
import { decodeSegmentHeader, encodeSegmentHeader } from '../../src/log/segmentHeader.ts';
import { parseSegmentFileName, segmentFileName } from '../../src/log/segmentFiles.ts';

/** Bit-at-a-time reference implementation to check the table-driven one against. */
function slowCrc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

test('crc32c: known vectors', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  // RFC 3720 (iSCSI) test patterns.
  assert.equal(crc32c(Buffer.alloc(32, 0x00)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
});

test('crc32c: matches a bit-wise reference at every length and alignment, and chains', () => {
  const data = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff));
  for (let start = 0; start < 9; start++) {
    for (let end = start; end <= data.length; end += 13) {
      assert.equal(crc32c(data.subarray(start, end)), slowCrc32c(data.subarray(start, end)), `bytes ${start}..${end}`);
    }
  }
  assert.equal(crc32c(data.subarray(123), crc32c(data.subarray(0, 123))), crc32c(data));
});

test('record codec: round trip of several records back to back', () => {
  const records = [
    { type: 0, payload: Buffer.alloc(0) },
    { type: 255, payload: Buffer.from('hello, log') },
    { type: 7, payload: Buffer.alloc(5000, 0xab) },
  ];
  const buf = Buffer.alloc(records.reduce((n, r) => n + frameBytes(r.payload.length), 0));
  let at = 0;
  for (const r of records) at = encodeRecord(buf, at, r.type, r.payload);
  assert.equal(at, buf.length);
  // Layout: crc | length | type | payload, little-endian; the CRC covers length, type and payload.
  assert.equal(buf.readUInt32LE(frameBytes(0) + 4), 10);
  assert.equal(buf[frameBytes(0) + 8], 255);
  assert.equal(buf.readUInt32LE(0), crc32c(buf.subarray(4, 9)));

  at = 0;
  for (const r of records) {
    const decoded = decodeRecord(buf, at, buf.length);
    assert.equal(decoded.kind, 'record');
    if (decoded.kind !== 'record') return;
    assert.equal(decoded.type, r.type);
    assert.deepEqual(Buffer.from(decoded.payload), r.payload);
    at = decoded.end;
  }
});

test('record codec: incomplete, checksum mismatch, length over the cap', () => {
  const buf = Buffer.alloc(frameBytes(4));
  encodeRecord(buf, 0, 3, Buffer.from('abcd'));
  assert.deepEqual(decodeRecord(buf, 0, 5), { kind: 'incomplete', needBytes: 9 });
  assert.deepEqual(decodeRecord(buf, 0, buf.length - 1), { kind: 'incomplete', needBytes: 13 });
  for (const byteIndex of [0, 4, 8, 12]) {
    const damaged = Buffer.from(buf);
    damaged[byteIndex] ^= 0x01;
    const result = decodeRecord(damaged, 0, damaged.length);
    assert.notEqual(result.kind, 'record', `flip in byte ${byteIndex} must be detected`);
  }
  const huge = Buffer.from(buf);
  huge.writeUInt32LE(MAX_PAYLOAD_BYTES + 1, 4);
  assert.equal(decodeRecord(huge, 0, huge.length).kind, 'bad');
});

test('segment file names sort numerically and parse back; header round trip', () => {
  assert.equal(segmentFileName(1), '00000000000000000001.wal');
  const names = [1, 9, 10, 1000, 123456789].map(segmentFileName);
  assert.deepEqual([...names].sort(), names);
  assert.equal(parseSegmentFileName(segmentFileName(123456789)), 123456789);
  assert.equal(parseSegmentFileName('00000000000000000000.wal'), undefined);
  assert.equal(parseSegmentFileName('1.wal'), undefined);
  const header = encodeSegmentHeader({ firstPosition: 42, previousFirstPosition: 7 });
  assert.deepEqual(decodeSegmentHeader(header), { firstPosition: 42, previousFirstPosition: 7 });
  header[9] ^= 1;
  assert.ok('problem' in decodeSegmentHeader(header));
});

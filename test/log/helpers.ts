/** Shared helpers for the log tests (not a test file itself). */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogRecord } from '../../src/log/Log.ts';
import { SegmentedLog, type SegmentedLogOptions } from '../../src/log/SegmentedLog.ts';

export const SEGMENT_HEADER = 32;
export const RECORD_HEADER = 9;

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ledgerq-log-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A deterministic record for position `p` with varying type and length. */
export function recordFor(p: number): { type: number; payload: Buffer } {
  const length = (p * 37) % 90;
  const payload = Buffer.alloc(length);
  for (let i = 0; i < length; i++) payload[i] = (p * 31 + i * 7) & 0xff;
  return { type: p % 256, payload };
}

export async function collect(records: AsyncIterable<LogRecord>): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for await (const r of records) out.push(r);
  return out;
}

/** First `count` records of a read, leaving the iterator early (exercises cleanup). */
export async function take(records: AsyncIterable<LogRecord>, count: number): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  if (count <= 0) return out;
  for await (const r of records) {
    out.push(r);
    if (out.length === count) break;
  }
  return out;
}

export function assertRecordsMatch(actual: LogRecord[], firstPosition: number, lastPosition: number): void {
  const expectedCount = Math.max(0, lastPosition - firstPosition + 1);
  if (actual.length !== expectedCount) {
    throw new Error(`expected ${expectedCount} records from ${firstPosition}, got ${actual.length}`);
  }
  actual.forEach((r, i) => {
    const p = firstPosition + i;
    const want = recordFor(p);
    if (r.position !== p || r.type !== want.type || !Buffer.from(r.payload).equals(want.payload)) {
      throw new Error(`record mismatch at position ${p}: got position ${r.position} type ${r.type} length ${r.payload.length}`);
    }
  });
}

/** Appends recordFor(p) for the next `count` positions. */
export function appendRecords(log: SegmentedLog, count: number): void {
  for (let i = 0; i < count; i++) {
    const { type, payload } = recordFor(log.lastPosition + 1);
    log.append(type, payload);
  }
}

export async function openLog(dir: string, options: Partial<SegmentedLogOptions> = {}): Promise<{ log: SegmentedLog; warnings: string[] }> {
  const warnings: string[] = [];
  const log = await SegmentedLog.open({ dir, onWarning: (m) => warnings.push(m), ...options });
  return { log, warnings };
}

export async function segmentNames(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.wal')).sort();
}

/** Frame start offsets of a segment file, parsed independently of the implementation's scanner. */
export async function frameOffsets(path: string): Promise<number[]> {
  const bytes = await readFile(path);
  const offsets: number[] = [];
  for (let at = SEGMENT_HEADER; at < bytes.length; at += RECORD_HEADER + bytes.readUInt32LE(at + 4)) offsets.push(at);
  return offsets;
}

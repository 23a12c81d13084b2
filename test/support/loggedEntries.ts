/**
 * The entries a server wrote, read from its data directory through the real
 * log and codec. The write-ahead log is copied first, so a running server is
 * left alone (opening a log recovers its tail, which only its owner may do);
 * a record half-written at the instant of the copy is cut from the copy.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import type { Entry } from '../../src/domain/entries.ts';
import { decodeEntry } from '../../src/domain/entryCodec.ts';
import { SegmentedLog } from '../../src/log/SegmentedLog.ts';
import { makeTempDir } from './testServer.ts';

export type Logged = Entry & { position: number };

export async function loggedEntries(dataDir: string): Promise<Logged[]> {
  const copy = join(makeTempDir('ledgerq-wal-copy-'), 'wal');
  cpSync(join(dataDir, 'wal'), copy, { recursive: true });
  const log = await SegmentedLog.open({ dir: copy, onWarning: () => {} });
  try {
    const entries: Logged[] = [];
    for await (const record of log.read(1)) entries.push({ ...decodeEntry(record.type, record.payload), position: record.position });
    return entries;
  } finally {
    await log.close();
  }
}

/** The entries about job `id` (an evict entry counts when it lists the id). */
export function entriesOf(entries: readonly Logged[], id: string): Logged[] {
  return entries.filter((e) => (e.type === 'evict' ? e.jobIds.includes(id) : e.jobId === id));
}

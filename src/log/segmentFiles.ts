/**
 * Segment file names and directory operations. A segment is named by the
 * position of its first record, zero-padded to 20 digits (enough for any u64)
 * so that lexical order is numeric order.
 */
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

const NAME_DIGITS = 20;
const SEGMENT_NAME = /^(\d{20})\.wal$/;

export interface SegmentFile {
  firstPosition: number;
  name: string;
  path: string;
}

export function segmentFileName(firstPosition: number): string {
  return `${String(firstPosition).padStart(NAME_DIGITS, '0')}.wal`;
}

/** First position encoded in a segment file name, or undefined when `name` is not a segment file. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = SEGMENT_NAME.exec(name);
  if (!match) return undefined;
  const position = Number(match[1]);
  return Number.isSafeInteger(position) && position >= 1 ? position : undefined;
}

/** Segment files in `dir`, oldest first. Other files are left alone and not returned. */
export async function listSegmentFiles(dir: string): Promise<SegmentFile[]> {
  const files: SegmentFile[] = [];
  for (const name of await readdir(dir)) {
    const firstPosition = parseSegmentFileName(name);
    if (firstPosition !== undefined) files.push({ firstPosition, name, path: join(dir, name) });
  }
  return files.sort((a, b) => a.firstPosition - b.firstPosition);
}

/** Makes creations, renames and deletions of entries in `dir` durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

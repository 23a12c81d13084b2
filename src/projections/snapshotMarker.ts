/**
 * The commit marker of a snapshot: written last, in its own synced write, so
 * a snapshot without one is incomplete by definition. It carries everything
 * `load` needs to verify the records, and the header.
 */
import { checksumRecord } from './snapshotChecksum.ts';
import { SnapshotDamagedError } from './SnapshotDamagedError.ts';

export const MARKER_VERSION = 1;

export interface SnapshotMarker {
  version: typeof MARKER_VERSION;
  position: number;
  takenAt: number;
  /** Number of records. */
  records: number;
  /** UTF-8 bytes of the header JSON plus every record's JSON. */
  bytes: number;
  /** `checksumRecord` folded over the records, in order. */
  checksum: number;
  /**
   * The header's JSON text. Kept as text (not a nested value) so that
   * `headerChecksum` covers exactly the stored bytes.
   */
  header: string;
  headerChecksum: number;
}

export function headerChecksum(headerJson: string): number {
  return checksumRecord(0, Buffer.from(headerJson, 'utf8'));
}

export function encodeMarker(marker: SnapshotMarker): string {
  return JSON.stringify(marker);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isUint32(value: unknown): value is number {
  return isCount(value) && value <= 0xffffffff;
}

/** Parses and checks the marker stored under the key of `position`; throws SnapshotDamagedError if it is not sound. */
export function decodeMarker(position: number, text: string): SnapshotMarker {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SnapshotDamagedError(position, 'its commit marker is not valid JSON');
  }
  const m = (typeof value === 'object' && value !== null ? value : {}) as Partial<Record<keyof SnapshotMarker, unknown>>;
  const problem =
    m.version !== MARKER_VERSION ? `unknown marker version ${String(m.version)}`
    : m.position !== position ? `its marker names position ${String(m.position)}`
    : typeof m.takenAt !== 'number' || !Number.isFinite(m.takenAt) ? 'its marker has no valid takenAt'
    : !isCount(m.records) || !isCount(m.bytes) ? 'its marker has no valid record or byte count'
    : !isUint32(m.checksum) || !isUint32(m.headerChecksum) ? 'its marker has no valid checksum'
    : typeof m.header !== 'string' ? 'its marker has no header'
    : undefined;
  if (problem !== undefined) throw new SnapshotDamagedError(position, problem);
  return m as SnapshotMarker;
}

/**
 * LevelDB key layout of the snapshot store. Fixed-width decimal numbers make
 * the byte order of keys equal to the numeric order of positions and indexes.
 *
 *   m:<position, 16 digits>                      commit marker (JSON), written last
 *   m;                                           fence (empty value, never deleted)
 *   r:<position, 16 digits>:<index, 10 digits>   one record (JSON)
 *
 * Markers live apart from records so that listing snapshots reads a handful of
 * keys, never millions of records. The fence matters because LevelDB skips
 * deleted keys one by one: without a live key right after the markers, the
 * scan would run on through the tombstones of every deleted record (~2 µs
 * each) until compaction drops them.
 */
const POSITION_DIGITS = 16; // Number.MAX_SAFE_INTEGER has 16 digits
const INDEX_DIGITS = 10;

/** Most records one snapshot can hold with 10-digit indexes. */
export const MAX_RECORDS = 10 ** INDEX_DIGITS - 1;

const MARKER_PREFIX = 'm:';
const RECORD_PREFIX = 'r:';

/** Every marker key lies in [gte, lt): ';' is the byte after ':'. */
export const MARKER_RANGE = { gte: 'm:', lt: 'm;' } as const;
/** Live key just past the marker range; see above. */
export const MARKER_FENCE = 'm;';
/** Every record key lies in [gte, lt). */
export const RECORD_KEYS = { gte: 'r:', lt: 'r;' } as const;

function pad(value: number, digits: number): string {
  return String(value).padStart(digits, '0');
}

export function markerKey(position: number): string {
  return MARKER_PREFIX + pad(position, POSITION_DIGITS);
}

/** Position named by a marker key, or undefined if the key is not one. */
export function positionOfMarkerKey(key: string): number | undefined {
  const digits = key.slice(MARKER_PREFIX.length);
  if (!key.startsWith(MARKER_PREFIX) || digits.length !== POSITION_DIGITS || !/^\d+$/.test(digits)) return undefined;
  const position = Number(digits);
  return Number.isSafeInteger(position) ? position : undefined;
}

/** Common prefix of the record keys of one snapshot; append `recordIndex(i)`. */
export function recordKeyPrefix(position: number): string {
  return `${RECORD_PREFIX}${pad(position, POSITION_DIGITS)}:`;
}

export function recordIndex(index: number): string {
  return pad(index, INDEX_DIGITS);
}

export function recordKey(position: number, index: number): string {
  return recordKeyPrefix(position) + recordIndex(index);
}

/** Key range [gte, lt) holding exactly the records of the snapshot at `position`. */
export function recordRange(position: number): { gte: string; lt: string } {
  const prefix = `${RECORD_PREFIX}${pad(position, POSITION_DIGITS)}`;
  return { gte: `${prefix}:`, lt: `${prefix};` };
}

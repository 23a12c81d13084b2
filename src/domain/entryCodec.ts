import type { Entry, EntryType } from './entries.ts';

/**
 * Entries travel in log records as a one-byte type and a JSON payload. The
 * codes are part of the on-disk format: never renumber, only add.
 */
const codeOf: Record<EntryType, number> = {
  push: 1,
  duplicate: 2,
  pull: 3,
  ack: 4,
  fail: 5,
  cancel: 6,
  promote: 7,
  resolve: 8,
  progress: 9,
  evict: 10,
  release: 11,
};

const typeOf = new Map<number, EntryType>(Object.entries(codeOf).map(([type, code]) => [code, type as EntryType]));

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The payload's version, written in every payload as `v`. 1 (no `v`): before
 * actors. 2: every entry has `by`, its actor. A reader upgrades older
 * payloads as it decodes them, so replay and readers see one shape.
 */
export const PAYLOAD_VERSION = 2;

export function encodeEntry(entry: Entry): { type: number; payload: Uint8Array } {
  // `type: undefined` leaves the type out (it is the record's type byte); one copy, as the rest-spread it replaces.
  const body = { ...entry, type: undefined, v: PAYLOAD_VERSION, by: entry.by ?? null };
  return { type: codeOf[entry.type], payload: encoder.encode(JSON.stringify(body)) };
}

export function decodeEntry(code: number, payload: Uint8Array): Entry {
  const type = typeOf.get(code);
  if (type === undefined) throw new Error(`Unknown log entry type ${code}`);
  // Version 1 had no actor: `by` null unless the payload has one.
  return { type, by: null, ...JSON.parse(decoder.decode(payload)) } as Entry;
}

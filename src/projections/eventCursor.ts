/**
 * Where a client is in the event stream. An event's id is its entry's log
 * position; an entry standing for several events gives its last event the id
 * `"<position>"` and the earlier ones `"<position>:<index>"`. So `"<p>"` means
 * "everything up to and including entry p", and `"<p>:<i>"` means "entry p's
 * events up to index i".
 */
export interface EventCursor {
  position: number;
  /** Last delivered event index within the entry at `position`; null = the whole entry. */
  index: number | null;
}

export function eventId(position: number, index: number, count: number): string {
  return index === count - 1 ? String(position) : `${position}:${index}`;
}

const CURSOR = /^(\d{1,15})(?::(\d{1,6}))?$/;

/** Parses an event id (`Last-Event-ID`, `?from=`); null when it is not one. */
export function parseEventCursor(raw: string): EventCursor | null {
  const match = CURSOR.exec(raw.trim());
  if (!match) return null;
  return { position: Number(match[1]), index: match[2] === undefined ? null : Number(match[2]) };
}

import type { ParseResult } from '../domain/pushOptions.ts';
import { type EventCursor, parseEventCursor } from '../projections/eventCursor.ts';

/**
 * Where a stream starts: after `Last-Event-ID`, else after `?from=`, else
 * live only. The header wins because a reconnecting EventSource keeps the
 * original URL (with its `from`) and adds the id it got last.
 */
export function streamCursor(lastEventId: string | string[] | undefined, from: unknown): ParseResult<EventCursor | null> {
  const header = Array.isArray(lastEventId) ? lastEventId[0] : lastEventId;
  if (header !== undefined && header.trim() !== '') {
    const cursor = parseEventCursor(header);
    return cursor ? { ok: true, value: cursor } : { ok: false, error: 'Last-Event-ID must be an event id (<position> or <position>:<index>)' };
  }
  if (from === undefined || from === '') return { ok: true, value: null };
  const cursor = typeof from === 'string' ? parseEventCursor(from) : null;
  return cursor ? { ok: true, value: cursor } : { ok: false, error: 'from must be a log position (or an event id)' };
}

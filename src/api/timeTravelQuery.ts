import { z } from 'zod';
import type { ParseResult } from '../domain/pushOptions.ts';

/*
 * Query parameters of the point-in-time endpoints. Each parser answers a
 * value or the message of a 400; a parameter given twice (an array) is refused.
 */

const ISO_8601 = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

const timeSchema = z.string().transform((raw, ctx) => {
  if (/^\d{1,16}$/.test(raw)) return Number(raw);
  const ms = ISO_8601.test(raw) ? Date.parse(raw) : Number.NaN;
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: 'custom', message: 'must be epoch milliseconds or an ISO 8601 time' });
    return z.NEVER;
  }
  return ms;
});

/** A time: epoch ms (digits) or ISO 8601 (`2026-12-02T14:03:07Z`, `2026-12-02T14:03:07.250+01:00`). */
export function parseTime(name: string, raw: unknown): ParseResult<number> {
  const parsed = timeSchema.safeParse(raw);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: `${name} ${parsed.error.issues[0]?.message ?? 'is invalid'}` };
}

export function parsePosition(raw: unknown): ParseResult<number> {
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw) || Number(raw) < 1) return { ok: false, error: 'position must be a log position (an integer >= 1)' };
  return { ok: true, value: Number(raw) };
}

const DEFAULT_PAGE = 1000;
export const MAX_PAGE = 10_000;

export function parseLimit(raw: unknown): ParseResult<number> {
  if (raw === undefined) return { ok: true, value: DEFAULT_PAGE };
  if (typeof raw !== 'string' || !/^\d{1,6}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_PAGE) {
    return { ok: false, error: `limit must be an integer from 1 to ${MAX_PAGE}` };
  }
  return { ok: true, value: Number(raw) };
}

/** Either `at` (a time) or `position`, exactly one. */
export type PointQuery = { kind: 'at'; time: number } | { kind: 'position'; position: number };

export function parsePoint(query: Record<string, unknown>): ParseResult<PointQuery> | undefined {
  const { at, position } = query;
  if (at === undefined && position === undefined) return undefined;
  if (at !== undefined && position !== undefined) return { ok: false, error: 'give either at or position, not both' };
  if (at !== undefined) {
    const time = parseTime('at', at);
    return time.ok ? { ok: true, value: { kind: 'at', time: time.value } } : time;
  }
  const parsed = parsePosition(position);
  return parsed.ok ? { ok: true, value: { kind: 'position', position: parsed.value } } : parsed;
}

/** Cursors are integers joined by ':' (a position first): opaque to clients. */
export function parseCursor(raw: unknown, parts: number): ParseResult<number[] | undefined> {
  if (raw === undefined) return { ok: true, value: undefined };
  const pattern = new RegExp(`^\\d{1,15}(:\\d{1,15}){${parts - 1}}$`);
  if (typeof raw !== 'string' || !pattern.test(raw)) return { ok: false, error: 'cursor is not one this server gave' };
  return { ok: true, value: raw.split(':').map(Number) };
}

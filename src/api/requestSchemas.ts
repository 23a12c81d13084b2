import { z } from 'zod';
import type { ParseResult } from '../domain/pushOptions.ts';
import { firstMessage } from '../domain/pushOptions.ts';

const token = z.string({ error: 'token must be a string' }).optional();

export const ackBodySchema = z.object({ result: z.unknown().optional(), token });
export const failBodySchema = z.object({ error: z.string({ error: 'error must be a string' }).optional(), token });

const progressError = 'progress must be a number from 0 to 100';
export const progressBodySchema = z.object({
  progress: z.number({ error: progressError }).min(0, { error: progressError }).max(100, { error: progressError }),
  message: z.string({ error: 'message must be a string' }).max(10_000, { error: 'message must be at most 10000 characters' }).optional(),
  token,
});

/** A bare lease renewal (WebSocket `Heartbeat`): progress stays as it is. */
export const heartbeatBodySchema = z.object({ token });

export type AckBody = z.infer<typeof ackBodySchema>;
export type FailBody = z.infer<typeof failBodySchema>;

/** Parses an optional JSON object body: absent means `{}`, anything but an object is refused. */
export function parseOptionalBody<T>(schema: z.ZodType<T>, body: unknown): ParseResult<T> {
  if (body === undefined) body = {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, error: 'Invalid JSON body' };
  const parsed = schema.safeParse(body);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: firstMessage(parsed.error) };
}

export const MAX_LONG_POLL_MS = 60_000;

/** Long-poll `timeout` query parameter: an integer of milliseconds >= 0, capped at one minute. */
export function parsePullTimeout(raw: unknown): ParseResult<number> {
  if (raw === undefined || raw === '') return { ok: true, value: 0 };
  if (typeof raw !== 'string' || !/^\d+$/.test(raw)) return { ok: false, error: 'timeout must be an integer >= 0 (ms)' };
  return { ok: true, value: Math.min(Number(raw), MAX_LONG_POLL_MS) };
}

import { z } from 'zod';
import { parseAuthTokens } from '../api/authTokens.ts';
import { parseTrustProxy } from '../api/clientAddress.ts';

const MiB = 1024 * 1024;
const DAY = 24 * 3600 * 1000;

const integer = (name: string, min: number, max: number, fallback: number) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === '') return fallback;
      const value = Number(raw);
      if (!Number.isInteger(value) || value < min || value > max) {
        ctx.addIssue({ code: 'custom', message: `${name} must be an integer from ${min} to ${max} (got "${raw}")` });
        return z.NEVER;
      }
      return value;
    });

const text = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((raw) => (raw === undefined || raw.trim() === '' ? fallback : raw.trim()));

/** A number of ms or requests where "Infinity" (or nothing) means no limit. */
const limit = (name: string, min: number) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === '' || raw.trim() === 'Infinity') return Infinity;
      const value = Number(raw);
      if (!Number.isInteger(value) || value < min) {
        ctx.addIssue({ code: 'custom', message: `${name} must be an integer >= ${min} or "Infinity" (got "${raw}")` });
        return z.NEVER;
      }
      return value;
    });

const flag = (name: string) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const value = raw?.trim().toLowerCase() ?? '';
      if (value === '' || value === 'false' || value === '0' || value === 'no') return false;
      if (value === 'true' || value === '1' || value === 'yes') return true;
      ctx.addIssue({ code: 'custom', message: `${name} must be true or false (got "${raw}")` });
      return z.NEVER;
    });

/** Comma-separated, trimmed, empty entries ignored. */
const list = () =>
  z
    .string()
    .optional()
    .transform((raw) => (raw ?? '').split(',').map((item) => item.trim()).filter((item) => item !== ''));

/** AUTH_TOKENS: a list of `token` or `name:token`; the name is what the log records of a request. */
const authTokens = () =>
  list().transform((items, ctx) => {
    const parsed = parseAuthTokens(items);
    if (parsed.ok) return parsed.value;
    ctx.addIssue({ code: 'custom', message: `AUTH_TOKENS: ${parsed.error}` });
    return z.NEVER;
  });

/** TRUST_PROXY: off (the peer address is the client), a hop count, or a list of trusted proxy addresses and CIDRs. */
const trustProxy = () =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const parsed = parseTrustProxy(raw ?? '');
      if (parsed.ok) return parsed.value;
      ctx.addIssue({ code: 'custom', message: `TRUST_PROXY ${parsed.error} (got "${raw}")` });
      return z.NEVER;
    });

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Every setting comes from the environment; a bad value stops the server at start, naming the variable. */
const configSchema = z.object({
  HTTP_PORT: integer('HTTP_PORT', 0, 65535, 6790),
  HOST: text('0.0.0.0'),
  AUTH_TOKENS: authTokens(),
  METRICS_AUTH: flag('METRICS_AUTH'),
  CORS_ALLOW_ORIGIN: text('*'),
  RATE_LIMIT_WINDOW_MS: integer('RATE_LIMIT_WINDOW_MS', 1, 24 * 3600 * 1000, 60_000),
  RATE_LIMIT_MAX_REQUESTS: limit('RATE_LIMIT_MAX_REQUESTS', 1),
  RATE_LIMIT_CLEANUP_MS: integer('RATE_LIMIT_CLEANUP_MS', 100, 24 * 3600 * 1000, 60_000),
  // Who may tell us the client's address (X-Forwarded-For): nobody by default, so the limiter key cannot be spoofed.
  TRUST_PROXY: trustProxy(),
  DATA_DIR: text('./data'),
  LOG_LEVEL: text('info').pipe(z.enum(LOG_LEVELS, { error: `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}` })),
  LOCK_TTL_MS: integer('LOCK_TTL_MS', 1, 7 * 24 * 3600 * 1000, 30_000),
  WAL_FLUSH_MS: integer('WAL_FLUSH_MS', 1, 60_000, 10),
  WAL_SEGMENT_BYTES: integer('WAL_SEGMENT_BYTES', 64 * 1024, 2 ** 31 - 1, 64 * MiB),
  SNAPSHOT_INTERVAL_MS: integer('SNAPSHOT_INTERVAL_MS', 100, 7 * 24 * 3600 * 1000, 60_000),
  SNAPSHOT_KEEP: integer('SNAPSHOT_KEEP', 1, 1000, 3),
  // Also snapshot after this many log entries: a point-in-time read replays at most about this many (docs/design.md).
  SNAPSHOT_EVERY_ENTRIES: integer('SNAPSHOT_EVERY_ENTRIES', 1, 1_000_000_000, 100_000),
  COMPLETED_RETENTION_MS: integer('COMPLETED_RETENTION_MS', 0, 10 * 365 * DAY, DAY),
  COMPLETED_MAX: integer('COMPLETED_MAX', 0, 100_000_000, 100_000),
  DLQ_RETENTION_MS: integer('DLQ_RETENTION_MS', 0, 10 * 365 * DAY, 7 * DAY),
  DLQ_MAX: integer('DLQ_MAX', 0, 100_000_000, 100_000),
  LOG_RETENTION_MS: integer('LOG_RETENTION_MS', 0, 100 * 365 * DAY, 7 * DAY),
  SHUTDOWN_TIMEOUT_MS: integer('SHUTDOWN_TIMEOUT_MS', 100, 3_600_000, 30_000),
  // Room for a 10 MiB `data` plus the other fields and JSON overhead.
  MAX_BODY_BYTES: integer('MAX_BODY_BYTES', 1024, 1024 * MiB, 11 * MiB),
  // Bytes an SSE stream or WebSocket may have waiting for a slow client before it is cut (it reconnects and replays).
  STREAM_BUFFER_BYTES: integer('STREAM_BUFFER_BYTES', 1024, 1024 * MiB, MiB),
  // Nesting depth of a request body or WebSocket command, checked before parsing (deep JSON breaks recursive code later).
  MAX_JSON_DEPTH: integer('MAX_JSON_DEPTH', 1, 10_000, 64),
  // Commands of one WebSocket not answered yet (parked long-polls included); beyond, a command is refused, not queued.
  WS_MAX_INFLIGHT: integer('WS_MAX_INFLIGHT', 1, 1_000_000, 1024),
  // Long-polling pulls parked on one queue; beyond, a pull is refused with 503.
  MAX_WAITERS_PER_QUEUE: integer('MAX_WAITERS_PER_QUEUE', 1, 10_000_000, 10_000),
  // Event-stream replays (`?from=`, Last-Event-ID) reading the log at once; later ones wait their turn.
  MAX_REPLAYS: integer('MAX_REPLAYS', 1, 10_000, 4),
  // A connection that has not sent a byte for this long is closed (node times headers only from the first byte).
  SILENT_CONNECTION_TIMEOUT_MS: integer('SILENT_CONNECTION_TIMEOUT_MS', 100, 3_600_000, 30_000),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const parsed = configSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const messages = parsed.error.issues.map((issue) =>
    issue.message.includes(String(issue.path[0])) ? issue.message : `${String(issue.path[0])}: ${issue.message}`,
  );
  throw new ConfigError(`Invalid configuration: ${messages.join('; ')}`);
}

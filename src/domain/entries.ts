import type { Job, JobState } from './job.ts';

/** Why the server decided an entry on its own (no request asked for it). */
export type ServerReason = 'lease expired' | 'timeout' | 'ttl' | 'delay due' | 'repeat' | 'retention' | 'connection closed';

/**
 * Who caused an entry, as stored in it. Short keys: an actor is in every
 * entry of the log. A request: `t` the name of its token (never the secret;
 * null without AUTH_TOKENS), `a` the client address, `r` the request id.
 * The server's own decision: `s` the reason. Render it with `actorOf`
 * (src/domain/actor.ts).
 */
export type Actor = RequestActor | ServerActor;
export interface RequestActor {
  t: string | null;
  a: string;
  r: string;
}
export interface ServerActor {
  s: ServerReason;
}

/**
 * What every entry carries besides its facts. `by` is set by whoever runs the
 * decision (the ledger stamps the requester on entries a rule left unstamped;
 * rules stamp the server's own decisions); null in entries written before
 * actors were recorded (payload version 1).
 */
interface Attribution {
  by?: Actor | null;
  /** Payload version, set by the codec: absent = 1 (no actor), 2 = with `by`. */
  v?: number;
}

/**
 * Log entries are facts, not requests: each records what was decided, with
 * every value replay needs (ids, tokens, deadlines, retry times), so applying
 * them never consults a clock or decides again. Every entry names its job and
 * queue so the event stream can be rebuilt from the log alone.
 */
interface EntryBase extends Attribution {
  /** When the decision was made (ms since epoch). */
  at: number;
  queue: string;
  jobId: string;
}

export interface PushEntry extends EntryBase {
  type: 'push';
  job: Job;
}

/** A push that matched an existing job by jobId or uniqueKey: nothing created. */
export interface DuplicateEntry extends EntryBase {
  type: 'duplicate';
}

export interface PullEntry extends EntryBase {
  type: 'pull';
  token: string;
  leaseUntil: number;
  /** The pull took the queue's last ready job. */
  drained: boolean;
}

export interface AckEntry extends EntryBase {
  type: 'ack';
  result: unknown;
  /** removeOnComplete: the job leaves the state (its history stays in the log). */
  remove: boolean;
}

export type FailCause = 'error' | 'stalled' | 'timeout' | 'ttl' | 'dependency';

export interface FailEntry extends EntryBase {
  type: 'fail';
  cause: FailCause;
  error: string;
  /** The job's attempt count after this failure. */
  attempts: number;
  /** Retry due time chosen by the decision; null = terminal (DLQ or removal). */
  retryAt: number | null;
  prev: JobState;
  /** Terminal failure with removeOnFail. */
  remove: boolean;
}

export interface CancelEntry extends EntryBase {
  type: 'cancel';
  prev: JobState;
}

/** A delayed job came due and is ready. */
export interface PromoteEntry extends EntryBase {
  type: 'promote';
}

/** A worker reported progress; the lease is renewed to `leaseUntil`. */
export interface ProgressEntry extends EntryBase {
  type: 'progress';
  progress: number;
  message: string | null;
  leaseUntil: number;
}

/**
 * The connection that owned a lease closed (WebSocket ownership): the job
 * goes back to `waiting` at once, keeping its attempts and its place in line.
 */
export interface ReleaseEntry extends EntryBase {
  type: 'release';
  /** The lease given up, for the audit trail. */
  token: string;
}

/** Every dependency of a job waiting in `waiting-children` completed. */
export interface ResolveEntry extends EntryBase {
  type: 'resolve';
}

/**
 * Retention: jobs long finished leave the in-memory state (their history
 * stays in the log). Many per entry, so keeping memory bounded costs little log.
 */
export interface EvictEntry extends Attribution {
  type: 'evict';
  at: number;
  jobIds: string[];
}

export type Entry =
  | EvictEntry
  | PushEntry
  | DuplicateEntry
  | PullEntry
  | AckEntry
  | FailEntry
  | CancelEntry
  | PromoteEntry
  | ResolveEntry
  | ProgressEntry
  | ReleaseEntry;
export type EntryType = Entry['type'];

/** The jobs an entry is about: one, or the many an eviction names. */
export function jobIdsOf(entry: Entry): readonly string[] {
  return entry.type === 'evict' ? entry.jobIds : [entry.jobId];
}

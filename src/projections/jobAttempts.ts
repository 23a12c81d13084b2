/**
 * A job's attempts, derived from its history (its log entries, oldest
 * first): each pull starts one; the ack, fail, release or cancel that
 * follows ends it. Pure: the same entries always give the same attempts.
 */
import type { FailEntry, PullEntry } from '../domain/entries.ts';
import type { LoggedEntry } from './JobHistory.ts';

export type AttemptOutcome = 'active' | 'completed' | 'failed' | 'stalled' | 'timeout' | 'released' | 'cancelled';

export interface Attempt {
  /** 1 for the first pull of a job; a job pushed again under the same id counts from 1 again. */
  number: number;
  /** Position of the push that created the job this attempt ran (null: retention deleted it). */
  pushPosition: number | null;
  /** The pull entry that started the attempt (its actor is who pulled). */
  pull: LoggedEntry & { entry: PullEntry };
  startedAt: number;
  /** The lease's last deadline: the pull's, or a later one granted by progress. */
  leaseUntil: number;
  endedAt: number | null;
  endPosition: number | null;
  outcome: AttemptOutcome;
  /** The failure's error, for `failed`, `stalled` and `timeout`. */
  error: string | null;
  /** Its lease overlapped another attempt's: two workers may have run the job at once. */
  overlapped: boolean;
}

export function attemptsOf(history: readonly LoggedEntry[]): Attempt[] {
  const attempts: Attempt[] = [];
  let open: Attempt | undefined;
  let pushPosition: number | null = null;
  let number = 0;
  const end = (logged: LoggedEntry, outcome: AttemptOutcome, error: string | null = null) => {
    if (!open) return;
    open.endedAt = logged.entry.at;
    open.endPosition = logged.position;
    open.outcome = outcome;
    open.error = error;
    open = undefined;
  };
  for (const logged of history) {
    const { entry } = logged;
    switch (entry.type) {
      case 'push':
        pushPosition = logged.position;
        number = 0;
        open = undefined;
        break;
      case 'pull':
        open = {
          number: ++number,
          pushPosition,
          pull: logged as LoggedEntry & { entry: PullEntry },
          startedAt: entry.at,
          leaseUntil: entry.leaseUntil,
          endedAt: null,
          endPosition: null,
          outcome: 'active',
          error: null,
          overlapped: false,
        };
        attempts.push(open);
        break;
      case 'progress':
        if (open) open.leaseUntil = entry.leaseUntil;
        break;
      case 'ack':
        end(logged, 'completed');
        break;
      case 'fail':
        end(logged, failOutcome(entry), entry.error);
        break;
      case 'release':
        end(logged, 'released');
        break;
      case 'cancel':
        end(logged, 'cancelled');
        break;
      default:
        break;
    }
  }
  markOverlaps(attempts);
  return attempts;
}

function failOutcome(entry: FailEntry): AttemptOutcome {
  if (entry.cause === 'stalled') return 'stalled';
  if (entry.cause === 'timeout') return 'timeout';
  return 'failed';
}

/**
 * When a lease ended as far as its worker knows: when the worker itself gave
 * it back (ack, fail, connection closed), else at its deadline, since nobody
 * told the worker to stop (stalled, timeout, cancelled, still active).
 */
function leaseEnd(attempt: Attempt): number {
  const byWorker = attempt.outcome === 'completed' || attempt.outcome === 'failed' || attempt.outcome === 'released';
  return byWorker && attempt.endedAt !== null ? attempt.endedAt : attempt.leaseUntil;
}

/** Attempts are in start order: each is checked against the earlier ones whose lease is still running when it starts. */
function markOverlaps(attempts: Attempt[]): void {
  let running: Attempt[] = [];
  for (const attempt of attempts) {
    running = running.filter((earlier) => leaseEnd(earlier) > attempt.startedAt);
    for (const earlier of running) earlier.overlapped = true;
    if (running.length > 0) attempt.overlapped = true;
    running.push(attempt);
  }
}

import type { Entry } from '../domain/entries.ts';
import type { JobState } from '../domain/job.ts';
import { retryState } from '../domain/stateStep.ts';

/** The contract's event object, as SSE and WebSocket clients receive it. */
export type JobEvent = {
  queue: string;
  jobId: string;
  timestamp: number;
} & (
  | { eventType: 'pushed'; data: unknown }
  | { eventType: 'pulled' | 'completed' | 'stalled' | 'duplicated' | 'waiting-children' | 'drained' }
  | { eventType: 'failed'; error: string }
  | { eventType: 'progress'; progress: number }
  | { eventType: 'removed' | 'retried'; prev: JobState }
  | { eventType: 'delayed'; delay: number }
);

/**
 * The events an entry stands for. A pure function of the entry, so the same
 * stream comes out live and when replayed from any log position.
 */
export function eventsOf(entry: Entry): JobEvent[] {
  // Retention is bookkeeping of memory, not something that happened to a job.
  if (entry.type === 'evict') return [];
  const base = { queue: entry.queue, jobId: entry.jobId, timestamp: entry.at };
  switch (entry.type) {
    case 'push': {
      const events: JobEvent[] = [{ eventType: 'pushed', ...base, data: entry.job.data }];
      if (entry.job.state === 'delayed') events.push({ eventType: 'delayed', ...base, delay: entry.job.runAt - entry.at });
      if (entry.job.state === 'waiting-children') events.push({ eventType: 'waiting-children', ...base });
      return events;
    }
    case 'duplicate':
      return [{ eventType: 'duplicated', ...base }];
    case 'pull':
      return entry.drained ? [{ eventType: 'pulled', ...base }, { eventType: 'drained', ...base }] : [{ eventType: 'pulled', ...base }];
    case 'ack':
      return [{ eventType: 'completed', ...base }];
    case 'fail': {
      const events: JobEvent[] = [];
      if (entry.cause === 'stalled') events.push({ eventType: 'stalled', ...base });
      events.push({ eventType: 'failed', ...base, error: entry.error });
      if (entry.retryAt !== null) {
        events.push({ eventType: 'retried', ...base, prev: entry.prev });
        if (retryState(entry.retryAt, entry.at) === 'delayed') events.push({ eventType: 'delayed', ...base, delay: entry.retryAt - entry.at });
      }
      return events;
    }
    case 'cancel':
      return [{ eventType: 'removed', ...base, prev: entry.prev }];
    case 'progress':
      return [{ eventType: 'progress', ...base, progress: entry.progress }];
    case 'release':
      // Back to waiting without a failure: the retry of an attempt that never ended.
      return [{ eventType: 'retried', ...base, prev: 'active' }];
    case 'promote':
    case 'resolve':
      return [];
  }
}

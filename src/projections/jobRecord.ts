import type { Backoff, Job, JobState, RepeatSpec } from '../domain/job.ts';
import type { StoredJob } from './StoredJob.ts';

/**
 * A job as a snapshot stores it: its fields as a JSON array in a fixed
 * order. Without the keys a record is about half the size, which halves what
 * a restart parses and checksums. Appending a field is compatible (older
 * records read it as undefined → null); reordering is not.
 */
export type JobValues = unknown[];

/** A pushed job has no push position yet: `seq` is set once its entry has one. */
export function jobValues(job: Job & { seq?: number; endedAt?: number | null }): JobValues {
  return [
    job.id,
    job.queue,
    job.data,
    job.priority,
    job.createdAt,
    job.runAt,
    job.startedAt,
    job.completedAt,
    job.attempts,
    job.maxAttempts,
    job.backoff,
    job.progress,
    job.progressMessage,
    job.state,
    job.result,
    job.error,
    job.tags,
    job.lifo,
    job.removeOnComplete,
    job.removeOnFail,
    job.groupId,
    job.uniqueKey,
    job.dependsOn,
    job.ttl,
    job.timeout,
    job.repeat,
    job.occurrence,
    job.scheduledAt,
    job.durable,
    job.token,
    job.leaseUntil,
    job.seq,
    job.endedAt ?? null,
  ];
}

const NONE: string[] = [];

/** Parsed JSON makes a new string per job for its state; these literals are shared. */
const STATES: Record<string, JobState> = {
  waiting: 'waiting',
  delayed: 'delayed',
  active: 'active',
  completed: 'completed',
  failed: 'failed',
  'waiting-children': 'waiting-children',
};

/**
 * Builds the projection's job from its values. Every job, pushed or restored,
 * is made by this one literal, so all share one hidden class: V8 keeps them
 * compact and property access monomorphic. Empty lists share one array.
 */
export function storedJob(v: JobValues): StoredJob {
  const tags = v[16] as string[];
  const dependsOn = v[22] as string[];
  return {
    id: v[0] as string,
    queue: v[1] as string,
    data: v[2],
    priority: v[3] as number,
    createdAt: v[4] as number,
    runAt: v[5] as number,
    startedAt: (v[6] ?? null) as number | null,
    completedAt: (v[7] ?? null) as number | null,
    attempts: v[8] as number,
    maxAttempts: v[9] as number,
    backoff: v[10] as Backoff,
    progress: v[11] as number,
    progressMessage: (v[12] ?? null) as string | null,
    state: STATES[v[13] as string] ?? (v[13] as JobState),
    result: v[14] ?? null,
    error: (v[15] ?? null) as string | null,
    tags: tags.length === 0 ? NONE : tags,
    lifo: v[17] as boolean,
    removeOnComplete: v[18] as boolean,
    removeOnFail: v[19] as boolean,
    groupId: (v[20] ?? null) as string | null,
    uniqueKey: (v[21] ?? null) as string | null,
    dependsOn: dependsOn.length === 0 ? NONE : dependsOn,
    ttl: (v[23] ?? null) as number | null,
    timeout: (v[24] ?? null) as number | null,
    repeat: (v[25] ?? null) as RepeatSpec | null,
    occurrence: (v[26] ?? 1) as number,
    scheduledAt: (v[27] ?? v[5]) as number,
    durable: (v[28] ?? false) as boolean,
    token: (v[29] ?? null) as string | null,
    leaseUntil: (v[30] ?? null) as number | null,
    seq: v[31] as number,
    endedAt: (v[32] ?? null) as number | null,
    heapIndex: -1,
    ttlIndex: -1,
    snapshotEpoch: 0,
    changedAt: 0,
  };
}

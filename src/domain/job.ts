/** The job model shared by every layer. A job's whole life is a sequence of log entries; this is its current fold. */
export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed' | 'waiting-children';

export type Backoff = number | { type: 'fixed' | 'exponential'; delay: number; jitter?: number };

export interface RepeatSpec {
  every: number;
  limit: number | null;
}

export interface Job {
  id: string;
  queue: string;
  data: unknown;
  priority: number;
  createdAt: number;
  /** When the job is (or was) due to run: createdAt + delay, or the retry time. */
  runAt: number;
  startedAt: number | null;
  completedAt: number | null;
  /** Attempts that ended without success. */
  attempts: number;
  maxAttempts: number;
  backoff: Backoff;
  progress: number;
  progressMessage: string | null;
  state: JobState;
  result: unknown;
  error: string | null;
  tags: string[];
  lifo: boolean;
  removeOnComplete: boolean;
  removeOnFail: boolean;
  groupId: string | null;
  uniqueKey: string | null;
  dependsOn: string[];
  ttl: number | null;
  timeout: number | null;
  repeat: RepeatSpec | null;
  /** 1 for the first occurrence of a repeat chain, counting up. */
  occurrence: number;
  /** When this occurrence was first due (retries move runAt, not this): the anchor of the repeat slots. */
  scheduledAt: number;
  durable: boolean;
  /** Lease of the current attempt while active. */
  token: string | null;
  leaseUntil: number | null;
}

/** States a job can still leave on its own: it holds its uniqueKey in these. */
export function isLive(state: JobState): boolean {
  return state !== 'completed' && state !== 'failed';
}

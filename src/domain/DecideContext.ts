/**
 * Everything a decision may need from the outside world, passed in so the
 * rules stay pure: the clock, fresh ids, randomness (backoff jitter) and
 * server settings.
 */
export interface DecideContext {
  now: number;
  newId(): string;
  random(): number;
  lockTtlMs: number;
  retention: RetentionPolicy;
}

/** How long, and how many, finished jobs stay in memory: completed ones, and failed ones (the DLQ). */
export interface RetentionPolicy {
  completedMs: number;
  completedMax: number;
  failedMs: number;
  failedMax: number;
}

import type { DecideContext, RetentionPolicy } from '../domain/DecideContext.ts';
import { uuidv7 } from './uuidv7.ts';

/** The outside world a decision sees: read the clock once per command. */
export function commandContext(lockTtlMs: number, retention: RetentionPolicy = KEEP_ALL): () => DecideContext {
  return () => {
    const now = Date.now();
    return { now, newId: () => uuidv7(now), random: Math.random, lockTtlMs, retention };
  };
}

/** No retention: finished jobs stay in memory. */
export const KEEP_ALL: RetentionPolicy = {
  completedMs: Infinity,
  completedMax: Infinity,
  failedMs: Infinity,
  failedMax: Infinity,
};

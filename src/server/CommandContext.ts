import type { DecideContext } from '../domain/DecideContext.ts';
import { uuidv7 } from './uuidv7.ts';

/** The outside world a decision sees: read the clock once per command. */
export function commandContext(lockTtlMs: number): () => DecideContext {
  return () => {
    const now = Date.now();
    return { now, newId: () => uuidv7(now), random: Math.random, lockTtlMs };
  };
}

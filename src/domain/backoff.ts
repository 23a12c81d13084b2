import type { Backoff } from './job.ts';

const MAX_BACKOFF_MS = 60 * 60 * 1000;

/**
 * Wait before the retry that follows the `attempt`-th failure (1-based).
 * A bare number means exponential, as the contract says. Jitter shortens the
 * wait by up to that fraction, so the cap is never exceeded.
 */
export function retryDelay(backoff: Backoff, attempt: number, random: () => number): number {
  const { type, delay, jitter } = typeof backoff === 'number' ? { type: 'exponential', delay: backoff, jitter: 0 } : backoff;
  const base = type === 'fixed' ? delay : Math.min(delay * 2 ** (attempt - 1), MAX_BACKOFF_MS);
  return jitter ? Math.round(base * (1 - jitter * random())) : base;
}

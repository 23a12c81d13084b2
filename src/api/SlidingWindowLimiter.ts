/**
 * Requests per client over a sliding window, estimated from two fixed
 * windows: the current count plus the previous window's count weighted by
 * how much of it still overlaps the sliding window. Two numbers per client,
 * whatever the limit, and idle clients are swept so memory stays bounded
 * however many addresses come and go.
 */
interface ClientWindow {
  start: number;
  current: number;
  previous: number;
}

export class SlidingWindowLimiter {
  private readonly clients = new Map<string, ClientWindow>();

  constructor(
    private readonly windowMs: number,
    private readonly maxRequests: number,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /** Counts a request from `client` at `now`; false when it is over the limit (and is not counted). */
  allow(client: string, now: number): boolean {
    let window = this.clients.get(client);
    if (!window) this.clients.set(client, (window = { start: now, current: 0, previous: 0 }));
    const elapsed = now - window.start;
    if (elapsed >= 2 * this.windowMs) {
      window.start = now;
      window.previous = 0;
      window.current = 0;
    } else if (elapsed >= this.windowMs) {
      window.start += this.windowMs;
      window.previous = window.current;
      window.current = 0;
    }
    const overlap = 1 - (now - window.start) / this.windowMs;
    if (window.previous * overlap + window.current >= this.maxRequests) return false;
    window.current++;
    return true;
  }

  /** Forgets clients with no request in the last two windows. */
  sweep(now: number): void {
    for (const [client, window] of this.clients) if (now - window.start >= 2 * this.windowMs) this.clients.delete(client);
  }
}

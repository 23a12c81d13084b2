import type { Response } from 'express';
import type { FeedEvent, FeedSink } from '../../projections/EventFeed.ts';
import { eventFrame } from './sseFrames.ts';

/** Below this many unsent bytes a replay goes on writing; above it, it waits for 'drain'. */
const REPLAY_HIGH_WATER = 64 * 1024;
/** A cut stream still flushing to a client that reads nothing is destroyed after this long. */
const CUT_GRACE_MS = 5000;

/**
 * One client's event stream. Frames are written with one `write` per
 * delivery (the concatenation of cached frames), which is what better-sse's
 * `batch` does for a buffer. better-sse has no back-pressure of its own: a
 * client that lets more than `maxBuffered` bytes pile up is cut off and, like
 * any EventSource, reconnects with its last id and replays what it missed.
 */
export class SseStream implements FeedSink {
  private ended = false;

  constructor(
    private readonly res: Response,
    private readonly maxBuffered: number,
    private readonly onCut: (reason: string) => void,
  ) {
    res.once('close', () => {
      this.ended = true;
    });
  }

  get open(): boolean {
    return !this.ended;
  }

  deliver(events: readonly FeedEvent[], catchingUp: boolean): void {
    if (this.ended) return;
    let text = '';
    for (const event of events) text += eventFrame(event);
    this.res.write(text);
    // A replay waits for the client between chunks instead; live events cannot wait.
    if (!catchingUp && this.res.writableLength > this.maxBuffered) {
      this.cut(`more than ${this.maxBuffered} bytes waiting for a slow client`);
    }
  }

  whenWritable(): Promise<void> {
    if (this.ended || this.res.writableLength <= REPLAY_HIGH_WATER) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  fail(reason: string): void {
    this.cut(reason);
  }

  /** Ends the stream (shutdown, or a client too slow): what was written still reaches a client that reads. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.res.end();
  }

  private cut(reason: string): void {
    if (this.ended) return;
    this.onCut(reason);
    this.end();
    // Only a response still stuck in its buffers: a finished one's socket may already serve the next request.
    setTimeout(() => {
      if (!this.res.writableFinished) this.res.destroy();
    }, CUT_GRACE_MS).unref();
  }
}

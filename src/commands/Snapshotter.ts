import type { Logger } from 'pino';
import type { Log } from '../log/Log.ts';
import type { QueueProjection } from '../projections/QueueProjection.ts';
import type { SnapshotStore } from '../projections/SnapshotStore.ts';
import type { Ledger } from './Ledger.ts';

/**
 * Writes the projection to the snapshot store now and then, so a restart
 * replays only the log after the newest snapshot. A snapshot is committed
 * only once the log is durable up to its position: it never gets ahead of
 * what a crash would leave on disk.
 */
export class Snapshotter {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private lastPosition: number;
  /** A snapshot still being written past this time (ms since epoch) is abandoned. */
  private deadline = Infinity;

  constructor(
    private readonly ledger: Ledger,
    private readonly store: SnapshotStore,
    private readonly log: Log,
    private readonly options: {
      intervalMs: number;
      /** A snapshot also starts once the state is this many entries past the last one (Infinity: by time only). */
      everyEntries?: number;
      keep: number;
      logRetentionMs: number;
      logger: Logger;
    },
    startPosition: number,
  ) {
    this.lastPosition = startPosition;
  }

  start(): void {
    this.timer = setInterval(() => void this.take(), this.options.intervalMs);
    this.timer.unref();
    // By volume too: a point-in-time read replays from the nearest snapshot, so none is ever far (docs/design.md).
    const every = this.options.everyEntries ?? Infinity;
    if (every !== Infinity) {
      this.ledger.afterChange(() => {
        if (this.timer !== null && this.running === null && this.ledger.state.position - this.lastPosition >= every) void this.take();
      });
    }
  }

  /**
   * Takes a snapshot if the state moved since the last one; waits for one
   * already running.
   */
  take(): Promise<void> {
    this.running ??= this.write(this.ledger.state).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /**
   * Stops the timer; from now on a snapshot still being written at `deadline`
   * is abandoned (never committed), so shutdown stays within its time.
   */
  stop(deadline = Infinity): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.deadline = deadline;
    return this.running ?? Promise.resolve();
  }

  private async write(state: QueueProjection): Promise<void> {
    if (state.position <= this.lastPosition) return;
    const started = performance.now();
    const { header, records, close } = state.snapshot();
    const jobs = state.jobCount;
    try {
      await this.ledger.durable(header.position);
      const info = await this.store.write(header.position, Date.now(), header, this.untilDeadline(records));
      this.lastPosition = header.position;
      // Logged before retention acts on it, so the log reads in the order things happened.
      this.options.logger.info(
        { position: info.position, jobs, records: info.records, bytes: info.bytes, ms: Math.round(performance.now() - started) },
        'snapshot written',
      );
      await this.store.prune(this.options.keep);
      await this.trimLog();
    } catch (err) {
      this.options.logger.error({ err }, 'snapshot not written; the log still holds everything');
    } finally {
      // Ends the copy-on-write window even when the write stopped half way.
      close();
    }
  }

  private *untilDeadline<T>(records: Iterable<T>): Generator<T> {
    let count = 0;
    for (const record of records) {
      if (++count % 1000 === 0 && Date.now() > this.deadline) throw new Error('snapshot abandoned: shutdown deadline reached');
      yield record;
    }
  }

  /**
   * Log retention: a segment goes once it is older than the retention age and
   * every record in it is covered by the oldest snapshot kept, so every kept
   * snapshot can still replay forward.
   */
  private async trimLog(): Promise<void> {
    const kept = await this.store.list();
    const oldest = kept[kept.length - 1];
    if (!oldest) return;
    const deleted = await this.log.trimBefore(oldest.position + 1, {
      writtenBefore: Date.now() - this.options.logRetentionMs,
    });
    if (deleted > 0) this.options.logger.info({ deleted, firstPosition: this.log.firstPosition }, 'log segments past retention deleted');
  }
}


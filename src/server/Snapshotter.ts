import type { Logger } from 'pino';
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

  constructor(
    private readonly ledger: Ledger,
    private readonly store: SnapshotStore,
    private readonly options: { intervalMs: number; keep: number; logger: Logger },
    startPosition: number,
  ) {
    this.lastPosition = startPosition;
  }

  start(): void {
    this.timer = setInterval(() => void this.take(), this.options.intervalMs);
    this.timer.unref();
  }

  /** Takes a snapshot if the state moved since the last one; waits for one already running. */
  take(): Promise<void> {
    this.running ??= this.write(this.ledger.state).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Stops the timer and lets a running snapshot finish. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  private async write(state: QueueProjection): Promise<void> {
    if (state.position <= this.lastPosition) return;
    const started = performance.now();
    const { header, records, close } = state.snapshot();
    try {
      await this.ledger.durable(header.position);
      const info = await this.store.write(header.position, Date.now(), header, records);
      this.lastPosition = header.position;
      await this.store.prune(this.options.keep);
      this.options.logger.info(
        { position: info.position, jobs: info.records, bytes: info.bytes, ms: Math.round(performance.now() - started) },
        'snapshot written',
      );
    } catch (err) {
      this.options.logger.error({ err }, 'snapshot failed; the log still holds everything');
    } finally {
      // Ends the copy-on-write window even when the write stopped half way.
      close();
    }
  }
}

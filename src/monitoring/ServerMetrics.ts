import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { JobState } from '../domain/job.ts';
import type { QueueProjection } from '../projections/QueueProjection.ts';
import type { ThroughputStats } from '../projections/ThroughputStats.ts';

/** Latency buckets in ms, from 0.1 ms (a non-durable push applied in memory) to 5 s. */
export const LATENCY_BUCKETS_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

/** The commands whose latency is measured. */
export type TimedCommand = 'push' | 'pull' | 'ack';

export type LatencyHistograms = Record<TimedCommand, Histogram>;

export interface ServerMetricsOptions {
  /** Also export prom-client's process metrics (CPU, memory, event-loop lag, GC). */
  processMetrics: boolean;
  /** Event-stream replays reading the log now, and waiting for a turn (MAX_REPLAYS). */
  replays?: () => { active: number; queued: number };
}

/**
 * The Prometheus view of one server: its own registry (never the global one,
 * so two servers in one process do not share series). Totals and per-queue
 * gauges are read at scrape time from the same sources as `/metrics` and
 * `/stats`, so the JSON and the text format always agree; only the latency
 * histograms hold data of their own.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly latency: LatencyHistograms;

  constructor(state: QueueProjection, stats: ThroughputStats, options: ServerMetricsOptions) {
    const registers = [this.registry];
    const total = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    total('bunqueue_jobs_pushed_total', 'Total jobs pushed', () => stats.totalPushed);
    total('bunqueue_jobs_pulled_total', 'Total jobs pulled', () => stats.totalPulled);
    total('bunqueue_jobs_completed_total', 'Total jobs completed', () => stats.totalCompleted);
    total('bunqueue_jobs_failed_total', 'Total jobs failed (terminal: dead-lettered or removed on fail)', () => stats.totalFailed);

    const perQueue = (name: string, help: string, jobState: JobState) =>
      new Gauge({
        name,
        help,
        labelNames: ['queue'] as const,
        registers,
        collect() {
          // Queues come and go between scrapes: start from nothing each time.
          this.reset();
          for (const queue of state.queueNames()) this.set({ queue }, state.countsOf(queue)[jobState]);
        },
      });
    perQueue('bunqueue_queue_jobs_waiting', 'Jobs waiting (ready to pull) per queue', 'waiting');
    perQueue('bunqueue_queue_jobs_active', 'Jobs being processed per queue', 'active');
    perQueue('bunqueue_queue_jobs_delayed', 'Jobs delayed (not due yet, or waiting out a retry backoff) per queue', 'delayed');
    perQueue('bunqueue_queue_jobs_dlq', 'Jobs in the dead-letter queue per queue', 'failed');
    perQueue('bunqueue_queue_jobs_waiting_children', 'Jobs waiting for their dependencies per queue', 'waiting-children');

    const histogram = (command: TimedCommand) =>
      new Histogram({
        name: `bunqueue_${command}_duration_ms`,
        help: `${command[0].toUpperCase()}${command.slice(1)} operation latency in ms`,
        buckets: LATENCY_BUCKETS_MS,
        registers,
      });
    this.latency = { push: histogram('push'), pull: histogram('pull'), ack: histogram('ack') };

    const { replays } = options;
    if (replays) {
      const gauge = (name: string, help: string, read: () => number) =>
        new Gauge({
          name,
          help,
          registers,
          collect() {
            this.set(read());
          },
        });
      gauge('bunqueue_stream_replays_active', 'Event-stream replays reading the log now (at most MAX_REPLAYS)', () => replays().active);
      gauge('bunqueue_stream_replays_queued', 'Event-stream replays waiting for a turn', () => replays().queued);
    }

    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text exposition (format 0.0.4). */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }
}

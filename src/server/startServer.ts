import { rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { createApp } from '../api/createApp.ts';
import { historyRoutes } from '../api/historyRoutes.ts';
import { createRealtime } from '../api/realtime.ts';
import { rateLimit } from '../api/rateLimit.ts';
import { TokenSet } from '../api/TokenSet.ts';
import { durableMkdir } from '../log/durableMkdir.ts';
import { SegmentedLog } from '../log/SegmentedLog.ts';
import { ServerMetrics } from '../monitoring/ServerMetrics.ts';
import { EventBus } from '../projections/EventBus.ts';
import { JobHistory } from '../projections/JobHistory.ts';
import { JobIndex } from '../projections/JobIndex.ts';
import { TimeIndexFiles } from '../projections/TimeIndexFiles.ts';
import { JobIndexer } from '../projections/JobIndexer.ts';
import { type ProjectionHeader, QueueProjection } from '../projections/QueueProjection.ts';
import { SnapshotDamagedError } from '../projections/SnapshotDamagedError.ts';
import { PointInTime } from '../projections/PointInTime.ts';
import { SnapshotStore } from '../projections/SnapshotStore.ts';
import { ThroughputStats } from '../projections/ThroughputStats.ts';
import { commandContext } from '../commands/CommandContext.ts';
import type { Config } from './config.ts';
import { ConnectionCounter } from './ConnectionCounter.ts';
import { DataDirLock } from './DataDirLock.ts';
import { createHttpServer } from './httpServer.ts';
import { Ledger } from '../commands/Ledger.ts';
import { PullWaiters } from '../commands/PullWaiters.ts';
import { Scheduler } from '../commands/Scheduler.ts';
import { Snapshotter } from '../commands/Snapshotter.ts';

export interface RunningServer {
  port: number;
  ledger: Ledger;
  /** Stops accepting, answers what is in flight, flushes and fsyncs the log, snapshots if time allows (deadline in ms since epoch). */
  close(deadline?: number): Promise<void>;
}

/**
 * The composition root: lock the data directory, open the log, rebuild the
 * state, start the scheduler, listen.
 *
 * `onFatal` is called when the log failed for good (a write or fsync error
 * other than a full disk): changes are refused from then on and the process
 * should stop and recover from disk. A full disk only stalls the log: changes
 * are refused with 503 and /ready fails until a retried write succeeds.
 */
export async function startServer(config: Config, logger: Logger, onFatal: (err: Error) => void): Promise<RunningServer> {
  const started = performance.now();
  // A kernel lock, taken before anything in the directory is opened for writing.
  const lock = await DataDirLock.acquire(config.DATA_DIR);
  const log = await SegmentedLog.open({
    dir: join(config.DATA_DIR, 'wal'),
    segmentBytes: config.WAL_SEGMENT_BYTES,
    flushIntervalMs: config.WAL_FLUSH_MS,
    onWarning: (message) => logger.warn(message),
    onFailure: onFatal,
    onStall: (err) => logger.error({ err }, 'disk full: the write-ahead log is stalled; changes are refused (503) and the write is retried until space is freed'),
    onResume: () => logger.warn('disk space is back: the write-ahead log resumed'),
  });
  // LevelDB creates its directory without fsyncing the parent.
  await durableMkdir(join(config.DATA_DIR, 'snapshots'));
  const snapshots = await SnapshotStore.open(join(config.DATA_DIR, 'snapshots'), { onWarning: (message) => logger.warn(message) });
  // The job id index (history of any job without a log scan) lives beside the snapshots.
  const jobIndex = await openJobIndex(join(config.DATA_DIR, 'index'), logger);
  const indexer = new JobIndexer(jobIndex, log, { onError: (err) => logger.warn({ err }, 'job index: a batch failed; retrying') });
  await indexer.open();
  const { state, snapshot } = await restoreNewestSnapshot(snapshots, log);
  if (snapshot === null && log.firstPosition > 1) {
    throw new Error(
      `the log starts at position ${log.firstPosition} (older segments were removed by retention) and no valid snapshot covers it: ` +
        `restore the snapshots directory (${join(config.DATA_DIR, 'snapshots')}) from a backup`,
    );
  }
  // A subscriber that throws is dropped by the bus (its stream ends); the command that published goes on.
  const bus = new EventBus((err) => logger.error({ err }, 'an event subscriber failed and was dropped'));
  const ledger = new Ledger(log, state, bus);
  const replayed = await ledger.replay(state.position + 1);
  const stats = new ThroughputStats();
  ledger.onApplied((entry) => stats.record(entry));
  // Built from the log in the background; before any live entry, so that its read and the live notes meet.
  const timeIndexFiles = await TimeIndexFiles.open(join(config.DATA_DIR, 'timeindex'));
  const pointInTime = new PointInTime({ log, snapshots, timeIndexFiles, now: Date.now, warn: (message) => logger.warn(message) });
  ledger.onApplied((entry, position) => pointInTime.noteApplied(entry, position));
  logger.info(
    { snapshot, entries: replayed, jobs: state.jobCount, ms: Math.round(performance.now() - started) },
    'state recovered (newest valid snapshot + log after it)',
  );
  const snapshotter = new Snapshotter(
    ledger,
    snapshots,
    log,
    {
      intervalMs: config.SNAPSHOT_INTERVAL_MS,
      everyEntries: config.SNAPSHOT_EVERY_ENTRIES,
      keep: config.SNAPSHOT_KEEP,
      logRetentionMs: config.LOG_RETENTION_MS,
      logger,
    },
    // What the newest snapshot holds, not the replayed position: entries replayed at start are worth a snapshot too.
    snapshot ?? 0,
  );
  snapshotter.start();
  // Catches up from its marker in the background; history reads scan what it has not reached yet.
  const indexedAtStart = jobIndex.indexedThrough;
  void indexer.start().then(() => {
    const caughtUp = { from: indexedAtStart, indexedThrough: jobIndex.indexedThrough, lastPosition: log.lastPosition };
    logger.info({ ...caughtUp, ms: Math.round(performance.now() - started) }, 'job index caught up with the log');
  });

  const context = commandContext(config.LOCK_TTL_MS, {
    completedMs: config.COMPLETED_RETENTION_MS,
    completedMax: config.COMPLETED_MAX,
    failedMs: config.DLQ_RETENTION_MS,
    failedMax: config.DLQ_MAX,
  });
  const waiters = new PullWaiters(ledger, context, config.MAX_WAITERS_PER_QUEUE);
  const scheduler = new Scheduler(ledger, context, logger);
  scheduler.start();

  const tokens = new TokenSet(config.AUTH_TOKENS);
  const limiter = rateLimit({
    windowMs: config.RATE_LIMIT_WINDOW_MS,
    maxRequests: config.RATE_LIMIT_MAX_REQUESTS,
    cleanupMs: config.RATE_LIMIT_CLEANUP_MS,
    trustProxy: config.TRUST_PROXY,
  });
  const realtime = createRealtime({
    bus,
    log,
    ledger,
    waiters,
    context,
    tokens,
    limiter,
    trustProxy: config.TRUST_PROXY,
    logger,
    corsAllowOrigin: config.CORS_ALLOW_ORIGIN,
    maxBuffered: config.STREAM_BUFFER_BYTES,
    maxPayload: config.MAX_BODY_BYTES,
    maxJsonDepth: config.MAX_JSON_DEPTH,
    maxInflight: config.WS_MAX_INFLIGHT,
    maxReplays: config.MAX_REPLAYS,
  });
  const connections = new ConnectionCounter();
  // Set when shutdown begins: /ready answers 503 from then on.
  let draining = false;
  const app = createApp({
    ledger,
    waiters,
    context,
    trustProxy: config.TRUST_PROXY,
    logger,
    maxBodyBytes: config.MAX_BODY_BYTES,
    maxJsonDepth: config.MAX_JSON_DEPTH,
    corsAllowOrigin: config.CORS_ALLOW_ORIGIN,
    tokens,
    metricsNeedAuth: config.METRICS_AUTH,
    rateLimit: limiter.middleware,
    eventStreams: realtime.sseRoutes,
    timeTravel: { pointInTime, live: state },
    history: historyRoutes({ history: new JobHistory(jobIndex, log), durable: (position) => ledger.durable(position) }),
    monitoring: {
      stats,
      metrics: new ServerMetrics(state, stats, { processMetrics: true, replays: realtime.replays }),
      // Not ready while the log cannot take changes (disk full, or failed) so that traffic goes elsewhere.
      isReady: () => !draining && !log.stalled && log.failure === undefined,
      connections: () => ({ tcp: connections.open, ...realtime.counts() }),
    },
  });
  const server = createHttpServer(app, config.SILENT_CONNECTION_TIMEOUT_MS);
  realtime.attach(server);
  connections.watch(server);
  await listen(server, config.HTTP_PORT, config.HOST);
  const port = (server.address() as AddressInfo).port;
  // Recovery leaves a large heap of garbage behind: collect it once (with --expose-gc) rather than keep it resident.
  setImmediate(() => (globalThis as { gc?: () => void }).gc?.());

  let closing: Promise<void> | undefined;
  const close = (shutdownDeadline = Date.now() + config.SHUTDOWN_TIMEOUT_MS) =>
    (closing ??= (async () => {
      draining = true;
      scheduler.stop();
      limiter.stop();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      // Streams end and WebSocket-owned jobs go back to waiting while the log is still open.
      const realtimeClosed = realtime.close();
      waiters.releaseAll();
      // Keep-alive sockets become idle only after their last answer is sent: sweep until all are gone.
      const sweep = setInterval(() => server.closeIdleConnections(), 10);
      // Sockets a client opened but never used are not "idle" to node: cut whatever is left after a grace period.
      const cut = setTimeout(() => server.closeAllConnections(), 1000);
      server.closeIdleConnections();
      await stopped;
      await realtimeClosed;
      clearInterval(sweep);
      clearTimeout(cut);
      // The background writers stop first; neither throws (each logs its own failures).
      await snapshotter.stop(shutdownDeadline - 500);
      await indexer.stop();
      try {
        // The log is the truth and is flushed first; the final snapshot only speeds up the next start.
        await log.flush();
        await snapshotter.take();
        await log.close();
      } finally {
        // Even when the log failed or is stalled (the error is the caller's): never leave a store half-open.
        await snapshots.close();
        await jobIndex.close();
        await lock.release();
      }
    })());

  return { port, ledger, close };
}

/**
 * The job id index, or a new empty one when it cannot be opened (damaged):
 * it is derived from the log, so it is rebuilt rather than stop the server.
 */
async function openJobIndex(dir: string, logger: Logger): Promise<JobIndex> {
  await durableMkdir(dir);
  try {
    return await JobIndex.open(dir);
  } catch (err) {
    logger.warn({ err }, 'job index: cannot open it; rebuilding it from the log');
    await rm(dir, { recursive: true, force: true });
    await durableMkdir(dir);
    return JobIndex.open(dir);
  }
}

/** The state at the newest snapshot the log can continue from, or an empty one (full replay). */
async function restoreNewestSnapshot(store: SnapshotStore, log: SegmentedLog) {
  let state = new QueueProjection();
  const used = await store.loadNewestValid(async (header, records, info) => {
    const projectionHeader = header as ProjectionHeader;
    // A snapshot past the end of the log would contradict it; one before its start leaves a gap.
    if (info.position > log.lastPosition) {
      throw new SnapshotDamagedError(info.position, `it is ahead of the log, which ends at ${log.lastPosition}`);
    }
    if (info.position + 1 < log.firstPosition) {
      throw new SnapshotDamagedError(info.position, `the log after it was deleted (log starts at ${log.firstPosition})`);
    }
    try {
      state = await QueueProjection.restore(projectionHeader, records);
    } catch (err) {
      // A record that does not fold is damage too (its checksum is only checked at the end of the stream).
      if (err instanceof SnapshotDamagedError) throw err;
      throw new SnapshotDamagedError(info.position, `a record does not fit the state: ${(err as Error).message}`);
    }
  });
  // Snapshots newer than the one used were skipped as unusable: drop them so they stop counting among those kept.
  for (const info of await store.list()) if (info.position > (used?.position ?? 0)) await store.remove(info.position);
  return { state, snapshot: used?.position ?? null };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

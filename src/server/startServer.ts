import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { createApp } from '../api/createApp.ts';
import { SegmentedLog } from '../log/SegmentedLog.ts';
import { EventBus } from '../projections/EventBus.ts';
import { QueueProjection } from '../projections/QueueProjection.ts';
import { commandContext } from './CommandContext.ts';
import type { Config } from './config.ts';
import { DataDirLock } from './DataDirLock.ts';
import { Ledger } from './Ledger.ts';
import { PullWaiters } from './PullWaiters.ts';
import { Scheduler } from './Scheduler.ts';

export interface RunningServer {
  port: number;
  ledger: Ledger;
  /** Stops accepting, answers what is in flight, flushes and fsyncs the log. */
  close(): Promise<void>;
}

/** The composition root: open the log, rebuild the state, start the scheduler, listen. */
/**
 * `onFatal` is called when the process must stop at once (the log can no
 * longer write): answering anything more would run ahead of the disk.
 */
export async function startServer(config: Config, logger: Logger, onFatal: (err: Error) => void): Promise<RunningServer> {
  const started = performance.now();
  const lock = await DataDirLock.acquire(config.DATA_DIR);
  const log = await SegmentedLog.open({
    dir: join(config.DATA_DIR, 'wal'),
    segmentBytes: config.WAL_SEGMENT_BYTES,
    flushIntervalMs: config.WAL_FLUSH_MS,
    onWarning: (message) => logger.warn(message),
    onFailure: onFatal,
  });
  const state = new QueueProjection();
  const bus = new EventBus();
  const ledger = new Ledger(log, state, bus);
  const replayed = await ledger.replay();
  logger.info({ entries: replayed, jobs: state.jobCount, ms: Math.round(performance.now() - started) }, 'state recovered from log');

  const context = commandContext(config.LOCK_TTL_MS);
  const waiters = new PullWaiters(ledger, context);
  const scheduler = new Scheduler(ledger, context);
  scheduler.start();

  const app = createApp({ ledger, waiters, context, logger, maxBodyBytes: config.MAX_BODY_BYTES });
  const server = createServer(app);
  await listen(server, config.HTTP_PORT, config.HOST);
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      scheduler.stop();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      waiters.releaseAll();
      // Keep-alive sockets become idle only after their last answer is sent: sweep until all are gone.
      const sweep = setInterval(() => server.closeIdleConnections(), 10);
      server.closeIdleConnections();
      await stopped;
      clearInterval(sweep);
      await log.close();
      await lock.release();
    })());

  return { port, ledger, close };
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

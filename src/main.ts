import { pino } from 'pino';
import { ConfigError, loadConfig } from './server/config.ts';
import { type RunningServer, startServer } from './server/startServer.ts';

/** After a fatal log error, the longest time given to in-flight requests before the process exits. */
const FATAL_GRACE_MS = 2000;

/** Process entry: configuration, logging, signals. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  // Secrets never reach the logs, whatever a log line happens to carry.
  const logger = pino({
    level: config.LOG_LEVEL,
    redact: { paths: ['headers.authorization', '*.headers.authorization', 'token', '*.token'], censor: '[redacted]' },
  });
  let server: RunningServer | undefined;
  let failing = false;
  // The log failed for good (EIO or the like; a full disk only stalls it): changes already answer 503 and
  // /ready fails. Stop the way SIGTERM does, briefly, so what is in flight gets its 503; then exit non-zero
  // for a supervisor to restart us. Recovery replays the valid prefix, which holds everything acknowledged.
  const onFatal = (err: Error) => {
    logger.fatal({ err }, 'write-ahead log failed: stopping; restart recovers everything acknowledged from disk');
    if (failing) return;
    failing = true;
    if (!server) process.exit(1);
    const graceMs = Math.min(config.SHUTDOWN_TIMEOUT_MS, FATAL_GRACE_MS);
    setTimeout(() => process.exit(1), graceMs).unref();
    server.close(Date.now() + graceMs).then(
      () => process.exit(1),
      () => process.exit(1),
    );
  };
  server = await startServer(config, logger, onFatal);
  const running = server;
  logger.info({ host: config.HOST, port: running.port, dataDir: config.DATA_DIR }, 'listening');

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const deadline = Date.now() + config.SHUTDOWN_TIMEOUT_MS;
    setTimeout(() => {
      logger.fatal({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown did not finish in time');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS).unref();
    running.close(deadline).then(
      () => process.exit(0),
      (err) => {
        logger.fatal({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`ledgerq failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

import { pino } from 'pino';
import { ConfigError, loadConfig } from './server/config.ts';
import { startServer } from './server/startServer.ts';

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
  const server = await startServer(config, logger, (err) => {
    logger.fatal({ err }, 'write-ahead log failed: stopping; restart recovers from what is on disk');
    process.exit(1);
  });
  logger.info({ host: config.HOST, port: server.port, dataDir: config.DATA_DIR }, 'listening');

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const deadline = Date.now() + config.SHUTDOWN_TIMEOUT_MS;
    setTimeout(() => {
      logger.fatal({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown did not finish in time');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS).unref();
    server.close(deadline).then(
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

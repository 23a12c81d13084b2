import type { RequestHandler } from 'express';
import type { Logger } from 'pino';

/** Query parameters whose values never reach the logs. */
const SECRET_PARAMS = /([?&](?:token|access_token)=)[^&]*/gi;

export function redactUrl(url: string): string {
  return url.replace(SECRET_PARAMS, '$1[redacted]');
}

/** One debug line per request, written when the answer is done; free when debug is off. */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    if (!logger.isLevelEnabled('debug')) return next();
    const started = performance.now();
    res.once('finish', () => {
      logger.debug(
        { method: req.method, url: redactUrl(req.originalUrl), status: res.statusCode, ms: Math.round((performance.now() - started) * 100) / 100 },
        'request',
      );
    });
    next();
  };
}

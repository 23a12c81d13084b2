import type { RequestHandler } from 'express';
import type { Logger } from 'pino';

/** A query parameter whose decoded name contains "token" (token, access_token, TOKEN…) never has its value logged. */
const SECRET_NAME = /token/i;

/** The name as a query parser reads it (`+` is a space, %xx decoded); null when it does not decode. */
function decodedName(raw: string): string | null {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}

/**
 * The URL with the values of secret query parameters replaced. Names are
 * compared decoded, as the server's query parser reads them, so `%74oken=`
 * is caught; a name that does not decode is redacted too. The path is kept.
 */
export function redactUrl(url: string): string {
  const queryStart = url.indexOf('?');
  if (queryStart < 0) return url;
  const pairs = url
    .slice(queryStart + 1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      const rawName = equals < 0 ? pair : pair.slice(0, equals);
      const name = decodedName(rawName);
      if (name !== null && !SECRET_NAME.test(name)) return pair;
      return equals < 0 && name !== null ? pair : `${rawName}=[redacted]`;
    });
  return `${url.slice(0, queryStart)}?${pairs.join('&')}`;
}

/** One debug line per request, written when the answer is done; free when debug is off. */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    if (!logger.isLevelEnabled('debug')) return next();
    const started = performance.now();
    res.once('finish', () => {
      logger.debug(
        {
          method: req.method,
          url: redactUrl(req.originalUrl),
          status: res.statusCode,
          ms: Math.round((performance.now() - started) * 100) / 100,
          requestId: res.locals.requestId,
        },
        'request',
      );
    });
    next();
  };
}

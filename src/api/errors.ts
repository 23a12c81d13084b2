import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { DomainError, DomainErrorCode } from '../domain/DomainError.ts';
import { isLogUnavailable } from '../log/logUnavailable.ts';
import { redactUrl } from './requestLog.ts';

const STATUS: Record<DomainErrorCode, number> = {
  invalid: 400,
  not_active: 400,
  bad_token: 400,
  not_found: 404,
};

export function sendError(res: Response, status: number, error: string): void {
  res.status(status).json({ ok: false, error });
}

export function sendDomainError(res: Response, error: DomainError): void {
  sendError(res, STATUS[error.code], error.message);
}

interface HttpishError {
  type?: string;
  status?: number;
  statusCode?: number;
  message?: string;
}

/**
 * Last stop for thrown errors: body-parser's become 4xx in the error format;
 * a log that cannot take changes (disk full, or failed; logged where it
 * happened) a 503 with its reason; anything else a logged 500.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: HttpishError, req, res, _next) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err.type === 'entity.parse.failed') return sendError(res, 400, 'Invalid JSON body');
    if (err.type === 'entity.too.large') return sendError(res, 413, 'Request body too large');
    if (isLogUnavailable(err)) {
      res.set('Retry-After', '1');
      return sendError(res, 503, err.message);
    }
    const status = err.status ?? err.statusCode;
    if (status !== undefined && status >= 400 && status < 500) return sendError(res, status, err.message ?? 'Bad request');
    logger.error({ err, method: req.method, url: redactUrl(req.originalUrl) }, 'request failed');
    sendError(res, 500, 'Internal server error');
  };
}

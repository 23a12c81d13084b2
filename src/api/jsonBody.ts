import { isUtf8 } from 'node:buffer';
import express, { type RequestHandler } from 'express';
import { sendError } from './errors.ts';

/**
 * Bodies are JSON. A body sent with another declared content type is refused
 * rather than guessed at; one with no content type is read as JSON.
 */
export function jsonBody(limitBytes: number): RequestHandler[] {
  const requireJson: RequestHandler = (req, res, next) => {
    const type = req.headers['content-type'];
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (hasBody && type !== undefined && !/[/+]json\b/i.test(type)) {
      return sendError(res, 400, 'Content-Type must be application/json');
    }
    next();
  };
  // Declared too large: refused before reading and the connection closed. body-parser would read and discard
  // the whole body before answering (up to node's request timeout for a client that never sends it).
  const refuseDeclaredTooLarge: RequestHandler = (req, res, next) => {
    if (Number(req.headers['content-length'] ?? 0) <= limitBytes) return next();
    res.setHeader('Connection', 'close');
    sendError(res, 413, 'Request body too large');
  };
  // JSON is UTF-8: other bytes would otherwise be decoded to U+FFFD and the job stored altered.
  const verify = (_req: unknown, _res: unknown, buf: Buffer) => {
    if (!isUtf8(buf)) throw Object.assign(new Error('Request body is not valid UTF-8'), { status: 400, type: 'entity.not.utf8' });
  };
  return [requireJson, refuseDeclaredTooLarge, express.json({ limit: limitBytes, strict: false, type: () => true, verify })];
}

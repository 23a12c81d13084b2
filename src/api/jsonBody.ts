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
  return [requireJson, express.json({ limit: limitBytes, strict: false, type: () => true })];
}

import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import express, { type RequestHandler } from 'express';
import { sendError } from './errors.ts';
import { nestedDeeperThan, tooDeepMessage } from './jsonDepth.ts';

/** An error body-parser passes on with our status and message (see errors.ts). */
function bodyError(status: number, message: string, type: string): Error {
  return Object.assign(new Error(message), { status, type });
}

/** The body as UTF-8 bytes for the depth scan: declared UTF-16 bodies are decoded first. */
function utf8Bytes(body: Buffer, encoding: string): Uint8Array {
  if (/^utf-?8$/i.test(encoding)) return body;
  try {
    return Buffer.from(new TextDecoder(encoding).decode(body), 'utf8');
  } catch {
    throw bodyError(415, `unsupported charset "${encoding.toUpperCase()}"`, 'charset.unsupported');
  }
}

/**
 * Bodies are JSON. A body sent with another declared content type is refused
 * rather than guessed at; one with no content type is read as JSON. A body
 * nested deeper than `maxDepth` is refused before it is parsed.
 */
export function jsonBody(limitBytes: number, maxDepth: number): RequestHandler[] {
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
  // body-parser calls `verify` with the raw bytes before JSON.parse; what it throws becomes the answer.
  const verify = (_req: IncomingMessage, _res: unknown, body: Buffer, encoding: string) => {
    // A UTF-8 body must be UTF-8: other bytes would be decoded to U+FFFD and the job stored altered.
    if (/^utf-?8$/i.test(encoding) && !isUtf8(body)) throw bodyError(400, 'Request body is not valid UTF-8', 'entity.not.utf8');
    if (nestedDeeperThan(utf8Bytes(body, encoding), maxDepth)) throw bodyError(400, tooDeepMessage(maxDepth), 'entity.too.deep');
  };
  return [requireJson, refuseDeclaredTooLarge, express.json({ limit: limitBytes, strict: false, type: () => true, verify })];
}

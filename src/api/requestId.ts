import type { RequestHandler } from 'express';
import { uuidv7 } from '../commands/uuidv7.ts';

/** Longest client-sent request id kept: longer ones would be written into every entry the request makes. */
const MAX_REQUEST_ID = 128;
/** Printable ASCII, no leading or trailing space: an id goes into logs and headers verbatim. */
const PRINTABLE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/**
 * A client-sent request id (X-Request-Id, or a WebSocket command's `reqId`)
 * when it is printable and at most 128 characters; a number is taken as its
 * decimal text. Null otherwise: the server makes one.
 */
export function acceptedRequestId(value: unknown): string | null {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  return typeof text === 'string' && text.length <= MAX_REQUEST_ID && PRINTABLE.test(text) ? text : null;
}

/** A fresh id: a UUIDv7, so ids sort by time. */
export function newRequestId(): string {
  return uuidv7(Date.now());
}

/**
 * First middleware: every HTTP answer carries `X-Request-Id`, the client's
 * when acceptable, else a new one; the entries the request logs record it.
 */
export function requestIds(): RequestHandler {
  return (req, res, next) => {
    const id = acceptedRequestId(req.headers['x-request-id']) ?? newRequestId();
    res.locals.requestId = id;
    res.setHeader('X-Request-Id', id);
    next();
  };
}

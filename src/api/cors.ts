import type { RequestHandler } from 'express';

/**
 * Every response carries Access-Control-Allow-Origin (errors included, so a
 * browser can read them), and a preflight on any path is answered here,
 * before auth and rate limits, with 204 and the contract's four headers.
 * Browser code may read X-Request-Id (the id the log records); it cannot send
 * its own cross-origin, since the contract's allowed headers stay as they are.
 */
export function cors(allowOrigin: string): RequestHandler {
  return (req, res, next) => {
    res.setHeader('Access-Control-Allow-Origin', allowOrigin);
    res.setHeader('Access-Control-Expose-Headers', 'X-Request-Id');
    if (allowOrigin !== '*') res.setHeader('Vary', 'Origin');
    if (req.method !== 'OPTIONS') return next();
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type, Authorization');
    res.setHeader('Access-Control-Max-Age', '86400');
    res.status(204).end();
  };
}

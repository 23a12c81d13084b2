import type { Request, RequestHandler } from 'express';
import { sendError } from './errors.ts';
import { isProbe } from './publicEndpoints.ts';
import { SlidingWindowLimiter } from './SlidingWindowLimiter.ts';

export interface RateLimitSettings {
  windowMs: number;
  maxRequests: number;
  cleanupMs: number;
}

/** The client a request counts against: the first X-Forwarded-For entry, else X-Real-IP, else the peer address. */
export function clientOf(req: Request): string {
  const forwarded = req.headers['x-forwarded-for'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  if (first) return first;
  const real = req.headers['x-real-ip'];
  const realIp = (Array.isArray(real) ? real[0] : real)?.trim();
  return realIp || req.socket.remoteAddress || 'unknown';
}

/** Returns the middleware and a stop function for its cleanup timer. */
export function rateLimit(settings: RateLimitSettings): { middleware: RequestHandler; stop(): void } {
  if (settings.maxRequests === Infinity) return { middleware: (_req, _res, next) => next(), stop: () => {} };
  const limiter = new SlidingWindowLimiter(settings.windowMs, settings.maxRequests);
  const sweeper = setInterval(() => limiter.sweep(Date.now()), settings.cleanupMs);
  sweeper.unref();
  const middleware: RequestHandler = (req, res, next) => {
    if (isProbe(req) || limiter.allow(clientOf(req), Date.now())) return next();
    res.setHeader('Retry-After', String(Math.ceil(settings.windowMs / 1000)));
    sendError(res, 429, 'Rate limit exceeded');
  };
  return { middleware, stop: () => clearInterval(sweeper) };
}

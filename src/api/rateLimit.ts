import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { sendError } from './errors.ts';
import { isProbe } from './publicEndpoints.ts';
import { SlidingWindowLimiter } from './SlidingWindowLimiter.ts';

export interface RateLimitSettings {
  windowMs: number;
  maxRequests: number;
  cleanupMs: number;
}

/** The client a request counts against: the first X-Forwarded-For entry, else X-Real-IP, else the peer address. */
export function clientOf(req: IncomingMessage): string {
  const forwarded = req.headers['x-forwarded-for'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  if (first) return first;
  const real = req.headers['x-real-ip'];
  const realIp = (Array.isArray(real) ? real[0] : real)?.trim();
  return realIp || req.socket.remoteAddress || 'unknown';
}

export interface RateLimiter {
  middleware: RequestHandler;
  /** Counts a request that bypasses express (a WebSocket upgrade); false = refuse it with 429. */
  allows(req: IncomingMessage): boolean;
  /** The Retry-After of a refusal: the window, in seconds. */
  retryAfterSeconds: number;
  /** Stops the cleanup timer. */
  stop(): void;
}

/** Returns the middleware, a check for upgrade requests, and a stop function for the cleanup timer. */
export function rateLimit(settings: RateLimitSettings): RateLimiter {
  const retryAfterSeconds = Math.ceil(settings.windowMs / 1000);
  if (settings.maxRequests === Infinity) {
    return { middleware: (_req, _res, next) => next(), allows: () => true, retryAfterSeconds, stop: () => {} };
  }
  const limiter = new SlidingWindowLimiter(settings.windowMs, settings.maxRequests);
  const sweeper = setInterval(() => limiter.sweep(Date.now()), settings.cleanupMs);
  sweeper.unref();
  const middleware: RequestHandler = (req, res, next) => {
    if (isProbe(req) || limiter.allow(clientOf(req), Date.now())) return next();
    res.setHeader('Retry-After', String(retryAfterSeconds));
    sendError(res, 429, 'Rate limit exceeded');
  };
  return {
    middleware,
    allows: (req) => limiter.allow(clientOf(req), Date.now()),
    retryAfterSeconds,
    stop: () => clearInterval(sweeper),
  };
}

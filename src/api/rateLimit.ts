import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { clientAddress, type TrustProxy } from './clientAddress.ts';
import { sendError } from './errors.ts';
import { isProbe } from './publicEndpoints.ts';
import { SlidingWindowLimiter } from './SlidingWindowLimiter.ts';

export interface RateLimitSettings {
  windowMs: number;
  maxRequests: number;
  cleanupMs: number;
  /** Whose forwarding headers name the client (TRUST_PROXY); by default the peer address is the client. */
  trustProxy: TrustProxy;
}

export interface RateLimiter {
  middleware: RequestHandler;
  /** Counts a request that bypasses express (a WebSocket upgrade); false = refuse it with 429. */
  allows(req: IncomingMessage): boolean;
  /** Clients the limiter currently keeps a window for. */
  size(): number;
  /** The Retry-After of a refusal: the window, in seconds. */
  retryAfterSeconds: number;
  /** Stops the cleanup timer. */
  stop(): void;
}

/** Returns the middleware, a check for upgrade requests, and a stop function for the cleanup timer. */
export function rateLimit(settings: RateLimitSettings): RateLimiter {
  const retryAfterSeconds = Math.ceil(settings.windowMs / 1000);
  if (settings.maxRequests === Infinity) {
    return { middleware: (_req, _res, next) => next(), allows: () => true, size: () => 0, retryAfterSeconds, stop: () => {} };
  }
  const limiter = new SlidingWindowLimiter(settings.windowMs, settings.maxRequests);
  const clientOf = (req: IncomingMessage) => clientAddress(req, settings.trustProxy);
  const sweeper = setInterval(() => limiter.sweep(Date.now()), settings.cleanupMs);
  sweeper.unref();
  const middleware: RequestHandler = (req, res, next) => {
    if (isProbe(req) || limiter.allow(clientOf(req), Date.now())) return next();
    res.setHeader('Retry-After', String(retryAfterSeconds));
    sendError(res, 429, 'Rate limit exceeded');
  };
  return {
    middleware,
    size: () => limiter.size,
    allows: (req) => limiter.allow(clientOf(req), Date.now()),
    retryAfterSeconds,
    stop: () => clearInterval(sweeper),
  };
}

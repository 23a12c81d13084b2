import type { Request } from 'express';

/** Probes: never behind a token, never rate limited (an orchestrator must always reach them). */
export const PROBES: ReadonlySet<string> = new Set(['/health', '/healthz', '/live', '/ready']);

/** A probe by GET or HEAD (the only HEAD answered, see headRequests.ts). */
export function isProbe(req: Request): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && PROBES.has(req.path);
}

/** The contract's endpoints that skip authentication (preflight is answered before auth). */
export function skipsAuth(req: Request, metricsNeedAuth: boolean): boolean {
  if (isProbe(req)) return true;
  if (req.method === 'POST' && req.path === '/gc') return true;
  if (req.method === 'GET' && req.path === '/heapstats') return true;
  return req.method === 'GET' && req.path === '/prometheus' && !metricsNeedAuth;
}

/**
 * Event streams also take the token as `?token=`: browsers cannot set headers
 * on EventSource (nor on WebSocket, whose upgrade is checked in src/api/ws).
 */
export function takesQueryToken(req: Request): boolean {
  return req.method === 'GET' && (req.path === '/events' || req.path.startsWith('/events/'));
}

import type { RequestHandler } from 'express';
import { sendError } from './errors.ts';
import { PROBES } from './publicEndpoints.ts';

/**
 * Express runs a GET route for HEAD, and not every GET is free of effects: a
 * HEAD pull would lease a job and throw the token away, a HEAD on an event
 * stream would hold a subscription nobody reads. The contract lists no HEAD,
 * so HEAD is an unknown endpoint (404) everywhere but on the probes, which
 * only read and which load balancers like to probe with HEAD. An allow-list,
 * so a GET route added later is safe by default.
 */
export function headOnlyOnProbes(): RequestHandler {
  return (req, res, next) => {
    if (req.method !== 'HEAD' || PROBES.has(req.path)) return next();
    sendError(res, 404, 'Not found');
  };
}

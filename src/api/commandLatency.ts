import type { RequestHandler } from 'express';
import type { LatencyHistograms, TimedCommand } from '../monitoring/ServerMetrics.ts';
import type { PullWaiters } from '../server/PullWaiters.ts';

/** Which timed command a request is, by the job routes' paths (Express matches them case-insensitively, trailing slash allowed). */
function commandOf(method: string, path: string): TimedCommand | null {
  if (/^\/queues\/[^/]+\/jobs\/?$/i.test(path)) {
    if (method === 'POST') return 'push';
    if (method === 'GET') return 'pull';
    return null;
  }
  if (method === 'POST' && /^\/jobs\/[^/]+\/ack\/?$/i.test(path)) return 'ack';
  return null;
}

/**
 * Records push, pull and ack latency: from the parsed request reaching the
 * job routes to the answer handed to the socket, fsync wait included (what a
 * client waits for, minus its own network). Only carried-out commands (2xx)
 * are recorded.
 *
 * A long-poll that had to park is left out: its duration measures how long
 * the queue stayed empty, not the server. It is recognized by the parked
 * waiter it leaves behind during the synchronous part of the pull handler
 * (Express dispatches from here to the handler synchronously, and the handler
 * parks before its first await). Pulls answered at once, with or without a
 * job, are recorded.
 */
export function commandLatency(histograms: LatencyHistograms, waiters: PullWaiters): RequestHandler {
  return (req, res, next) => {
    const command = commandOf(req.method, req.path);
    if (command === null) return next();
    const started = performance.now();
    const parkedBefore = waiters.size;
    let parked = false;
    // 'finish' is emitted asynchronously, after `parked` below is settled.
    res.once('finish', () => {
      if (parked || res.statusCode < 200 || res.statusCode >= 300) return;
      histograms[command].observe(performance.now() - started);
    });
    next();
    parked = command === 'pull' && waiters.size > parkedBefore;
  };
}

import { type RequestHandler, Router } from 'express';
import { collectionSizes } from '../monitoring/collectionSizes.ts';
import { heapReport } from '../monitoring/heapReport.ts';
import { heapInMb, memoryInMb } from '../monitoring/memoryInMb.ts';
import type { ServerMetrics } from '../monitoring/ServerMetrics.ts';
import type { ThroughputStats } from '../projections/ThroughputStats.ts';
import type { Ledger } from '../commands/Ledger.ts';
import type { PullWaiters } from '../commands/PullWaiters.ts';
import { serverVersion } from '../monitoring/serverVersion.ts';

export interface ConnectionCounts {
  /** Open HTTP connections. */
  tcp: number;
  ws: number;
  sse: number;
}

/** What the composition root provides for monitoring (see startServer). */
export interface MonitoringDeps {
  stats: ThroughputStats;
  metrics: ServerMetrics;
  /** False once shutdown has begun. */
  isReady: () => boolean;
  connections: () => ConnectionCounts;
}

export interface MonitoringRoutesDeps extends MonitoringDeps {
  ledger: Ledger;
  waiters: PullWaiters;
}

/** Seconds since the process started. */
const uptime = () => Math.floor(process.uptime());

/** Health probes, stats, metrics (JSON and Prometheus) and the debug endpoints. */
export function monitoringRoutes({ ledger, waiters, stats, metrics, isReady, connections }: MonitoringRoutesDeps): Router {
  const router = Router();
  const state = ledger.state;

  router.get('/health', (_req, res) => {
    const totals = state.totals();
    res.json({
      ok: true,
      status: 'healthy',
      uptime: uptime(),
      version: serverVersion,
      // `waiting` is what a worker can pull now; jobs waiting for dependencies are not (see docs/design.md).
      queues: {
        waiting: totals.waiting,
        active: totals.active,
        delayed: totals.delayed,
        completed: totals.completed,
        dlq: totals.failed,
      },
      connections: connections(),
      memory: heapInMb(),
    });
  });

  const alive: RequestHandler = (_req, res) => {
    res.type('text/plain').send('OK');
  };
  router.get('/healthz', alive);
  router.get('/live', alive);

  router.get('/ready', (_req, res) => {
    const ready = isReady();
    res.status(ready ? 200 : 503).json({ ok: ready, ready });
  });

  router.get('/stats', (_req, res) => {
    const totals = state.totals();
    res.json({
      ok: true,
      stats: {
        queued: totals.waiting,
        processing: totals.active,
        delayed: totals.delayed,
        dlq: totals.failed,
        completed: totals.completed,
        uptime: uptime(),
        pushPerSec: stats.pushPerSec,
        pullPerSec: stats.pullPerSec,
        totalPushed: stats.totalPushed,
        totalPulled: stats.totalPulled,
        totalCompleted: stats.totalCompleted,
        totalFailed: stats.totalFailed,
      },
      memory: memoryInMb(),
      collections: collectionSizes(state),
    });
  });

  router.get('/metrics', (_req, res) => {
    const { totalPushed, totalPulled, totalCompleted, totalFailed } = stats;
    res.json({ ok: true, metrics: { totalPushed, totalPulled, totalCompleted, totalFailed } });
  });

  router.get('/prometheus', async (_req, res) => {
    const body = await metrics.scrape();
    // Set and end directly: res.send would rewrite the Content-Type's parameters in another order.
    res.status(200).setHeader('Content-Type', metrics.contentType);
    res.end(body);
  });

  router.post('/gc', (_req, res) => {
    const gc = (globalThis as { gc?: () => void }).gc;
    const before = heapInMb();
    gc?.();
    const after = heapInMb();
    res.json(gc ? { ok: true, before, after } : { ok: true, before, after, note: 'gc is not exposed: start node with --expose-gc' });
  });

  router.get('/heapstats', (_req, res) => {
    const { heap, topObjectTypes } = heapReport({
      jobs: state.jobCount,
      queues: state.queueNames().length,
      pullWaiters: waiters.size,
      httpConnections: connections().tcp,
    });
    res.json({ ok: true, memory: heapInMb(), heap, collections: collectionSizes(state), topObjectTypes });
  });

  return router;
}

import express, { type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { requireToken } from './auth.ts';
import { cors } from './cors.ts';
import { errorHandler, sendError } from './errors.ts';
import { jobRoutes, type JobRoutesDeps } from './jobRoutes.ts';
import { headOnlyOnProbes } from './headRequests.ts';
import { jsonBody } from './jsonBody.ts';
import { type MonitoringDeps, monitoringRoutes } from './monitoringRoutes.ts';
import { requestIds } from './requestId.ts';
import { requestLog } from './requestLog.ts';
import type { TokenSet } from './TokenSet.ts';
import { timeTravelRoutes, type TimeTravelRoutesDeps } from './timeTravelRoutes.ts';

export interface AppDeps extends JobRoutesDeps {
  logger: Logger;
  maxBodyBytes: number;
  /** MAX_JSON_DEPTH: deepest nesting of a request body. */
  maxJsonDepth: number;
  corsAllowOrigin: string;
  tokens: TokenSet;
  metricsNeedAuth: boolean;
  rateLimit: RequestHandler;
  monitoring: MonitoringDeps;
  /** The SSE endpoints (`GET /events*`, src/api/realtime.ts): behind CORS, rate limit and auth like any route. */
  eventStreams?: RequestHandler;
  /** Point-in-time reads (`/log/position`, `?at=` / `?position=`, `/queues/:queue/state|changes`). */
  timeTravel?: TimeTravelRoutesDeps;
  /** `GET /jobs/:id/history` and `/attempts` (src/api/historyRoutes.ts): auth like the job endpoints. */
  history?: RequestHandler;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.set('etag', false);
  app.disable('x-powered-by');
  // Order matters: a request id and CORS headers on everything (errors too) and preflight before any check.
  app.use(requestIds());
  app.use(requestLog(deps.logger));
  app.use(cors(deps.corsAllowOrigin));
  app.use(deps.rateLimit);
  app.use(requireToken(deps.tokens, deps.metricsNeedAuth));
  app.use(headOnlyOnProbes());
  app.use(monitoringRoutes({ ...deps.monitoring, ledger: deps.ledger, waiters: deps.waiters }));
  if (deps.eventStreams) app.use(deps.eventStreams);
  if (deps.history) app.use(deps.history);
  app.use(jsonBody(deps.maxBodyBytes, deps.maxJsonDepth));
  app.use(jobRoutes({ ...deps, recordLatency: (command, ms) => deps.monitoring.metrics.latency[command].observe(ms) }));
  // After jobRoutes: GET /jobs/:id passes here only with `at` or `position`.
  if (deps.timeTravel) app.use(timeTravelRoutes(deps.timeTravel));
  // A path or method the contract does not list.
  app.use((_req, res) => sendError(res, 404, 'Not found'));
  app.use(errorHandler(deps.logger));
  return app;
}

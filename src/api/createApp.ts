import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { errorHandler, sendError } from './errors.ts';
import { jobRoutes, type JobRoutesDeps } from './jobRoutes.ts';
import { jsonBody } from './jsonBody.ts';

export interface AppDeps extends JobRoutesDeps {
  logger: Logger;
  maxBodyBytes: number;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.set('etag', false);
  app.disable('x-powered-by');
  app.use(jsonBody(deps.maxBodyBytes));
  app.use(jobRoutes(deps));
  // A path or method the contract does not list.
  app.use((_req, res) => sendError(res, 404, 'Not found'));
  app.use(errorHandler(deps.logger));
  return app;
}

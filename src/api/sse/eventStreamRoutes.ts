import { type Request, type Response, Router } from 'express';
import { createSession } from 'better-sse';
import type { Logger } from 'pino';
import { parseQueueName } from '../../domain/pushOptions.ts';
import type { EventFeed } from '../../projections/EventFeed.ts';
import { uuidv7 } from '../../commands/uuidv7.ts';
import { sendError } from '../errors.ts';
import { streamCursor } from '../streamCursor.ts';
import { connectedFrame } from './sseFrames.ts';
import { SseStream } from './SseStream.ts';
import type { SseStreams } from './SseStreams.ts';

export interface EventStreamDeps {
  feed: EventFeed;
  streams: SseStreams;
  /** Unsent bytes after which a slow client's stream is cut (STREAM_BUFFER_BYTES). */
  maxBuffered: number;
  logger: Logger;
}

/** `GET /events` and `GET /events/queues/:queue`: the job events as Server-Sent Events, replayable by id. */
export function eventStreamRoutes(deps: EventStreamDeps): Router {
  const router = Router();
  router.get('/events', (req, res) => openStream(deps, req, res, null));
  router.get('/events/queues/:queue', (req, res) => {
    const queue = parseQueueName(req.params.queue as string);
    if (!queue.ok) return sendError(res, 400, queue.error);
    return openStream(deps, req, res, queue.value);
  });
  return router;
}

async function openStream(deps: EventStreamDeps, req: Request, res: Response, queue: string | null): Promise<void> {
  if (!deps.streams.accepting) return sendError(res, 503, 'Server shutting down');
  const cursor = streamCursor(req.headers['last-event-id'], req.query.from);
  if (!cursor.ok) return sendError(res, 400, cursor.error);
  let gone = false;
  res.once('close', () => {
    gone = true;
  });
  // retry: null so the connect message is the first frame; keep-alive comments every 10 s (the default).
  const session = await createSession(req, res, { retry: null });
  if (gone) return;
  const clientId = uuidv7(Date.now());
  await session.batch(connectedFrame(clientId));
  if (gone) return;
  if (!deps.streams.accepting) {
    res.end();
    return;
  }
  const stream = new SseStream(res, deps.maxBuffered, (reason) =>
    deps.logger.info({ clientId, queue, reason }, 'event stream cut; the client resumes from its last id'),
  );
  const unsubscribe = deps.feed.subscribe(cursor.value, queue, stream);
  deps.streams.add(stream);
  res.once('close', () => {
    unsubscribe();
    deps.streams.delete(stream);
  });
}

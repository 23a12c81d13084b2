import type { Server } from 'node:http';
import type { Router } from 'express';
import type { Logger } from 'pino';
import type { DecideContext } from '../domain/DecideContext.ts';
import type { Log } from '../log/Log.ts';
import type { EventBus } from '../projections/EventBus.ts';
import { EventFeed } from '../projections/EventFeed.ts';
import type { Ledger } from '../commands/Ledger.ts';
import type { PullWaiters } from '../commands/PullWaiters.ts';
import type { TrustProxy } from './clientAddress.ts';
import type { RateLimiter } from './rateLimit.ts';
import { eventStreamRoutes } from './sse/eventStreamRoutes.ts';
import { SseStreams } from './sse/SseStreams.ts';
import type { TokenSet } from './TokenSet.ts';
import { WsServer } from './ws/WsServer.ts';

export interface RealtimeDeps {
  bus: EventBus;
  log: Log;
  ledger: Ledger;
  waiters: PullWaiters;
  context: () => DecideContext;
  tokens: TokenSet;
  limiter: RateLimiter;
  /** TRUST_PROXY: whose forwarding headers name a WebSocket client, for the address the log records. */
  trustProxy: TrustProxy;
  logger: Logger;
  corsAllowOrigin: string;
  /** STREAM_BUFFER_BYTES: unsent bytes after which a slow SSE or WebSocket client is cut. */
  maxBuffered: number;
  /** MAX_BODY_BYTES: the largest WebSocket command. */
  maxPayload: number;
  /** MAX_JSON_DEPTH: the deepest WebSocket command. */
  maxJsonDepth: number;
  /** WS_MAX_INFLIGHT: unanswered commands per WebSocket. */
  maxInflight: number;
  /** MAX_REPLAYS: replays (`?from=`, Last-Event-ID) reading the log at once. */
  maxReplays: number;
}

export interface Realtime {
  /** `GET /events*`, to mount in the express app (behind CORS, rate limit and auth). */
  readonly sseRoutes: Router;
  /** Takes the server's WebSocket upgrades (`/ws`, `/ws/queues/:queue`). */
  attach(server: Server): void;
  /** Open connections, for /health. */
  counts(): { sse: number; ws: number };
  /** Replays reading the log now and waiting for a turn, for /prometheus. */
  replays(): { active: number; queued: number };
  /** Shutdown, before the log closes: ends every stream, gives WebSocket-owned jobs back, closes the sockets. */
  close(): Promise<void>;
}

/** The event streams (SSE) and the WebSocket endpoints, sharing one event feed. */
export function createRealtime(deps: RealtimeDeps): Realtime {
  const feed = new EventFeed(deps.bus, deps.log, { maxReplays: deps.maxReplays });
  const streams = new SseStreams();
  const ws = new WsServer({ ...deps, feed });
  return {
    sseRoutes: eventStreamRoutes({ feed, streams, maxBuffered: deps.maxBuffered, logger: deps.logger }),
    attach: (server) => {
      server.on('upgrade', ws.handleUpgrade);
    },
    counts: () => ({ sse: streams.count, ws: ws.count }),
    replays: () => feed.replays,
    close: async () => {
      streams.closeAll();
      await ws.closeAll();
    },
  };
}

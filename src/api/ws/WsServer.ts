import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { parseQueueName } from '../../domain/pushOptions.ts';
import { queryToken } from '../auth.ts';
import type { RateLimiter } from '../rateLimit.ts';
import { streamCursor } from '../streamCursor.ts';
import { bearerToken } from '../TokenSet.ts';
import { WsClient, type WsClientDeps } from './WsClient.ts';

export interface WsServerDeps extends WsClientDeps {
  limiter: RateLimiter;
  corsAllowOrigin: string;
  /** Largest command accepted, in bytes (MAX_BODY_BYTES: the same limit as an HTTP body). */
  maxPayload: number;
}

/** Origins compare as scheme://host[:port], case-insensitively, whatever trailing slash the setting has. */
function normalizeOrigin(origin: string): string {
  return origin.trim().replace(/\/+$/, '').toLowerCase();
}

/**
 * Browsers send `Origin` on every WebSocket upgrade and, unlike fetch, do not
 * enforce CORS on it: without this check any page a user visits could open
 * the socket (with the user's cookies or a `?token=` it knows) and push jobs
 * or read every event. A client that sends no Origin is not a browser and is
 * judged by its token alone.
 */
function originAllowed(origin: string | undefined, allowOrigin: string): boolean {
  if (allowOrigin === '*' || origin === undefined) return true;
  return normalizeOrigin(origin) === normalizeOrigin(allowOrigin);
}

/** `/ws` → all queues, `/ws/queues/:queue` → one; null: no such WebSocket endpoint. */
function routeOf(pathname: string): { queue: string | null } | { error: string } | null {
  const path = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
  if (path === '/ws') return { queue: null };
  const match = /^\/ws\/queues\/([^/]+)$/.exec(path);
  if (!match) return null;
  let name: string;
  try {
    name = decodeURIComponent(match[1] as string);
  } catch {
    return { error: 'Invalid queue name' };
  }
  const queue = parseQueueName(name);
  return queue.ok ? { queue: queue.value } : { error: queue.error };
}

/** Grace for clients to answer the close handshake at shutdown before their sockets are cut. */
const SHUTDOWN_GRACE_MS = 1000;

/**
 * The WebSocket endpoints, on `ws` 8 with the HTTP server's 'upgrade' event
 * (see docs/design.md for why not express-ws): every check an HTTP request
 * gets (rate limit, token, route) happens before the handshake, so a refused
 * upgrade is an HTTP answer in the contract's error format, not a close after 101.
 */
export class WsServer {
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<WsClient>();
  private closing = false;

  constructor(private readonly deps: WsServerDeps) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: deps.maxPayload, clientTracking: false });
    // A malformed handshake (key, version, protocols): ws would answer text/html; answer in the error format instead.
    this.wss.on('wsClientError', (err, socket) => {
      this.refuse(socket, 400, err.message, /Version/.test(err.message) ? { 'Sec-WebSocket-Version': '13, 8' } : {});
    });
  }

  get count(): number {
    return this.clients.size;
  }

  /** The HTTP server's 'upgrade' listener. */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (this.closing) return this.refuse(socket, 503, 'Server shutting down');
    const url = new URL(req.url ?? '/', 'http://localhost');
    // Same order as the HTTP middleware: rate limit, origin, token, then the route.
    if (!this.deps.limiter.allows(req)) {
      return this.refuse(socket, 429, 'Rate limit exceeded', { 'Retry-After': String(this.deps.limiter.retryAfterSeconds) });
    }
    if (!originAllowed(req.headers.origin, this.deps.corsAllowOrigin)) return this.refuse(socket, 403, 'Origin not allowed');
    const { tokens } = this.deps;
    if (
      tokens.enabled &&
      !tokens.accepts(bearerToken(req.headers.authorization)) &&
      !tokens.accepts(queryToken(url.searchParams.get('token')))
    ) {
      return this.refuse(socket, 401, 'Unauthorized');
    }
    const route = routeOf(url.pathname);
    // Only a GET upgrades (RFC 6455); anything else is an unknown endpoint, as over plain HTTP.
    if (route === null || req.method !== 'GET') return this.refuse(socket, 404, 'Not found');
    if ('error' in route) return this.refuse(socket, 400, route.error);
    const from = streamCursor(undefined, url.searchParams.get('from') ?? undefined);
    if (!from.ok) return this.refuse(socket, 400, from.error);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.closing) {
        ws.close(1001, 'Server shutting down');
        return;
      }
      const client = new WsClient(ws, this.deps, route.queue, from.value, (gone) => this.clients.delete(gone));
      this.clients.add(client);
    });
  };

  /**
   * Shutdown: refuse new upgrades, give the jobs of every connection back,
   * close each with 1001, and cut those that do not finish in time.
   */
  async closeAll(): Promise<void> {
    this.closing = true;
    for (const client of this.clients) client.shutdown();
    const deadline = Date.now() + SHUTDOWN_GRACE_MS;
    while (this.clients.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    for (const client of this.clients) client.terminate();
    this.wss.close();
  }

  /** An HTTP answer on the raw socket, in the contract's error format. */
  private refuse(socket: Duplex, status: number, error: string, headers: Record<string, string> = {}): void {
    socket.on('error', () => {});
    if (!socket.writable) return void socket.destroy();
    const body = JSON.stringify({ ok: false, error });
    const lines = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
      'Connection: close',
      'Content-Type: application/json; charset=utf-8',
      `Content-Length: ${Buffer.byteLength(body)}`,
      `Access-Control-Allow-Origin: ${this.deps.corsAllowOrigin}`,
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ];
    socket.once('finish', () => socket.destroy());
    socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
  }
}

import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { parseQueueName } from '../../domain/pushOptions.ts';
import { queryToken } from '../auth.ts';
import { clientAddress, type TrustProxy } from '../clientAddress.ts';
import type { RateLimiter } from '../rateLimit.ts';
import { acceptedRequestId, newRequestId } from '../requestId.ts';
import { streamCursor } from '../streamCursor.ts';
import { bearerToken } from '../TokenSet.ts';
import { WsClient, type WsClientDeps } from './WsClient.ts';

export interface WsServerDeps extends WsClientDeps {
  limiter: RateLimiter;
  corsAllowOrigin: string;
  /** Largest command accepted, in bytes (MAX_BODY_BYTES: the same limit as an HTTP body). */
  maxPayload: number;
  /** TRUST_PROXY: whose forwarding headers name the client, for the address the log records. */
  trustProxy: TrustProxy;
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
  /** The X-Request-Id of each upgrade being handled (the connection's id), for the answer's headers. */
  private readonly upgradeIds = new WeakMap<IncomingMessage, string>();

  constructor(private readonly deps: WsServerDeps) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: deps.maxPayload, clientTracking: false });
    // A malformed handshake (key, version, protocols): ws would answer text/html; answer in the error format instead.
    this.wss.on('wsClientError', (err, socket, req) => {
      const id = this.upgradeIds.get(req);
      const headers: Record<string, string> = id === undefined ? {} : { 'X-Request-Id': id };
      if (/Version/.test(err.message)) headers['Sec-WebSocket-Version'] = '13, 8';
      this.refuse(socket, 400, err.message, headers);
    });
    // The 101 carries the connection's id like any HTTP answer carries its request's.
    this.wss.on('headers', (headers, req) => {
      const id = this.upgradeIds.get(req);
      if (id !== undefined) headers.push(`X-Request-Id: ${id}`);
    });
  }

  get count(): number {
    return this.clients.size;
  }

  /** The HTTP server's 'upgrade' listener. */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // The connection's id: the client's X-Request-Id when acceptable. Its commands' request ids start with it.
    const connectionId = acceptedRequestId(req.headers['x-request-id']) ?? newRequestId();
    this.upgradeIds.set(req, connectionId);
    const refuse = (status: number, error: string, headers: Record<string, string> = {}) =>
      this.refuse(socket, status, error, { ...headers, 'X-Request-Id': connectionId });
    if (this.closing) return refuse(503, 'Server shutting down');
    const url = new URL(req.url ?? '/', 'http://localhost');
    // Same order as the HTTP middleware: rate limit, origin, token, then the route.
    if (!this.deps.limiter.allows(req)) {
      return refuse(429, 'Rate limit exceeded', { 'Retry-After': String(this.deps.limiter.retryAfterSeconds) });
    }
    if (!originAllowed(req.headers.origin, this.deps.corsAllowOrigin)) return refuse(403, 'Origin not allowed');
    const { tokens } = this.deps;
    // null without AUTH_TOKENS: nobody is named.
    const tokenName = tokens.enabled
      ? (tokens.nameOf(bearerToken(req.headers.authorization)) ?? tokens.nameOf(queryToken(url.searchParams.get('token'))))
      : null;
    if (tokenName === undefined) return refuse(401, 'Unauthorized');
    const route = routeOf(url.pathname);
    // Only a GET upgrades (RFC 6455); anything else is an unknown endpoint, as over plain HTTP.
    if (route === null || req.method !== 'GET') return refuse(404, 'Not found');
    if ('error' in route) return refuse(400, route.error);
    const from = streamCursor(undefined, url.searchParams.get('from') ?? undefined);
    if (!from.ok) return refuse(400, from.error);
    const identity = { connectionId, tokenName, address: clientAddress(req, this.deps.trustProxy) };
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.closing) {
        ws.close(1001, 'Server shutting down');
        return;
      }
      const client = new WsClient(ws, this.deps, identity, route.queue, from.value, (gone) => this.clients.delete(gone));
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

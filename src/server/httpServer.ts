import { createServer, type RequestListener, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * A client must send its whole header block within this time: a slow-loris
 * trickling one byte at a time holds a socket no longer (node's default is 60 s).
 */
export const HEADERS_TIMEOUT_MS = 10_000;
/** The whole request (headers and body, not the answer: long polls are not cut) within this time. */
export const REQUEST_TIMEOUT_MS = 60_000;
/** How often node checks those two deadlines (its default, 30 s, would let a cut come that much late). */
const CHECK_INTERVAL_MS = 1_000;

/**
 * The HTTP server, with deadlines for slow clients and answers in the
 * contract's error format for requests node refuses before the app sees them
 * (malformed framing 400, headers too large 431, too slow 408): node's own
 * answers have no body at all.
 */
/**
 * A connection that sends not one byte for `silentConnectionTimeoutMs` is closed: node's header deadline starts
 * at the first byte, so a silent socket would be held, with its descriptor and buffers, until the client goes away.
 */
export function createHttpServer(app: RequestListener, silentConnectionTimeoutMs: number): Server {
  const server = createServer(
    { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: CHECK_INTERVAL_MS },
    app,
  );
  server.on('clientError', answerClientError);
  server.on('connection', (socket) => socket.setTimeout(silentConnectionTimeoutMs));
  // With a listener here node no longer destroys a timed-out socket itself: do what it did (a silent socket, an
  // idle keep-alive one), but leave a socket alone while an answer is in progress (a long poll, an event stream).
  server.on('timeout', (socket: Socket & { _httpMessage?: unknown }) => {
    if (socket._httpMessage) socket.setTimeout(0);
    else socket.destroy();
  });
  return server;
}

const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request headers too large'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Chunk extensions too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request timeout'],
};

function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // As node does: answer only if nothing of a response is on this socket yet, else the peer would read garbage.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code !== 'ECONNRESET' && socket.writable && !inFlight?.headersSent) {
    const [status, error] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'Bad request'];
    const body = JSON.stringify({ ok: false, error });
    socket.write(
      `HTTP/1.1 ${status} ${error}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

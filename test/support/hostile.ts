/**
 * Shared pieces of the hostile-input suites (test/hostile): a fixed fuzz seed
 * that failures print, a request that never hangs on an event stream, the
 * check every answer must pass (no 5xx; a 4xx is `{"ok":false,"error":string}`),
 * the server's RSS from /proc, and raw TCP exchanges for what fetch cannot send.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';

/** The seed of every fuzz run: fixed so a failure reproduces; override with FUZZ_SEED=<n>. */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 0x1ed9e4);

/** Requests in flight at once within a fuzz batch. */
export const CONCURRENCY = 32;

/**
 * fc.assert with the fixed seed; a failure names the property, the seed and
 * the path, so `FUZZ_SEED=<seed>` (and fast-check's `path`) replays it.
 * No shrinking: each run is a batch against a live server, shrinking one
 * takes minutes, and the failure message already names the bad request.
 */
export async function fuzz<Ts extends [unknown, ...unknown[]]>(
  name: string,
  property: fc.IAsyncPropertyWithHooks<Ts>,
  numRuns: number,
): Promise<void> {
  try {
    await fc.assert(property, { seed: FUZZ_SEED, numRuns, endOnFailure: true });
  } catch (err) {
    const message = (err as Error).message;
    const path = /path: "([^"]*)"/.exec(message)?.[1] ?? '?';
    console.error(`[fuzz] "${name}" failed: reproduce with FUZZ_SEED=${FUZZ_SEED} (fast-check path "${path}")`);
    throw err;
  }
}

export interface Call {
  method: string;
  /** Path and query, sent as they are (the URL parser still normalizes dot segments and encodes spaces). */
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

export interface Answer {
  status: number;
  contentType: string;
  text: string;
  /** A long-poll still parked when the client gave up (not an error). */
  parked?: boolean;
}

/**
 * One request; an event stream is closed as soon as its head arrives, and a
 * pull still parked after `parkMs` is abandoned (`parked`).
 */
export async function call(baseUrl: string, request: Call, parkMs = 1500): Promise<Answer> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), parkMs);
  try {
    const response = await fetch(baseUrl + request.path, {
      method: request.method,
      headers: request.headers,
      // A string body would go out as text/plain: as bytes it goes without a content type unless one is given.
      body: request.body === undefined ? undefined : Buffer.from(request.body),
      signal: controller.signal,
    });
    const contentType = response.headers.get('content-type') ?? '';
    if (contentType.startsWith('text/event-stream')) {
      controller.abort();
      return { status: response.status, contentType, text: '' };
    }
    return { status: response.status, contentType, text: await response.text() };
  } catch (err) {
    if (controller.signal.aborted) return { status: 0, contentType: '', text: '', parked: true };
    throw new Error(`${request.method} ${request.path} failed: ${String((err as Error).cause ?? err)}`);
  } finally {
    clearTimeout(timer);
  }
}

/** Null when the answer is acceptable; otherwise what is wrong with it. */
export function faultOf(method: string, answer: Answer): string | null {
  if (answer.parked) return null;
  if (answer.status >= 500) return `answered ${answer.status}: ${answer.text.slice(0, 300)}`;
  if (answer.status < 400 || method === 'HEAD') return null;
  return errorShapeFault(answer.status, answer.contentType, answer.text);
}

/** A 4xx must be JSON `{"ok":false,"error":string}`. */
export function errorShapeFault(status: number, contentType: string, text: string): string | null {
  if (!/^application\/json\b/i.test(contentType)) return `${status} with content-type "${contentType}": ${text.slice(0, 200)}`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `${status} with a body that is not JSON: ${text.slice(0, 200)}`;
  }
  const shaped = typeof body === 'object' && body !== null && (body as { ok?: unknown }).ok === false && typeof (body as { error?: unknown }).error === 'string';
  return shaped ? null : `${status} with a body not shaped {ok:false,error:string}: ${text.slice(0, 200)}`;
}

/** Resident set size of a process in MB (VmRSS of /proc/<pid>/status). */
export function rssMb(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Math.round(Number(match[1]) / 1024);
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** A percent-encoding of any string, lone surrogates included (they become U+FFFD first). */
export function encodeSegment(value: string): string {
  return encodeURIComponent(value.replace(LONE_SURROGATE, '\uFFFD'));
}

export interface RawResponse {
  /** The status of the first response, or 0 if none came. */
  status: number;
  head: string;
  body: string;
  /** Everything received, as latin1. */
  raw: string;
  /** The server closed the connection (FIN or reset) before `waitMs` ran out. */
  closedByServer: boolean;
}

/**
 * Writes `chunks` on a fresh TCP connection, then reads until the server
 * closes, `waitMs` passes or (`firstResponse`) one whole response is in. Bytes a fetch would
 * refuse to send (bad framing, invalid headers) go through here.
 */
export function rawExchange(
  port: number,
  chunks: ReadonlyArray<string | Uint8Array>,
  opts: { waitMs?: number; endAfterWrite?: boolean; firstResponse?: boolean } = {},
): Promise<RawResponse> {
  const waitMs = opts.waitMs ?? 3000;
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let closedByServer = false;
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parseRaw(Buffer.concat(received).toString('latin1'), closedByServer));
    };
    socket.on('data', (data) => {
      received.push(data);
      if (opts.firstResponse && isComplete(Buffer.concat(received).toString('latin1'))) finish();
    });
    socket.on('error', () => {
      closedByServer = true;
      finish();
    });
    socket.on('close', () => {
      closedByServer = true;
      finish();
    });
    socket.once('connect', () => {
      try {
        for (const chunk of chunks) {
          if (socket.destroyed) break;
          socket.write(chunk);
        }
        if (opts.endAfterWrite && !socket.destroyed) socket.end();
      } catch (err) {
        reject(err);
      }
      if (!finished) timer = setTimeout(finish, waitMs);
    });
  });
}

/** A whole response is in: a 101 head, or a head and the Content-Length it announces. */
function isComplete(raw: string): boolean {
  const split = raw.indexOf('\r\n\r\n');
  if (split < 0) return false;
  if (/^HTTP\/1\.1 101/.test(raw)) return true;
  const length = /\r\ncontent-length: *(\d+)/i.exec(raw.slice(0, split));
  return length !== null && raw.length - split - 4 >= Number(length[1]);
}

/** Parses the first response in `raw` (status, head, body cut at Content-Length). */
export function parseRaw(raw: string, closedByServer = true): RawResponse {
  const match = /^HTTP\/1\.1 (\d{3})/.exec(raw);
  const split = raw.indexOf('\r\n\r\n');
  const head = split >= 0 ? raw.slice(0, split) : raw;
  let body = split >= 0 ? raw.slice(split + 4) : '';
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (length) body = body.slice(0, Number(length[1]));
  return { status: match ? Number(match[1]) : 0, head, body, raw, closedByServer };
}

/** The content type of a raw response head. */
export function contentTypeOf(head: string): string {
  return /\r\ncontent-type: *([^\r\n]*)/i.exec(head)?.[1] ?? '';
}

/** A one-line JSON request with `Connection: close`, for rawExchange. */
export function rawRequest(method: string, path: string, headers: Record<string, string | number> = {}, body = ''): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/**
 * Sends fuzz batches to one server and counts them: `sendAll` returns every
 * answer that breaks the rules (and a dead server), for `assert.deepEqual(faults, [])`.
 */
export class FuzzClient {
  sent = 0;

  constructor(
    private readonly server: { url: string; alive: boolean; output(n?: number): string },
  ) {}

  async sendAll(batch: readonly Call[]): Promise<string[]> {
    const faults: string[] = [];
    await Promise.all(
      batch.map(async (request) => {
        let answer: Answer;
        try {
          answer = await call(this.server.url, request);
        } catch (err) {
          faults.push(`${request.method} ${request.path}: ${(err as Error).message}`);
          return;
        }
        this.sent += 1;
        const fault = faultOf(request.method, answer);
        if (fault) faults.push(`${request.method} ${request.path} ${JSON.stringify(request.headers ?? {})} ${describeBody(request.body)} → ${fault}`);
      }),
    );
    if (!this.server.alive) faults.push(`server died\n${this.server.output(4000)}`);
    return faults;
  }

  /** One request, checked; its answer for what comes next. */
  async send(request: Call, faults: string[]): Promise<Answer> {
    const answer = await call(this.server.url, request);
    this.sent += 1;
    const fault = faultOf(request.method, answer);
    if (fault) faults.push(`${request.method} ${request.path} ${describeBody(request.body)} → ${fault}`);
    return answer;
  }
}

export function describeBody(body: string | Uint8Array | undefined): string {
  if (body === undefined) return '(no body)';
  if (typeof body === 'string') return JSON.stringify(body.length > 300 ? `${body.slice(0, 300)}…` : body);
  return `bytes ${Buffer.from(body).toString('hex').slice(0, 200)}`;
}

/**
 * One HTTP request for the torture and soak clients: the status and parsed
 * body, or a TransportError when no answer came (connection refused or reset
 * by a kill): then the request's outcome is unknown to the client.
 *
 * node:http with a keep-alive agent rather than fetch: a load generator that
 * measures latency must stay light, and fetch's web streams allocate several
 * times more per request (its GC pauses showed up as the soak's p99).
 */
import { Agent, request } from 'node:http';

export class TransportError extends Error {}

export interface Answer {
  status: number;
  json: any;
  /** Client time the whole answer had arrived. */
  at: number;
}

// Idle sockets are closed well before the server's 5 s keep-alive timeout, so a request never goes out on one the server is closing.
const agent = new Agent({ keepAlive: true, timeout: 2_000 });

export function httpCall(baseUrl: string, method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const fail = (err: unknown) => reject(new TransportError(`${method} ${path}: ${String((err as Error)?.message ?? err)}`));
    const req = request(
      `${baseUrl}${path}`,
      {
        method,
        agent,
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', fail);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: any;
          try {
            json = text === '' ? undefined : JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json, at: Date.now() });
        });
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', fail);
    req.end(payload);
  });
}

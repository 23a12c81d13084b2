/**
 * A WebSocket test client on `ws` 8: sends commands with generated reqIds and
 * matches answers by reqId, keeps the broadcast events apart, and reports a
 * refused upgrade (status and body) instead of throwing an opaque error.
 */
import WebSocket from 'ws';

export interface Refused {
  status: number;
  body: string;
  json: any;
  headers: Record<string, string | string[] | undefined>;
}

export class WsTestClient {
  /** Every message received, parsed. */
  readonly received: any[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly pending = new Map<string, (answer: any) => void>();
  private waiters: Array<() => void> = [];
  private nextReqId = 0;
  /** The headers of the server's 101 answer. */
  upgradeHeaders: Record<string, string | string[] | undefined> = {};

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString());
      this.received.push(message);
      if (message && message.reqId !== undefined) {
        const resolve = this.pending.get(String(message.reqId));
        if (resolve) {
          this.pending.delete(String(message.reqId));
          resolve(message);
        }
      }
      this.wake();
    });
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('error', () => {});
  }

  /** Connects to `path` on the server's port; rejects with the status and body of a refused upgrade. */
  static connect(port: number, path: string, headers: Record<string, string> = {}): Promise<WsTestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers });
      let upgradeHeaders: WsTestClient['upgradeHeaders'] = {};
      ws.once('upgrade', (res) => (upgradeHeaders = res.headers));
      ws.once('open', () => {
        const client = new WsTestClient(ws);
        client.upgradeHeaders = upgradeHeaders;
        resolve(client);
      });
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          let json: any;
          try {
            json = JSON.parse(body);
          } catch {
            json = undefined;
          }
          const refused: Refused = { status: res.statusCode ?? 0, body, json, headers: res.headers };
          reject(Object.assign(new Error(`upgrade refused: ${res.statusCode} ${body}`), { refused }));
        });
      });
      ws.once('error', reject);
    });
  }

  /** Connects expecting a refusal; returns its status and body. */
  static async refused(port: number, path: string, headers: Record<string, string> = {}): Promise<Refused> {
    try {
      const client = await WsTestClient.connect(port, path, headers);
      client.close();
    } catch (err) {
      const refused = (err as { refused?: Refused }).refused;
      if (refused) return refused;
      throw err;
    }
    throw new Error(`upgrade to ${path} was accepted`);
  }

  /** Sends a command with a fresh reqId (unless it has one) and resolves with its answer. */
  request(command: Record<string, unknown>, timeoutMs = 10_000): Promise<any> {
    const reqId = command.reqId ?? `r${++this.nextReqId}`;
    const answer = new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${JSON.stringify(command)} within ${timeoutMs} ms`)), timeoutMs);
      this.pending.set(String(reqId), (message) => {
        clearTimeout(timer);
        resolve(message);
      });
    });
    this.ws.send(JSON.stringify({ ...command, reqId }));
    return answer;
  }

  /** Sends raw text (malformed JSON tests). */
  sendRaw(text: string): void {
    this.ws.send(text);
  }

  /** Broadcast job events received so far. */
  get events(): any[] {
    return this.received.filter((m) => m && typeof m === 'object' && 'eventType' in m);
  }

  /** Waits until `condition()` holds. */
  async until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`WS: ${what} not reached within ${timeoutMs} ms; last: ${JSON.stringify(this.received.slice(-5)).slice(0, 1000)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the next message that is not an event and not a matched answer (e.g. an answer without reqId). */
  async nextMessage(predicate: (m: any) => boolean, what: string, timeoutMs = 5000): Promise<any> {
    await this.until(() => this.received.some(predicate), what, timeoutMs);
    return this.received.find(predicate);
  }

  /** Stops reading from the socket: the server's sends pile up (slow consumer). */
  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  close(): void {
    this.ws.close();
  }

  terminate(): void {
    this.ws.terminate();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

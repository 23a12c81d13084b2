/**
 * A WebSocket command client for the torture and soak runs: one request →
 * one answer matched by reqId. When the socket closes (the server was killed)
 * every pending command rejects: its outcome is unknown to the client.
 */
import WebSocket from 'ws';

export class WsClosedError extends Error {}

export class WsRpc {
  private readonly pending = new Map<string, { resolve: (answer: any) => void; reject: (err: Error) => void }>();
  private nextReqId = 0;
  private isClosed = false;
  /** Event broadcasts received (the connection subscribes to its path's events). */
  events = 0;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      let message: any;
      try {
        message = JSON.parse(data.toString());
      } catch {
        return;
      }
      if (message && typeof message === 'object' && message.reqId !== undefined) {
        const waiter = this.pending.get(String(message.reqId));
        if (waiter) {
          this.pending.delete(String(message.reqId));
          waiter.resolve(message);
        }
      } else if (message && typeof message === 'object' && 'eventType' in message) {
        this.events++;
      }
    });
    ws.on('close', () => this.failAll());
    ws.on('error', () => this.failAll());
  }

  static connect(port: number, path = '/ws', timeoutMs = 5000): Promise<WsRpc> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new WsClosedError('connect timed out'));
      }, timeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(new WsRpc(ws));
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(new WsClosedError(`connect failed: ${err.message}`));
      });
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  request(command: Record<string, unknown>, timeoutMs = 30_000): Promise<any> {
    if (this.isClosed) return Promise.reject(new WsClosedError('socket closed'));
    const reqId = `r${++this.nextReqId}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(reqId);
        reject(new Error(`no answer to ${String(command.cmd)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(reqId, {
        resolve: (answer) => {
          clearTimeout(timer);
          resolve(answer);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      this.ws.send(JSON.stringify({ ...command, reqId }));
    });
  }

  /** A clean close: the server releases the leases pulled through this socket. */
  close(): void {
    this.ws.close();
    this.failAll();
  }

  terminate(): void {
    this.ws.terminate();
    this.failAll();
  }

  private failAll(): void {
    this.isClosed = true;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const waiter of pending) waiter.reject(new WsClosedError('socket closed'));
  }
}

/**
 * The job commands a torture client sends, over HTTP or over one WebSocket,
 * with one answer shape: `ok`, the JSON, a status (WebSocket answers count
 * as 200 or 400), the client time the answer arrived. A command whose answer
 * never came (the server was killed) throws: its outcome is unknown.
 */
import { httpCall } from './httpCall.ts';
import type { LeaseRec, Transport } from './oracle.ts';
import { WsRpc } from './wsRpc.ts';

export interface Reply {
  ok: boolean;
  status: number;
  json: any;
  at: number;
}

export interface Channel {
  readonly via: Transport;
  push(queue: string, body: Record<string, unknown>): Promise<Reply>;
  pull(queue: string, timeoutMs: number): Promise<Reply>;
  ack(id: string, token: string): Promise<Reply>;
  fail(id: string, token: string, error: string): Promise<Reply>;
  cancel(id: string): Promise<Reply>;
}

export class HttpChannel implements Channel {
  readonly via = 'http' as const;

  constructor(private readonly baseUrl: string) {}

  private async call(method: string, path: string, body?: unknown): Promise<Reply> {
    const answer = await httpCall(this.baseUrl, method, path, body);
    return { ok: answer.status === 200 && answer.json?.ok === true, status: answer.status, json: answer.json, at: answer.at };
  }

  push(queue: string, body: Record<string, unknown>): Promise<Reply> {
    return this.call('POST', `/queues/${encodeURIComponent(queue)}/jobs`, body);
  }

  pull(queue: string, timeoutMs: number): Promise<Reply> {
    return this.call('GET', `/queues/${encodeURIComponent(queue)}/jobs${timeoutMs > 0 ? `?timeout=${timeoutMs}` : ''}`);
  }

  ack(id: string, token: string): Promise<Reply> {
    return this.call('POST', `/jobs/${encodeURIComponent(id)}/ack`, { token, result: { by: 'torture' } });
  }

  fail(id: string, token: string, error: string): Promise<Reply> {
    return this.call('POST', `/jobs/${encodeURIComponent(id)}/fail`, { token, error });
  }

  cancel(id: string): Promise<Reply> {
    return this.call('DELETE', `/jobs/${encodeURIComponent(id)}`);
  }
}

export class WsChannel implements Channel {
  readonly via = 'ws' as const;
  /** Every lease pulled through this socket: the server releases those still held when the client closes it. */
  readonly leases: LeaseRec[] = [];

  constructor(readonly rpc: WsRpc) {}

  static async open(port: number): Promise<WsChannel> {
    return new WsChannel(await WsRpc.connect(port, '/ws'));
  }

  private async call(command: Record<string, unknown>): Promise<Reply> {
    const answer = await this.rpc.request(command);
    const ok = answer?.ok === true;
    return { ok, status: ok ? 200 : 400, json: answer, at: Date.now() };
  }

  push(queue: string, body: Record<string, unknown>): Promise<Reply> {
    return this.call({ ...body, cmd: 'PUSH', queue });
  }

  pull(queue: string, timeoutMs: number): Promise<Reply> {
    return this.call({ cmd: 'PULL', queue, ...(timeoutMs > 0 ? { timeout: timeoutMs } : {}) });
  }

  ack(id: string, token: string): Promise<Reply> {
    return this.call({ cmd: 'ACK', id, token, result: { by: 'torture' } });
  }

  fail(id: string, token: string, error: string): Promise<Reply> {
    return this.call({ cmd: 'FAIL', id, token, error });
  }

  cancel(id: string): Promise<Reply> {
    return this.call({ cmd: 'CANCEL', id });
  }
}

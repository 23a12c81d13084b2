/**
 * A minimal Server-Sent Events client over node:http for the tests: parses
 * frames as the EventSource spec does (`data:`, `id:`, `event:`, comments,
 * a blank line dispatches; an unfinished frame at the end is dropped), and
 * can stop reading to play a slow consumer.
 */
import { type IncomingMessage, request } from 'node:http';

export interface SseMessage {
  /** The `id:` of the frame, if it had one. */
  id: string | undefined;
  event: string | undefined;
  data: string;
  /** `data` parsed as JSON (undefined when it is not JSON). */
  json: any;
}

export class SseClient {
  readonly messages: SseMessage[] = [];
  comments = 0;
  /** Bytes received so far. */
  bytes = 0;
  /** Everything received, raw. */
  text = '';
  /** Resolves when the server ends or cuts the stream. */
  readonly ended: Promise<void>;
  private endedFlag = false;
  private buffer = '';
  private frame: { id?: string; event?: string; data: string[] } = { data: [] };
  private waiters: Array<() => void> = [];

  private constructor(
    readonly status: number,
    readonly headers: IncomingMessage['headers'],
    private readonly res: IncomingMessage,
  ) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      this.bytes += Buffer.byteLength(chunk);
      this.text += chunk;
      this.parse(chunk);
    });
    this.ended = new Promise((resolve) => {
      const done = () => {
        this.endedFlag = true;
        this.wake();
        resolve();
      };
      res.once('end', done);
      res.once('close', done);
      res.once('error', done);
    });
  }

  /** GET `path` on `baseUrl`; resolves once the response head arrived (any status: check `status`). */
  static open(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = request(new URL(path, baseUrl), { headers: { accept: 'text/event-stream', ...headers } }, (res) =>
        resolve(new SseClient(res.statusCode ?? 0, res.headers, res)),
      );
      req.on('error', reject);
      req.end();
    });
  }

  get isEnded(): boolean {
    return this.endedFlag;
  }

  /** The id of the last complete frame that had one (what an EventSource sends as Last-Event-ID). */
  get lastId(): string | undefined {
    for (let i = this.messages.length - 1; i >= 0; i--) if (this.messages[i]!.id !== undefined) return this.messages[i]!.id;
    return undefined;
  }

  /** The job events received (every message but the connect one). */
  get events(): SseMessage[] {
    return this.messages.filter((m) => m.json && typeof m.json === 'object' && 'eventType' in m.json);
  }

  /** The whole body, once the server ended it (for non-200 answers). */
  async body(): Promise<string> {
    await this.ended;
    return this.text;
  }

  /** Waits until `condition()` holds; fails after `timeoutMs` with what was received. */
  async until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`SSE: ${what} not reached within ${timeoutMs} ms; got ${this.messages.length} messages: ${this.describe()}`);
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

  /** Waits for `count` job events in total. */
  untilEvents(count: number, timeoutMs?: number): Promise<void> {
    return this.until(() => this.events.length >= count, `${count} events`, timeoutMs);
  }

  /** Stops reading: the server's writes pile up (slow consumer). */
  pause(): void {
    this.res.pause();
  }

  resume(): void {
    this.res.resume();
  }

  close(): void {
    this.res.destroy();
  }

  describe(last = 10): string {
    const clip = (text: string) => (text.length > 200 ? `${text.slice(0, 200)}…` : text);
    return JSON.stringify(this.messages.slice(-last).map((m) => clip(m.id ? `${m.id} ${m.data}` : m.data)));
  }

  private parse(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.search(/\r\n|\n|\r/)) >= 0) {
      const line = this.buffer.slice(0, newline);
      const width = this.buffer.startsWith('\r\n', newline) ? 2 : 1;
      this.buffer = this.buffer.slice(newline + width);
      this.line(line);
    }
    this.wake();
  }

  private line(line: string): void {
    if (line === '') {
      if (this.frame.data.length > 0) {
        const data = this.frame.data.join('\n');
        let json: any;
        try {
          json = JSON.parse(data);
        } catch {
          json = undefined;
        }
        this.messages.push({ id: this.frame.id, event: this.frame.event, data, json });
      }
      this.frame = { data: [] };
      return;
    }
    if (line.startsWith(':')) {
      this.comments++;
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.frame.data.push(value);
    else if (field === 'id') this.frame.id = value;
    else if (field === 'event') this.frame.event = value;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

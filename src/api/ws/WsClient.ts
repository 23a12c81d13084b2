import type { Logger } from 'pino';
import { type RawData, WebSocket } from 'ws';
import { decideRelease, type Lease } from '../../domain/decideRelease.ts';
import type { RequestActor } from '../../domain/entries.ts';
import { isLogUnavailable } from '../../log/logUnavailable.ts';
import type { EventCursor } from '../../projections/eventCursor.ts';
import type { EventFeed, FeedEvent, FeedSink } from '../../projections/EventFeed.ts';
import { nestedDeeperThan, tooDeepMessage } from '../jsonDepth.ts';
import { acceptedRequestId } from '../requestId.ts';
import { type Answer, type CommandClient, type CommandDeps, COMMANDS, type Message, OPEN_COMMANDS } from './wsCommands.ts';

export interface WsClientDeps extends CommandDeps {
  feed: EventFeed;
  logger: Logger;
  /** Unsent bytes after which a slow client is disconnected (STREAM_BUFFER_BYTES). */
  maxBuffered: number;
  /** MAX_JSON_DEPTH: deepest nesting of a command. */
  maxJsonDepth: number;
  /** WS_MAX_INFLIGHT: commands of this connection not answered yet; beyond, a command is refused. */
  maxInflight: number;
}

/** Who is on the other end, as known at the upgrade. */
export interface ConnectionIdentity {
  /** The upgrade's X-Request-Id (the client's, or a new one): the prefix of its commands' request ids. */
  connectionId: string;
  /** The name of the token the upgrade presented; null without AUTH_TOKENS. `Auth` changes it. */
  tokenName: string | null;
  address: string;
}

/** A message's bytes (ws hands over fragments as an array, binary frames as a buffer). */
function bytesOf(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

const FRAME = Symbol('ws frame');

/** The event as a text frame's bytes, encoded once however many sockets send it. */
function frameOf(item: FeedEvent): Buffer {
  return item.render(FRAME, (e) => Buffer.from(JSON.stringify(e.event)));
}

/** Below this many unsent bytes a replay goes on sending. */
const REPLAY_HIGH_WATER = 64 * 1024;
/** A socket closed for being slow that has not finished closing by then is destroyed. */
const CUT_GRACE_MS = 5000;
/** Close code for a client that cannot keep up: "try again later" (it reconnects). */
export const CLOSE_TOO_SLOW = 1013;
export const CLOSE_GOING_AWAY = 1001;
/** Owned leases beyond which those no longer held are pruned (jobs acked or re-leased elsewhere). */
const PRUNE_LEASES_AT = 10_000;

/**
 * One WebSocket connection: job events out, commands in. Commands may be
 * pipelined; each answer carries its command's `reqId` and is sent when the
 * command is done (durable commands after their fsync), so answers may come
 * in another order than their commands. The connection owns the leases pulled
 * through it: when it closes, the jobs it still holds go back to waiting.
 */
export class WsClient implements FeedSink, CommandClient {
  private authenticated = true;
  private closed = false;
  private cutting = false;
  /** jobId → token of the leases pulled here. */
  private readonly leases = new Map<string, string>();
  private readonly closers = new Set<() => void>();
  private readonly unsubscribe: () => void;
  /** Commands running (parked long-polls and fsync waits included), bounded by `maxInflight`. */
  private inflight = 0;
  /** Commands received so far: the ordinal in each command's request id. */
  private received = 0;
  private tokenName: string | null;

  constructor(
    private readonly ws: WebSocket,
    private readonly deps: WsClientDeps,
    private readonly identity: ConnectionIdentity,
    queue: string | null,
    from: EventCursor | null,
    private readonly onGone: (client: WsClient) => void,
  ) {
    this.tokenName = identity.tokenName;
    ws.on('message', (data: RawData) => this.receive(data));
    ws.on('close', () => this.gone());
    ws.on('error', (err: Error) => deps.logger.debug({ err }, 'websocket error'));
    this.unsubscribe = deps.feed.subscribe(from, queue, this);
  }

  // ---- commands ----

  private receive(data: RawData): void {
    const bytes = bytesOf(data);
    if (nestedDeeperThan(bytes, this.deps.maxJsonDepth)) return this.send({ ok: false, error: tooDeepMessage(this.deps.maxJsonDepth) });
    let message: unknown;
    try {
      message = JSON.parse(bytes.toString());
    } catch {
      return this.send({ ok: false, error: 'Invalid JSON' });
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      return this.send({ ok: false, error: 'A command must be a JSON object' });
    }
    const reqId = (message as Message).reqId;
    const ordinal = ++this.received;
    // A bound on what one socket can make the server hold (each parked PULL is a waiter and a timer).
    if (this.inflight >= this.deps.maxInflight) {
      return this.answer({ ok: false, error: `Too many commands in flight on this connection (max ${this.deps.maxInflight})` }, reqId);
    }
    // Never let a failing command or answer reject unhandled (that would stop the process).
    this.execute(message as Message, reqId, ordinal).catch((err: unknown) => this.deps.logger.error({ err }, 'websocket answer failed'));
  }

  private async execute(message: Message, reqId: unknown, ordinal: number): Promise<void> {
    this.inflight++;
    let answer: Answer;
    try {
      answer = await this.run(message, ordinal);
    } catch (err) {
      // Disk full or log failed: the same reason the HTTP routes give with their 503.
      if (isLogUnavailable(err)) {
        answer = { ok: false, error: err.message };
      } else {
        this.deps.logger.error({ err }, 'websocket command failed');
        answer = { ok: false, error: 'Internal server error' };
      }
    } finally {
      this.inflight--;
    }
    this.answer(answer, reqId);
  }

  private async run(message: Message, ordinal: number): Promise<Answer> {
    if (typeof message.cmd !== 'string' || message.cmd === '') return { ok: false, error: 'cmd is required' };
    const name = message.cmd.toUpperCase();
    const command = COMMANDS.get(name);
    if (!command) return { ok: false, error: `Unknown command: ${message.cmd}` };
    if (!this.authenticated && !OPEN_COMMANDS.has(name)) return { ok: false, error: 'Unauthorized' };
    return command(message, this, this.deps, this.actor(message.reqId, ordinal));
  }

  private answer(answer: Answer, reqId: unknown): void {
    this.send(reqId === undefined ? answer : { ...answer, reqId });
  }

  private send(body: object): void {
    if (this.closed || this.cutting || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify(body));
    this.checkBacklog();
  }

  // ---- CommandClient ----

  own(lease: Lease): void {
    if (this.closed) {
      // The pull finished after the connection closed: nobody can work on it.
      this.release([lease]);
      return;
    }
    this.leases.set(lease.jobId, lease.token);
    if (this.leases.size > PRUNE_LEASES_AT) this.pruneLeases();
  }

  disown(jobId: string): void {
    this.leases.delete(jobId);
  }

  onClose(cancel: () => void): () => void {
    if (this.closed) {
      cancel();
      return () => {};
    }
    this.closers.add(cancel);
    return () => this.closers.delete(cancel);
  }

  setAuthenticated(authenticated: boolean, tokenName: string | null): void {
    this.authenticated = authenticated;
    this.tokenName = tokenName;
  }

  /**
   * The actor of the connection's `ordinal`-th command: `<connection id>/<ordinal>`,
   * then `/<reqId>` when the command has an acceptable one. The ordinal keeps
   * ids unique on the connection whatever reqIds the client reuses.
   */
  private actor(reqId: unknown, ordinal: number): RequestActor {
    const clientId = acceptedRequestId(reqId);
    const base = `${this.identity.connectionId}/${ordinal}`;
    return { t: this.tokenName, a: this.identity.address, r: clientId === null ? base : `${base}/${clientId}` };
  }

  // ---- FeedSink ----

  deliver(events: readonly FeedEvent[], catchingUp: boolean): void {
    // An unauthenticated connection (failed `Auth`) gets no events until it authenticates again.
    if (!this.authenticated) return;
    for (const event of events) {
      if (this.closed || this.cutting || this.ws.readyState !== WebSocket.OPEN) return;
      this.ws.send(frameOf(event), { binary: false });
    }
    // A replay waits for the client between chunks instead; live events cannot wait.
    if (!catchingUp) this.checkBacklog();
  }

  whenWritable(): Promise<void> {
    return new Promise((resolve) => {
      const poll = () => {
        if (this.closed || this.ws.bufferedAmount <= REPLAY_HIGH_WATER) resolve();
        else setTimeout(poll, 5);
      };
      poll();
    });
  }

  fail(reason: string): void {
    this.cut(reason);
  }

  // ---- lifecycle ----

  /** Server shutdown: the jobs held here go back to waiting now, while the log is open. */
  shutdown(): void {
    this.releaseOwned();
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(CLOSE_GOING_AWAY, 'Server shutting down');
  }

  terminate(): void {
    this.ws.terminate();
  }

  /** True when the socket had to be cut for having too much unsent. */
  private checkBacklog(): boolean {
    if (this.ws.bufferedAmount <= this.deps.maxBuffered) return false;
    this.cut(`client too slow: more than ${this.deps.maxBuffered} bytes unsent`);
    return true;
  }

  private cut(reason: string): void {
    if (this.closed || this.cutting) return;
    this.cutting = true;
    this.deps.logger.info({ reason }, 'websocket closed: client too slow');
    // The close frame queues behind what is unsent; a client that reads nothing is dropped after a grace period.
    this.ws.close(CLOSE_TOO_SLOW, 'Client too slow: reconnect');
    setTimeout(() => this.ws.terminate(), CUT_GRACE_MS).unref();
  }

  private gone(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    for (const cancel of this.closers) cancel();
    this.closers.clear();
    this.releaseOwned();
    this.onGone(this);
  }

  private releaseOwned(): void {
    if (this.leases.size === 0) return;
    const leases = [...this.leases].map(([jobId, token]) => ({ jobId, token }));
    this.leases.clear();
    this.release(leases);
  }

  private release(leases: Lease[]): void {
    try {
      const outcome = this.deps.ledger.run((view) => decideRelease(view, leases, this.deps.context()));
      if (outcome.ok && outcome.result.length > 0) this.deps.logger.debug({ jobs: outcome.result }, 'released the jobs of a closed websocket');
    } catch (err) {
      // Only after shutdown closed the log; restart recovers the leases, which then expire.
      this.deps.logger.warn({ err }, 'could not release the jobs of a closed websocket');
    }
  }

  private pruneLeases(): void {
    for (const [jobId, token] of this.leases) {
      const job = this.deps.ledger.state.job(jobId);
      if (!job || job.state !== 'active' || job.token !== token) this.leases.delete(jobId);
    }
  }
}

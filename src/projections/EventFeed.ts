import { decodeEntry } from '../domain/entryCodec.ts';
import type { Log } from '../log/Log.ts';
import type { EventBus } from './EventBus.ts';
import { type EventCursor, eventId } from './eventCursor.ts';
import { eventsOf, type JobEvent } from './jobEvents.ts';
import { ReplaySlots } from './ReplaySlots.ts';

/** One job event with its stream id (see eventCursor.ts). */
export class FeedEvent {
  private renderings: Map<symbol, unknown> | undefined;

  constructor(
    readonly event: JobEvent,
    readonly position: number,
    readonly id: string,
  ) {}

  /** A transport's rendering of the event, made once however many clients receive it. */
  render<T>(key: symbol, render: (event: FeedEvent) => T): T {
    this.renderings ??= new Map();
    if (this.renderings.has(key)) return this.renderings.get(key) as T;
    const rendered = render(this);
    this.renderings.set(key, rendered);
    return rendered;
  }
}

/** Where a subscriber's events go (an SSE stream, a WebSocket). */
export interface FeedSink {
  /**
   * Events in stream order, synchronously. `catchingUp` marks the replay and
   * the backlog after it, which pace themselves by `whenWritable`: only live
   * deliveries should count against a slow-client limit.
   */
  deliver(events: readonly FeedEvent[], catchingUp: boolean): void;
  /** Resolves when the client can take more: a replay paces itself by it, so it never floods memory. */
  whenWritable(): Promise<void>;
  /** The feed gave up on this subscriber (the replay failed, or it fell too far behind); it is already unsubscribed. */
  fail(reason: string): void;
}

export interface EventFeedOptions {
  /** Events replayed per delivery before waiting for the client. */
  replayChunk?: number;
  /** Live events a replaying subscriber may have waiting before it is given up on (it reconnects with its last id). */
  maxBacklog?: number;
  /** Replays reading the log at once (MAX_REPLAYS); later ones wait their turn, their live events held in their backlog. */
  maxReplays?: number;
  /** A replaying client that takes nothing for this long is given up on, so a client that never reads cannot hold a replay slot. */
  replayStallMs?: number;
}

interface Subscriber {
  queue: string | null;
  sink: FeedSink;
  /** Log position at subscription: the replay covers what is at or before it, the live stream what comes after. */
  after: number;
  replaying: boolean;
  /** Live events that arrived during the replay. */
  backlog: FeedEvent[];
  closed: boolean;
}

/**
 * The job-event stream as clients see it: only events whose entries are on
 * disk (so an id a client saw can never be undone by a crash and reused),
 * with replay from any log position and a gap-free, duplicate-free handover
 * from replay to live.
 *
 * The handover: a subscriber notes the log's last position L when it
 * subscribes. Everything at or before L has already been published, so it is
 * replayed from the log; everything after L reaches the subscriber live,
 * buffered while the replay runs and delivered right after it.
 */
export class EventFeed {
  private readonly subscribers = new Set<Subscriber>();
  /** Published events waiting for their entries to be durable. */
  private pending: FeedEvent[] = [];
  private syncing = false;
  private readonly replayChunk: number;
  private readonly maxBacklog: number;
  private readonly replaySlots: ReplaySlots;
  private readonly replayStallMs: number;

  constructor(
    bus: EventBus,
    private readonly log: Log,
    options: EventFeedOptions = {},
  ) {
    this.replayChunk = options.replayChunk ?? 512;
    this.maxBacklog = options.maxBacklog ?? 100_000;
    this.replaySlots = new ReplaySlots(options.maxReplays ?? 4);
    this.replayStallMs = options.replayStallMs ?? 30_000;
    bus.subscribe((event, position, index, count) => {
      // Nobody listening: nothing to hold (a later subscriber starts after the current last position).
      if (this.subscribers.size === 0) return;
      this.pending.push(new FeedEvent(event, position, eventId(position, index, count)));
      this.pump();
    });
  }

  get size(): number {
    return this.subscribers.size;
  }

  /** Replays reading the log now, and those waiting for a turn. */
  get replays(): { active: number; queued: number } {
    return { active: this.replaySlots.active, queued: this.replaySlots.queued };
  }

  /**
   * Events of `queue` (null = all queues) from now on; with `from`, first
   * every event after that cursor still in the log. Returns the unsubscribe.
   */
  subscribe(from: EventCursor | null, queue: string | null, sink: FeedSink): () => void {
    const subscriber: Subscriber = {
      queue,
      sink,
      after: this.log.lastPosition,
      replaying: from !== null,
      backlog: [],
      closed: false,
    };
    this.subscribers.add(subscriber);
    if (from !== null) {
      this.replay(subscriber, from).catch((err: unknown) => this.giveUp(subscriber, `replay failed: ${(err as Error).message}`));
    }
    return () => this.remove(subscriber);
  }

  private remove(subscriber: Subscriber): void {
    subscriber.closed = true;
    subscriber.backlog = [];
    this.subscribers.delete(subscriber);
  }

  private giveUp(subscriber: Subscriber, reason: string): void {
    if (subscriber.closed) return;
    this.remove(subscriber);
    try {
      subscriber.sink.fail(reason);
    } catch {
      // Already unsubscribed: a sink that cannot even end itself is left to its transport's close.
    }
  }

  /**
   * One sink's delivery: a throw ends that subscriber, never the delivery to
   * the others nor the process (this runs in promise callbacks, where a throw
   * would be an unhandled rejection).
   */
  private deliverTo(subscriber: Subscriber, events: readonly FeedEvent[], catchingUp: boolean): void {
    try {
      subscriber.sink.deliver(events, catchingUp);
    } catch (err) {
      this.giveUp(subscriber, `delivery failed: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  /** One sync at a time covering every pending event; the log's group commit batches the rest. */
  private pump(): void {
    if (this.syncing || this.pending.length === 0) return;
    this.syncing = true;
    const upTo = (this.pending[this.pending.length - 1] as FeedEvent).position;
    this.log.sync(upTo).then(
      () => {
        this.syncing = false;
        this.deliverDurable();
        this.pump();
      },
      () => {
        // The log failed: the server is stopping, and these events never became facts.
        this.syncing = false;
        this.pending = [];
      },
    );
  }

  private deliverDurable(): void {
    const durable = this.log.durablePosition;
    let count = 0;
    while (count < this.pending.length && (this.pending[count] as FeedEvent).position <= durable) count++;
    if (count === 0) return;
    const batch = count === this.pending.length ? this.pending : this.pending.slice(0, count);
    this.pending = count === this.pending.length ? [] : this.pending.slice(count);
    for (const subscriber of this.subscribers) this.offer(subscriber, batch);
  }

  private offer(subscriber: Subscriber, batch: readonly FeedEvent[]): void {
    const events: FeedEvent[] = [];
    for (const item of batch) {
      if (item.position > subscriber.after && (subscriber.queue === null || item.event.queue === subscriber.queue)) events.push(item);
    }
    if (events.length === 0) return;
    if (!subscriber.replaying) return this.deliverTo(subscriber, events, false);
    for (const item of events) subscriber.backlog.push(item);
    if (subscriber.backlog.length > this.maxBacklog) this.giveUp(subscriber, 'too far behind while replaying');
  }

  private async replay(subscriber: Subscriber, from: EventCursor): Promise<void> {
    const release = await this.replaySlots.acquire();
    try {
      if (!subscriber.closed) await this.replayHolding(subscriber, from);
    } finally {
      release();
    }
  }

  /** The replay proper, run while holding a replay slot. */
  private async replayHolding(subscriber: Subscriber, from: EventCursor): Promise<void> {
    const limit = subscriber.after;
    // Only facts on disk are streamed, replayed or live.
    await this.log.sync(limit);
    const start = from.index === null ? from.position + 1 : from.position;
    if (start <= limit) {
      let chunk: FeedEvent[] = [];
      for await (const record of this.log.read(Math.max(start, 1))) {
        if (subscriber.closed) return;
        if (record.position > limit) break;
        const events = eventsOf(decodeEntry(record.type, record.payload));
        for (let index = 0; index < events.length; index++) {
          const event = events[index] as JobEvent;
          if (record.position === from.position && from.index !== null && index <= from.index) continue;
          if (subscriber.queue !== null && event.queue !== subscriber.queue) continue;
          chunk.push(new FeedEvent(event, record.position, eventId(record.position, index, events.length)));
        }
        if (chunk.length >= this.replayChunk) {
          this.deliverTo(subscriber, chunk, true);
          chunk = [];
          if (!(await this.clientTakesMore(subscriber))) return;
        }
      }
      if (subscriber.closed) return;
      if (chunk.length > 0) this.deliverTo(subscriber, chunk, true);
    }
    // Live events that came meanwhile, paced the same way; new ones keep joining the backlog until it is empty.
    while (!subscriber.closed && subscriber.backlog.length > 0) {
      const chunk = subscriber.backlog.splice(0, this.replayChunk);
      this.deliverTo(subscriber, chunk, true);
      if (!(await this.clientTakesMore(subscriber))) return;
    }
    subscriber.replaying = false;
  }

  /** Waits until the client can take more; false (and given up) when it took nothing for `replayStallMs`. */
  private async clientTakesMore(subscriber: Subscriber): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<'stalled'>((resolve) => {
      timer = setTimeout(() => resolve('stalled'), this.replayStallMs);
    });
    const outcome = await Promise.race([subscriber.sink.whenWritable().then(() => 'writable' as const), stalled]);
    clearTimeout(timer);
    if (outcome === 'writable') return true;
    this.giveUp(subscriber, `replay stalled: the client took nothing for ${this.replayStallMs} ms`);
    return false;
  }
}

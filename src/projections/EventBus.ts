import type { Entry } from '../domain/entries.ts';
import { eventsOf, type JobEvent } from './jobEvents.ts';

/**
 * `index` is the event's place among the `count` events of its entry: an
 * entry can stand for several events, and stream cursors name each one.
 */
export type EventListener = (event: JobEvent, position: number, index: number, count: number) => void;

/** Told when a listener threw: it has been unsubscribed. */
export type ListenerErrorHandler = (err: unknown) => void;

/**
 * Fans the events of applied entries out to in-process subscribers (SSE,
 * WebSocket, metrics). Publishing happens inside a command, after its entry
 * was applied: a listener that throws must not abort that command nor starve
 * the other listeners, so it is dropped (its stream ends) and reported.
 */
export class EventBus {
  private readonly listeners = new Set<EventListener>();

  constructor(private readonly onListenerError: ListenerErrorHandler = () => {}) {}

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(entry: Entry, position: number): void {
    if (this.listeners.size === 0) return;
    const events = eventsOf(entry);
    for (let index = 0; index < events.length; index++) {
      for (const listener of this.listeners) {
        try {
          listener(events[index] as JobEvent, position, index, events.length);
        } catch (err) {
          this.listeners.delete(listener);
          this.report(err);
        }
      }
    }
  }

  private report(err: unknown): void {
    try {
      this.onListenerError(err);
    } catch {
      // The reporter itself failing must not undo the isolation.
    }
  }
}

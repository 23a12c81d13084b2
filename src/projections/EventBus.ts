import type { Entry } from '../domain/entries.ts';
import { eventsOf, type JobEvent } from './jobEvents.ts';

/**
 * `index` is the event's place among the `count` events of its entry: an
 * entry can stand for several events, and stream cursors name each one.
 */
export type EventListener = (event: JobEvent, position: number, index: number, count: number) => void;

/** Fans the events of applied entries out to in-process subscribers (SSE, WebSocket, metrics). */
export class EventBus {
  private readonly listeners = new Set<EventListener>();

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(entry: Entry, position: number): void {
    if (this.listeners.size === 0) return;
    const events = eventsOf(entry);
    for (let index = 0; index < events.length; index++) {
      for (const listener of this.listeners) listener(events[index], position, index, events.length);
    }
  }
}

import type { Entry } from '../domain/entries.ts';
import { eventsOf, type JobEvent } from './jobEvents.ts';

export type EventListener = (event: JobEvent, position: number) => void;

/** Fans the events of applied entries out to in-process subscribers (SSE, WebSocket, metrics). */
export class EventBus {
  private readonly listeners = new Set<EventListener>();

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(entry: Entry, position: number): void {
    if (this.listeners.size === 0) return;
    for (const event of eventsOf(entry)) {
      for (const listener of this.listeners) listener(event, position);
    }
  }
}

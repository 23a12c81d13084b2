import { createEventBuffer, type EventBuffer } from 'better-sse';
import type { FeedEvent } from '../../projections/EventFeed.ts';

/**
 * better-sse writes `data:{…}`; the contract shows `data: {…}`. The SSE spec
 * strips one space after the colon, so both read the same; we write the
 * contract's form. Line breaks are normalized as better-sse's own sanitizer
 * does (JSON never contains raw ones anyway).
 */
function sanitize(text: string): string {
  return ` ${text.replace(/\r\n|\r|\n/g, '\n').replace(/\n+$/, '')}`;
}

/** A buffer for unnamed `data:` messages (no `event:` line): every message arrives as the default "message" type. */
export function contractBuffer(): EventBuffer {
  return createEventBuffer({ sanitizer: sanitize });
}

/** The first frame of every stream: no id, so it never moves a client's Last-Event-ID. */
export function connectedFrame(clientId: string): EventBuffer {
  return contractBuffer().data({ connected: true, clientId }).dispatch();
}

const FRAME = Symbol('sse frame');

/** A job event's frame, `id: <cursor>` then `data: <event>`, rendered once however many streams carry it. */
export function eventFrame(item: FeedEvent): string {
  return item.render(FRAME, (e) => contractBuffer().id(e.id).data(e.event).dispatch().read());
}

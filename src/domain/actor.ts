import type { Entry, ServerActor, ServerReason } from './entries.ts';

/** An entry's actor as readers see it (the log's history, the changes feed). */
export type ActorView =
  | { kind: 'request'; token: string | null; address: string; requestId: string }
  | { kind: 'server'; reason: ServerReason }
  | null;

/** Who caused `entry`; null for entries written before actors were recorded. */
export function actorOf(entry: Pick<Entry, 'by'>): ActorView {
  const actor = entry.by ?? null;
  if (actor === null) return null;
  if ('s' in actor) return { kind: 'server', reason: actor.s };
  return { kind: 'request', token: actor.t, address: actor.a, requestId: actor.r };
}

/** One shared object per reason: stamping the server's entries allocates nothing. */
const SERVER: { readonly [R in ServerReason]: ServerActor } = {
  'lease expired': { s: 'lease expired' },
  timeout: { s: 'timeout' },
  ttl: { s: 'ttl' },
  'delay due': { s: 'delay due' },
  repeat: { s: 'repeat' },
  retention: { s: 'retention' },
  'connection closed': { s: 'connection closed' },
};

export function serverActor(reason: ServerReason): ServerActor {
  return SERVER[reason];
}

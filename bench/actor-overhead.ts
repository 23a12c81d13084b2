/**
 * What recording actors costs per entry: payload bytes, and encode + decode
 * time (what every command and every replayed entry pays), with and without
 * the actor, over the entries of a typical job life.
 *   node --import tsx bench/actor-overhead.ts [runs]
 * Each figure is the median of `runs` runs of 200 000 entries.
 */
import { serverActor } from '../src/domain/actor.ts';
import type { Entry, RequestActor } from '../src/domain/entries.ts';
import { decodeEntry, encodeEntry } from '../src/domain/entryCodec.ts';
import type { Job } from '../src/domain/job.ts';
import { uuidv7 } from '../src/commands/uuidv7.ts';

const RUNS = Number(process.argv[2] ?? 5);
const N = 200_000;
const now = Date.now();
const id = uuidv7(now);
const request: RequestActor = { t: 'billing', a: '10.12.1.34', r: uuidv7(now) };

const job: Job = {
  id, queue: 'emails', data: { to: 'user@example.com', template: 'welcome' }, priority: 0, createdAt: now, runAt: now,
  startedAt: null, completedAt: null, attempts: 0, maxAttempts: 3, backoff: 1000, progress: 0, progressMessage: null,
  state: 'waiting', result: null, error: null, tags: [], lifo: false, removeOnComplete: false, removeOnFail: false,
  groupId: null, uniqueKey: null, dependsOn: [], ttl: null, timeout: null, repeat: null, occurrence: 1, scheduledAt: now,
  durable: false, token: null, leaseUntil: null,
};
const life: Entry[] = [
  { type: 'push', at: now, queue: 'emails', jobId: id, job, by: request },
  { type: 'pull', at: now, queue: 'emails', jobId: id, token: uuidv7(now), leaseUntil: now + 30_000, drained: false, by: request },
  { type: 'fail', at: now, queue: 'emails', jobId: id, cause: 'stalled', error: 'lease expired (job stalled)', attempts: 1, retryAt: now + 1000, prev: 'active', remove: false, by: serverActor('lease expired') },
  { type: 'promote', at: now, queue: 'emails', jobId: id, by: serverActor('delay due') },
  { type: 'pull', at: now, queue: 'emails', jobId: id, token: uuidv7(now), leaseUntil: now + 30_000, drained: true, by: request },
  { type: 'ack', at: now, queue: 'emails', jobId: id, result: { sent: true }, remove: false, by: request },
];
const codes = new Map(life.map((entry) => [entry.type, encodeEntry(entry).type]));
const encoder = new TextEncoder();
/** The same entries as written before actors (the encoder as it was): no `v`, no `by`. */
function encodeVersion1(entry: Entry) {
  const { type, by: _b, v: _v, ...body } = entry;
  return { type: codes.get(type) as number, payload: encoder.encode(JSON.stringify(body)) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function roundTrips(encode: (entry: Entry) => { type: number; payload: Uint8Array }): number {
  const start = performance.now();
  let sink = 0;
  for (let i = 0; i < N; i++) {
    const { type, payload } = encode(life[i % life.length] as Entry);
    sink += decodeEntry(type, payload).at;
  }
  if (sink === 0) throw new Error('unreachable');
  return (performance.now() - start) / N * 1000;
}

console.log(`command: node --import tsx bench/actor-overhead.ts ${RUNS}`);
console.log('payload bytes per entry type (without actor → with):');
for (const entry of life) {
  const before = encodeVersion1(entry).payload.length;
  const after = encodeEntry(entry).payload.length;
  console.log(`  ${entry.type.padEnd(8)} ${before} → ${after} (+${after - before})`);
}
const total = (encode: typeof encodeEntry) => life.reduce((sum, e) => sum + encode(e).payload.length, 0);
console.log(`  job life (${life.length} entries) ${total(encodeVersion1)} → ${total(encodeEntry)} bytes`);
roundTrips(encodeEntry); // warm-up
roundTrips(encodeVersion1);
// Alternated, so both see the same load on the machine.
const withouts: number[] = [];
const withs: number[] = [];
for (let run = 0; run < RUNS; run++) {
  withouts.push(roundTrips(encodeVersion1));
  withs.push(roundTrips(encodeEntry));
}
const without = median(withouts);
const withActor = median(withs);
console.log(`encode + decode, µs per entry: without actor ${without.toFixed(2)}, with ${withActor.toFixed(2)} (median of ${RUNS} × ${N})`);

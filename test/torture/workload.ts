/**
 * The clients of one torture epoch (the time between a start and the next
 * SIGKILL): producers pushing (some durable, some delayed, some with
 * dependencies), workers pulling and acking, failing or dropping jobs, a
 * canceller, and WebSocket clients doing all of it on their socket. Every
 * request goes through the oracle before it is sent and after it is answered;
 * a request that gets no answer stops its actor (the server is gone).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestServer } from '../support/testServer.ts';
import { type Channel, HttpChannel, type Reply, WsChannel } from './channels.ts';
import type { JobRec, LeaseRec, Oracle } from './oracle.ts';
import type { Prng } from './prng.ts';

export interface Held {
  rec: JobRec;
  lease: LeaseRec;
}

export interface Epoch {
  number: number;
  srv: TestServer;
  oracle: Oracle;
  queues: readonly string[];
  runTag: string;
  /** Leases pulled and not yet acked or failed: carried over kills so a later worker can finish them. */
  held: Held[];
  /** WebSocket clients take part (their event subscription makes the server flush sooner: loss figures are kept apart). */
  withWs: boolean;
  stopped: boolean;
  /** The latest send time of a request whose durable answer came: everything appended before it is on disk. */
  maxDurableSentAt: number;
  /** Client time of the SIGKILL. */
  killAt: number;
  walFlushMs: number;
}

/** Marks a durable answer to a request sent at `sentAt`. */
function landed(epoch: Epoch, sentAt: number): void {
  if (sentAt > epoch.maxDurableSentAt) epoch.maxDurableSentAt = sentAt;
}

function serverError(epoch: Epoch, what: string, reply: Reply): void {
  if (reply.status >= 500) epoch.oracle.violation('server-error', `${what} answered ${reply.status} ${JSON.stringify(reply.json)}`);
}

function pickDependencies(epoch: Epoch, rng: Prng): string[] {
  const { jobs } = epoch.oracle;
  const out: string[] = [];
  const want = rng.int(1, 2);
  // Recent jobs mostly, so chains form while their dependencies are still open.
  for (let tries = 0; tries < 8 && out.length < want && jobs.length > 0; tries++) {
    const rec = jobs[Math.max(0, jobs.length - 1 - rng.int(0, Math.min(300, jobs.length - 1)))] as JobRec;
    if (epoch.oracle.usableAsDependency(rec) && !out.includes(rec.id as string)) out.push(rec.id as string);
  }
  return out;
}

export async function pushOne(epoch: Epoch, ch: Channel, rng: Prng): Promise<void> {
  const { oracle } = epoch;
  const queue = rng.pick(epoch.queues);
  const durable = rng.chance(0.3);
  const delay = rng.chance(0.15) ? rng.int(20, 600) : 0;
  const dependsOn = rng.chance(0.15) ? pickDependencies(epoch, rng) : [];
  const timeoutMs = rng.chance(0.1) ? 1500 : null;
  const removeOnComplete = rng.chance(0.05);
  const maxAttempts = rng.pick([1, 2, 3, 3, 5]);
  const jobId = rng.chance(0.5) ? `t-${epoch.runTag}-${oracle.jobs.length + 1}-${rng.int(0, 1e9).toString(36)}` : null;
  const rec = oracle.pushSent({ queue, durable, epoch: epoch.number, removeOnComplete, maxAttempts, timeoutMs, dependsOn, jobId });
  const body: Record<string, unknown> = {
    data: { seq: rec.seq, run: epoch.runTag },
    priority: rng.int(0, 3),
    maxAttempts,
    backoff: rng.pick([0, 20, 100]),
  };
  if (durable) body.durable = true;
  if (delay > 0) body.delay = delay;
  if (dependsOn.length > 0) body.dependsOn = dependsOn;
  if (timeoutMs !== null) body.timeout = timeoutMs;
  if (removeOnComplete) body.removeOnComplete = true;
  if (jobId !== null) body.jobId = jobId;
  const sentAt = rec.pushSentAt;
  const reply = await ch.push(queue, body);
  if (reply.ok && typeof reply.json.id === 'string') {
    oracle.pushAnswered(rec, reply.json.id);
    if (durable) landed(epoch, sentAt);
    return;
  }
  rec.existence = 'absent';
  serverError(epoch, `push ${JSON.stringify(body)}`, reply);
  // A dependency cancelled (or completed and removed) by another client meanwhile: a refusal is right.
  const depGone = dependsOn.some((id) => {
    const d = oracle.byId.get(id);
    return d !== undefined && !oracle.usableAsDependency(d);
  });
  if (reply.status < 500 && !(depGone && String(reply.json?.error).startsWith('Dependency job not found'))) {
    const deps = dependsOn.map((id) => {
      const d = oracle.byId.get(id);
      return d ? `${id}: epoch ${d.epoch}, ${d.existence}, sent ${d.pushSentAt} answered ${d.pushAnsweredAt}${d.completed ? ', completed' : ''}` : `${id}: unknown`;
    });
    oracle.violation(
      'push-refused',
      `push ${JSON.stringify(body)} via ${ch.via} in epoch ${epoch.number} (sent ${sentAt}) refused: ${reply.status} ${JSON.stringify(reply.json)}; dependencies: ${deps.join('; ')}`,
    );
  }
}

/** Finishes a held lease with its token: ack, or fail. */
export async function finish(epoch: Epoch, ch: Channel, held: Held, failing: boolean): Promise<void> {
  const { oracle } = epoch;
  const { rec, lease } = held;
  const id = rec.id as string;
  const sentAt = Date.now();
  let reply: Reply;
  if (failing) {
    rec.failSent = true;
    // If this fail lands the job may be handed out again at once.
    lease.endedAt = sentAt;
    reply = await ch.fail(id, lease.token, 'torture says no');
  } else {
    rec.ackSent = true;
    reply = await ch.ack(id, lease.token);
  }
  if (reply.ok) {
    landed(epoch, sentAt);
    oracle.confirm(rec);
    lease.endedAt ??= reply.at;
    if (failing) {
      oracle.count(`fail (${ch.via})`);
      rec.failsAcked++;
      // The pulled view's attempts were those before this attempt.
      if (lease.attemptsBefore + 1 >= rec.maxAttempts) {
        rec.dlq = true;
        oracle.settled(rec, reply.at);
      }
    } else {
      oracle.count(`ack (${ch.via})`);
      rec.completed = true;
      oracle.settled(rec, reply.at);
    }
    return;
  }
  serverError(epoch, `${failing ? 'fail' : 'ack'} ${id}`, reply);
  oracle.refusedWithLease(rec, lease, failing ? 'fail' : 'ack', reply.at, JSON.stringify(reply.json));
}

/** Pulls once; returns the lease taken, if any. */
export async function pullOne(epoch: Epoch, ch: Channel, rng: Prng): Promise<Held | null> {
  const queue = rng.pick(epoch.queues);
  const sentAt = Date.now();
  const reply = await ch.pull(queue, rng.chance(0.3) ? rng.int(20, 200) : 0);
  if (!reply.ok) {
    serverError(epoch, `pull ${queue}`, reply);
    epoch.oracle.violation('pull-refused', `pull ${queue} via ${ch.via}: ${reply.status} ${JSON.stringify(reply.json)}`);
    return null;
  }
  if (!reply.json.job) return null;
  landed(epoch, sentAt);
  const rec = epoch.oracle.pulled(reply.json.job, reply.json.token, ch.via, epoch.number, sentAt);
  if (!rec) return null;
  const lease = epoch.oracle.leaseOf(rec, reply.json.token) as LeaseRec;
  if (ch instanceof WsChannel) ch.leases.push(lease);
  return { rec, lease };
}

export async function cancelOne(epoch: Epoch, ch: Channel, rng: Prng): Promise<void> {
  const { oracle } = epoch;
  const { jobs } = oracle;
  if (jobs.length === 0) return;
  const rec = jobs[Math.max(0, jobs.length - 1 - rng.int(0, Math.min(500, jobs.length - 1)))] as JobRec;
  if (!oracle.usableAsDependency(rec) || rec.ackSent) return;
  rec.cancelSent = true;
  const sentAt = Date.now();
  const reply = await ch.cancel(rec.id as string);
  if (reply.ok) {
    landed(epoch, sentAt);
    oracle.confirm(rec);
    rec.cancelled = true;
    oracle.settled(rec, reply.at);
    oracle.count(`cancel (${ch.via})`);
    return;
  }
  serverError(epoch, `cancel ${rec.id}`, reply);
  // It exists in memory (confirmed, or answered in this epoch) and nobody else removes jobs.
  oracle.violation('cancel-refused', `cancel of ${rec.id} (${rec.existence}) via ${ch.via}: ${reply.status} ${JSON.stringify(reply.json)}`);
}

async function loop(epoch: Epoch, pause: () => number, step: () => Promise<void>): Promise<void> {
  while (!epoch.stopped) {
    try {
      await step();
    } catch {
      // No answer: the server is gone (or going). The outcome stays unknown in the oracle.
      return;
    }
    const ms = pause();
    if (ms > 0) await sleep(ms);
  }
}

/** A worker: pulls, then acks (70%), fails (via finish), keeps the lease for later (5%) or drops it to expire (5%). */
async function work(epoch: Epoch, ch: Channel, rng: Prng, mine: Held[]): Promise<void> {
  if (epoch.held.length > 0 && rng.chance(0.3)) {
    const held = epoch.held.splice(rng.int(0, epoch.held.length - 1), 1)[0] as Held;
    await finish(epoch, ch, held, rng.chance(0.25));
    return;
  }
  const held = await pullOne(epoch, ch, rng);
  if (!held) return;
  const roll = rng.next();
  if (roll < 0.05) return; // dropped: its lease runs out and the job stalls
  if (roll < 0.1) {
    epoch.held.push(held);
    return;
  }
  mine.push(held);
  await sleep(rng.int(0, 15));
  mine.splice(mine.indexOf(held), 1);
  await finish(epoch, ch, held, rng.chance(0.25));
}

/** A WebSocket client: all commands on one socket; now and then it closes the socket holding leases (the server releases them). */
async function wsActor(epoch: Epoch, rng: Prng): Promise<void> {
  const mine: Held[] = [];
  let ch: WsChannel;
  try {
    ch = await WsChannel.open(epoch.srv.port);
  } catch {
    return;
  }
  const leave = (): void => {
    // Leases this socket still holds go to the shared pool: after a kill they are still valid and someone can ack them.
    epoch.held.push(...mine.splice(0));
  };
  await loop(
    epoch,
    () => rng.int(2, 12),
    async () => {
      const roll = rng.next();
      if (roll < 0.4) return pushOne(epoch, ch, rng);
      if (roll < 0.9) return work(epoch, ch, rng, mine);
      if (roll < 0.95) return cancelOne(epoch, ch, rng);
      // Pull one or two and close the socket without finishing them.
      const taken = await pullOne(epoch, ch, rng);
      if (epoch.stopped) {
        if (taken) mine.push(taken);
        return;
      }
      ch.rpc.close();
      const closedAt = Date.now();
      // Released by the server: the ones in hand, and those dropped or parked in the shared pool.
      for (const lease of ch.leases) lease.endedAt ??= closedAt;
      mine.splice(0);
      epoch.oracle.count('websocket closed holding leases');
      ch = await WsChannel.open(epoch.srv.port);
    },
  );
  leave();
  if (!ch.rpc.closed) ch.rpc.terminate();
}

/** Starts every actor of the epoch; resolves when they have all stopped (after the kill). */
export function runActors(epoch: Epoch, rng: Prng): Promise<unknown> {
  const http = new HttpChannel(epoch.srv.url);
  const actors: Array<Promise<void>> = [];
  for (let i = 0; i < 2; i++) {
    const r = rng.fork();
    actors.push(loop(epoch, () => r.int(3, 20), () => pushOne(epoch, http, r)));
  }
  for (let i = 0; i < 2; i++) {
    const r = rng.fork();
    const mine: Held[] = [];
    actors.push(
      loop(epoch, () => r.int(0, 5), () => work(epoch, http, r, mine)).finally(() => {
        epoch.held.push(...mine.splice(0));
      }),
    );
  }
  const c = rng.fork();
  actors.push(loop(epoch, () => c.int(20, 80), () => cancelOne(epoch, http, c)));
  if (epoch.withWs) {
    for (let i = 0; i < 2; i++) actors.push(wsActor(epoch, rng.fork()));
  }
  return Promise.allSettled(actors);
}

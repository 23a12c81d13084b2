// Defect 5: a refusal or a read must not report a state a crash can undo.
// In-process: the real ledger, projection, HTTP routes and WebSocket commands
// over a log whose fsync the test holds (test/support/heldLog.ts).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import express from 'express';
import pino from 'pino';
import { errorHandler } from '../../src/api/errors.ts';
import { jobRoutes } from '../../src/api/jobRoutes.ts';
import { jsonBody } from '../../src/api/jsonBody.ts';
import { TokenSet } from '../../src/api/TokenSet.ts';
import { type Answer, type CommandClient, type CommandDeps, COMMANDS, type Message } from '../../src/api/ws/wsCommands.ts';
import { decidePull, type PullResult } from '../../src/domain/decidePull.ts';
import { decidePush } from '../../src/domain/decidePush.ts';
import { parsePushOptions } from '../../src/domain/pushOptions.ts';
import { EventBus } from '../../src/projections/EventBus.ts';
import { QueueProjection } from '../../src/projections/QueueProjection.ts';
import { commandContext } from '../../src/commands/CommandContext.ts';
import { Ledger } from '../../src/commands/Ledger.ts';
import { PullWaiters } from '../../src/commands/PullWaiters.ts';
import { HeldLog } from '../support/heldLog.ts';
import { cleanupAll, qname, startServer } from '../support/testServer.ts';

const context = commandContext(30_000);
/** Long enough for an unheld answer to arrive many times over on loopback. */
const HOLD_MS = 150;

interface Node {
  log: HeldLog;
  ledger: Ledger;
  deps: CommandDeps;
  url: string;
  /** Ends the HTTP server and every open connection (a crash, as far as clients can tell). */
  close(): void;
}

/** A server over `log`: the state is replayed from it, as at a restart. */
async function startNode(log: HeldLog): Promise<Node> {
  const ledger = new Ledger(log, new QueueProjection(), new EventBus());
  await ledger.replay();
  const waiters = new PullWaiters(ledger, context);
  const app = express();
  app.use(jsonBody(1 << 20, 64));
  app.use(jobRoutes({ ledger, waiters, context }));
  app.use(errorHandler(pino({ level: 'silent' })));
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    log,
    ledger,
    deps: { ledger, waiters, context, tokens: new TokenSet([]) },
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

async function withNode(fn: (node: Node) => Promise<void>): Promise<void> {
  const node = await startNode(new HeldLog());
  try {
    await fn(node);
  } finally {
    node.close();
  }
}

/** A request whose answer the test watches: `answer` stays undefined while the server holds it. */
function request(node: Node, method: string, path: string, body?: unknown) {
  const watched: { answer?: { status: number; json: any }; error?: unknown; done: Promise<void> } = { done: Promise.resolve() };
  watched.done = fetch(node.url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
    .then(async (res) => {
      watched.answer = { status: res.status, json: await res.json() };
    })
    .catch((error: unknown) => {
      watched.error = error;
    });
  return watched;
}

/** A WebSocket command run as a connection would; `answer` stays undefined while held. */
function command(node: Node, message: Message) {
  const client: CommandClient = {
    own() {},
    disown() {},
    onClose: () => () => {},
    setAuthenticated() {},
  };
  const run = COMMANDS.get(String(message.cmd).toUpperCase());
  assert.ok(run, `unknown command ${String(message.cmd)}`);
  const result = run(message, client, node.deps, { t: null, a: '127.0.0.1', r: 'test/1' });
  const watched: { answer?: Answer; synchronous: boolean; done: Promise<void> } = {
    synchronous: !(result instanceof Promise),
    done: Promise.resolve(result).then((answer) => {
      watched.answer = answer;
    }),
  };
  return watched;
}

const held = () => new Promise((resolve) => setTimeout(resolve, HOLD_MS));

/** Pushes a job straight through the ledger (not durable until the test releases the log). */
function push(node: Node, body: Record<string, unknown>): string {
  const options = parsePushOptions(body);
  assert.ok(options.ok);
  const outcome = node.ledger.run((view) => decidePush(view, 'q', options.value, context()));
  assert.ok(outcome.ok);
  return outcome.result.id;
}

/** An active job with a lease, all of it durable. */
function activeJob(node: Node, jobId: string, extra: Record<string, unknown> = {}): string {
  push(node, { jobId, data: jobId, ...extra });
  const outcome = node.ledger.run((view) => decidePull(view, 'q', context()));
  assert.ok(outcome.ok && outcome.result);
  node.log.release();
  return (outcome.result as PullResult).token;
}

/** Waits until a command appended an entry that is not durable yet. */
async function pendingFsync(node: Node): Promise<void> {
  while (node.log.lastPosition === node.log.durablePosition) await new Promise((resolve) => setTimeout(resolve, 2));
}

/** Waits until the held DELETE of `id` was applied (the job left the state, its entry not on disk). */
async function applied(node: Node, id: string): Promise<void> {
  while (node.ledger.state.job(id)) await new Promise((resolve) => setTimeout(resolve, 2));
  assert.ok(node.log.lastPosition > node.log.durablePosition, 'the cancel must not be durable yet');
}

describe('answers wait for the durability of the state they report', () => {
  it('HTTP: while a DELETE waits for its fsync, an ack is not refused, GET is not 404, a push depending on it is not refused', async () => {
    await withNode(async (node) => {
      const token = activeJob(node, 'j1');
      const cancel = request(node, 'DELETE', '/jobs/j1');
      await applied(node, 'j1');
      const ack = request(node, 'POST', '/jobs/j1/ack', { token });
      const fail = request(node, 'POST', '/jobs/j1/fail', { token, error: 'x' });
      const progress = request(node, 'POST', '/jobs/j1/progress', { token, progress: 5 });
      const get = request(node, 'GET', '/jobs/j1');
      const dependent = request(node, 'POST', '/queues/q/jobs', { data: 1, dependsOn: ['j1'] });
      await held();
      for (const [name, watched] of Object.entries({ cancel, ack, fail, progress, get, dependent })) {
        assert.equal(watched.answer, undefined, `${name} answered before the cancel was durable: ${JSON.stringify(watched.answer)}`);
      }

      node.log.release();
      await Promise.all([cancel.done, ack.done, fail.done, progress.done, get.done, dependent.done]);
      assert.deepEqual(cancel.answer, { status: 200, json: { ok: true } });
      assert.deepEqual(ack.answer, { status: 400, json: { ok: false, error: 'Job not found or not active' } });
      assert.deepEqual(fail.answer, { status: 400, json: { ok: false, error: 'Job not found or not active' } });
      assert.equal(progress.answer?.status, 400);
      assert.deepEqual(get.answer, { status: 404, json: { ok: false, error: 'Job not found' } });
      assert.deepEqual(dependent.answer, { status: 400, json: { ok: false, error: 'Dependency job not found: j1' } });
    });
  });

  it('a kill -9 before the fsync: the held ack was never refused, and after the restart it succeeds', async () => {
    let node = await startNode(new HeldLog());
    try {
      const token = activeJob(node, 'j2');
      const cancel = request(node, 'DELETE', '/jobs/j2');
      await applied(node, 'j2');
      const ack = request(node, 'POST', '/jobs/j2/ack', { token });
      const get = request(node, 'GET', '/jobs/j2');
      await held();

      // Crash: the cancel never reached the disk; the clients lose their connections unanswered.
      node.close();
      const log = node.log.crash();
      await Promise.all([cancel.done, ack.done, get.done]);
      assert.equal(ack.answer, undefined, `the ack was answered before the crash: ${JSON.stringify(ack.answer)}`);
      assert.equal(get.answer, undefined, `GET was answered before the crash: ${JSON.stringify(get.answer)}`);
      assert.equal(cancel.answer, undefined);

      node = await startNode(log);
      const after = request(node, 'GET', '/jobs/j2');
      await after.done;
      assert.equal(after.answer?.json.job.state, 'active', 'the job is back, active under the same lease');
      const retried = request(node, 'POST', '/jobs/j2/ack', { token });
      await pendingFsync(node);
      node.log.release();
      await retried.done;
      assert.deepEqual(retried.answer, { status: 200, json: { ok: true } });
    } finally {
      node.close();
    }
  });

  it('WebSocket: refusals and GetJob wait for the cancel to be durable, then refuse', async () => {
    await withNode(async (node) => {
      const token = activeJob(node, 'w1');
      const cancel = command(node, { cmd: 'Cancel', id: 'w1' });
      assert.ok(node.log.lastPosition > node.log.durablePosition);
      const answers = {
        ack: command(node, { cmd: 'ACK', id: 'w1', token }),
        fail: command(node, { cmd: 'FAIL', id: 'w1', token }),
        progress: command(node, { cmd: 'Progress', id: 'w1', token, progress: 1 }),
        heartbeat: command(node, { cmd: 'Heartbeat', id: 'w1', token }),
        getJob: command(node, { cmd: 'GetJob', id: 'w1' }),
        cancelAgain: command(node, { cmd: 'Cancel', id: 'w1' }),
        push: command(node, { cmd: 'PUSH', queue: 'q', data: 1, dependsOn: ['w1'] }),
      };
      await held();
      for (const [name, watched] of Object.entries({ cancel, ...answers })) {
        assert.equal(watched.answer, undefined, `${name} answered before the cancel was durable: ${JSON.stringify(watched.answer)}`);
      }

      node.log.release();
      await Promise.all([cancel.done, ...Object.values(answers).map((a) => a.done)]);
      assert.deepEqual(cancel.answer, { ok: true });
      assert.deepEqual(answers.ack.answer, { ok: false, error: 'Job not found or not active' });
      assert.deepEqual(answers.fail.answer, { ok: false, error: 'Job not found or not active' });
      assert.equal(answers.progress.answer?.ok, false);
      assert.equal(answers.heartbeat.answer?.ok, false);
      assert.deepEqual(answers.getJob.answer, { ok: false, error: 'Job not found' });
      assert.deepEqual(answers.cancelAgain.answer, { ok: false, error: 'Job not found' });
      assert.deepEqual(answers.push.answer, { ok: false, error: 'Dependency job not found: w1' });
    });
  });

  it('a job removed on completion: GET waits for the ack to be durable before answering 404', async () => {
    await withNode(async (node) => {
      const token = activeJob(node, 'r1', { removeOnComplete: true });
      const ack = command(node, { cmd: 'ACK', id: 'r1', token });
      const get = request(node, 'GET', '/jobs/r1');
      await held();
      assert.equal(ack.answer, undefined);
      assert.equal(get.answer, undefined, `GET answered before the ack was durable: ${JSON.stringify(get.answer)}`);
      node.log.release();
      await Promise.all([ack.done, get.done]);
      assert.deepEqual(get.answer, { status: 404, json: { ok: false, error: 'Job not found' } });
    });
  });

  it('reads of settled jobs answer at once, synchronously, while other entries wait for their fsync', async () => {
    await withNode(async (node) => {
      push(node, { jobId: 's1', data: 1 });
      node.log.release();
      push(node, { jobId: 'pending', data: 2 }); // buffered, not durable: its fsync is held for the whole test
      assert.ok(node.log.lastPosition > node.log.durablePosition);

      assert.equal(node.ledger.settled('s1'), undefined, 'no promise for a settled job');
      assert.equal(node.ledger.settled('never-existed'), undefined);
      const getJob = command(node, { cmd: 'GetJob', id: 's1' });
      assert.ok(getJob.synchronous, 'GetJob of a settled job answers without a promise');
      const unknown = command(node, { cmd: 'GetJob', id: 'never-existed' });
      assert.ok(unknown.synchronous);
      await Promise.all([getJob.done, unknown.done]);
      assert.equal((getJob.answer as any).job.state, 'waiting');
      assert.deepEqual(unknown.answer, { ok: false, error: 'Job not found' });

      const get = request(node, 'GET', '/jobs/s1');
      const get404 = request(node, 'GET', '/jobs/never-existed');
      const refused = request(node, 'POST', '/jobs/s1/ack', {});
      await Promise.all([get.done, get404.done, refused.done]);
      assert.equal(get.answer?.status, 200);
      assert.equal(get404.answer?.status, 404);
      assert.deepEqual(refused.answer, { status: 400, json: { ok: false, error: 'Job not found or not active' } });

      // The non-durable push is itself a state a crash can undo: reading it waits for its fsync.
      const unsettled = request(node, 'GET', '/jobs/pending');
      await held();
      assert.equal(unsettled.answer, undefined);
      node.log.release();
      await unsettled.done;
      assert.equal((unsettled.answer as { status: number } | undefined)?.status, 200);
    });
  });

  it('a removal is forgotten once durable, and a restart remembers none', async () => {
    await withNode(async (node) => {
      activeJob(node, 'f1');
      const cancel = command(node, { cmd: 'Cancel', id: 'f1' });
      assert.ok(node.ledger.settled('f1') instanceof Promise);
      node.log.release();
      await cancel.done;
      assert.equal(node.ledger.settled('f1'), undefined);
      push(node, { data: 'next' }); // the next command prunes the removals now on disk
      assert.equal(node.ledger.state.lastChangeOf('f1'), 0, 'the durable removal is no longer remembered');

      const restarted = await startNode(node.log.crash());
      try {
        assert.equal(restarted.ledger.state.lastChangeOf('f1'), 0, 'replayed removals are on disk already');
        assert.equal(restarted.ledger.settled('f1'), undefined);
      } finally {
        restarted.close();
      }
    });
  });
});

describe('a real server with a 60 s group-commit interval', () => {
  after(() => cleanupAll());

  it('a job a client has read survives a kill -9: the read made it durable instead of waiting for the timer', async () => {
    const server = await startServer({ env: { WAL_FLUSH_MS: '60000' } });
    const q = qname('seen');
    const id = await server.push(q, { data: 'buffered' }); // not durable: answered once applied
    const started = performance.now();
    const seen = await server.getRaw(id);
    const waitedMs = performance.now() - started;
    assert.equal(seen.status, 200, seen.describe);
    assert.ok(waitedMs < 5_000, `the read forced the fsync rather than waiting for the 60 s timer (${waitedMs} ms)`);

    await server.kill();
    const restarted = await server.restart();
    const again = await restarted.getRaw(id);
    assert.equal(again.status, 200, `a job GET reported before the crash is gone after it: ${again.describe}`);
    assert.equal(again.json.job.data, 'buffered');
    await restarted.kill();
  });
});

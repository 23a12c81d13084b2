// A 100 000-job dependsOn chain, end to end on the real server (defect 1 of issue 9):
// failing dependents used to recurse once per job, so cancelling the root of a long chain
// answered 500, and a root failing inside the scheduler's tick (ttl, timeout, stall) killed
// the process, which then died the same way at every start (the first tick runs at start-up
// and decides the overdue work again). Here: DELETE of the root of a 100 000-job chain
// answers 200 and the whole chain fails; a server stopped while the lease of another chain's
// root runs out starts again, decides that timeout at start-up, and fails that chain too;
// the first chain's state is the same after the restart.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { cleanupAll, qname, sleep, startServer, type TestServer } from '../support/testServer.ts';

const CHAIN = 100_000;
/** Past the ~6 000 jobs that overflowed the stack, short enough to push in a second or two. */
const RESTART_CHAIN = 20_000;
/** Commands in flight on the socket at once: pipelined, but within any per-connection cap. */
const WINDOW = 500;
/** Each chain fills the DLQ: keep them all (the default keeps 100 000). */
const ENV = { DLQ_MAX: '1000000' };

let srv: TestServer;

before(async () => {
  srv = await startServer({ env: ENV });
});
after(async () => {
  await cleanupAll();
});

/** Pushes each body over one WebSocket, pipelined, in order; resolves with the ids. */
async function pushPipelined(port: number, queue: string, bodies: Array<Record<string, unknown>>): Promise<string[]> {
  // A socket on a queue nobody uses: no event broadcasts, only answers.
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/queues/${qname('quiet')}`);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const ids: string[] = new Array(bodies.length);
  let sent = 0;
  let answered = 0;
  await new Promise<void>((resolve, reject) => {
    const send = () => {
      while (sent < bodies.length && sent - answered < WINDOW) {
        ws.send(JSON.stringify({ cmd: 'PUSH', queue, reqId: sent, ...bodies[sent] }));
        sent++;
      }
    };
    ws.on('message', (data) => {
      const answer = JSON.parse(data.toString());
      if (answer.reqId === undefined) return;
      if (answer.ok !== true) return reject(new Error(`push ${answer.reqId} refused: ${data.toString()}`));
      ids[answer.reqId] = answer.id;
      if (++answered === bodies.length) resolve();
      else send();
    });
    ws.once('close', () => reject(new Error(`socket closed after ${answered} answers`)));
    send();
  });
  ws.close();
  return ids;
}

function chainBodies(prefix: string, length: number, root: Record<string, unknown>): Array<Record<string, unknown>> {
  const bodies: Array<Record<string, unknown>> = [{ data: 0, jobId: `${prefix}-0`, ...root }];
  for (let i = 1; i <= length; i++) bodies.push({ data: i, jobId: `${prefix}-${i}`, dependsOn: [`${prefix}-${i - 1}`] });
  return bodies;
}

/** State and error of a sample of jobs along a chain. */
async function sample(server: TestServer, prefix: string, length: number) {
  const jobs: Record<string, unknown> = {};
  for (const i of [0, 1, 2, Math.floor(length / 2), length - 1, length]) {
    const r = await server.getRaw(`${prefix}-${i}`);
    jobs[i] = r.status === 200 ? { state: r.json.job.state, error: r.json.job.error } : r.status;
  }
  return jobs;
}

const failedBy = (prefix: string, parent: number) => ({ state: 'failed', error: `dependency failed: ${prefix}-${parent}` });

describe(`a ${CHAIN}-job dependsOn chain`, () => {
  const cancelled = `${qname('chain-cancel')}-j`;
  const timedOut = `${qname('chain-timeout')}-j`;

  it('cancelling the root answers 200 and fails every job down to the tail', async () => {
    const ids = await pushPipelined(srv.port, qname('chain-cancel'), chainBodies(cancelled, CHAIN, { delay: 600_000 }));
    assert.equal(ids[CHAIN], `${cancelled}-${CHAIN}`);
    assert.equal((await srv.getJob(`${cancelled}-${CHAIN}`)).state, 'waiting-children');

    const r = await srv.cancel(`${cancelled}-0`);
    assert.equal(r.status, 200, r.describe);
    assert.deepEqual(r.json, { ok: true });
    const half = CHAIN / 2;
    assert.deepEqual(await sample(srv, cancelled, CHAIN), {
      0: 404,
      1: failedBy(cancelled, 0),
      2: failedBy(cancelled, 1),
      [half]: failedBy(cancelled, half - 1),
      [CHAIN - 1]: failedBy(cancelled, CHAIN - 2),
      [CHAIN]: failedBy(cancelled, CHAIN - 1),
    });
  });

  it('a server stopped while a chain root\'s lease runs out starts again and fails that chain at start-up', async () => {
    const queue = qname('chain-timeout');
    await pushPipelined(srv.port, queue, chainBodies(timedOut, RESTART_CHAIN, { timeout: 2000, maxAttempts: 1 }));
    const lease = await srv.pull(queue);
    assert.equal(lease.job?.id, `${timedOut}-0`);
    const leaseEnd = lease.job.startedAt + 2000;
    const cancelledBefore = await sample(srv, cancelled, CHAIN);
    // The scheduler stops first thing at shutdown: the timeout is left for the next start to decide.
    assert.equal(await srv.stop(30_000), 0, srv.output());
    await sleep(Math.max(0, leaseEnd - Date.now() + 50));
    srv = await srv.restart({ readyTimeoutMs: 30_000 });

    const half = RESTART_CHAIN / 2;
    assert.deepEqual(await sample(srv, timedOut, RESTART_CHAIN), {
      0: { state: 'failed', error: 'timeout exceeded' },
      1: failedBy(timedOut, 0),
      2: failedBy(timedOut, 1),
      [half]: failedBy(timedOut, half - 1),
      [RESTART_CHAIN - 1]: failedBy(timedOut, RESTART_CHAIN - 2),
      [RESTART_CHAIN]: failedBy(timedOut, RESTART_CHAIN - 1),
    });
    assert.deepEqual(await sample(srv, cancelled, CHAIN), cancelledBefore);
    const probe = qname('alive');
    const id = await srv.push(probe, { data: 'still serving' });
    assert.equal((await srv.pull(probe)).job?.id, id);
  });
});

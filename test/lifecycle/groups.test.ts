// groupId fairness: at equal priority, pulls go round-robin across groups,
// the group served least recently first; inside a group the usual order
// (priority, LIFO newest first, FIFO by runAt then push). A group that
// empties keeps its turn: refilling it does not let it jump ahead.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupAll, pool, qname, startServer, type TestServer } from '../support/testServer.ts';
import { drainQueue } from '../support/lifecycle.ts';

let srv: TestServer;

before(async () => {
  srv = await startServer();
});
after(async () => {
  await cleanupAll();
});

/** Pushes `{data: name, groupId, ...extra}` and returns name → id. */
async function pushNamed(q: string, jobs: Array<[name: string, groupId: string, extra?: Record<string, unknown>]>) {
  const ids = new Map<string, string>();
  for (const [name, groupId, extra] of jobs) ids.set(await srv.push(q, { data: name, groupId, ...(extra ?? {}) }), name);
  return ids;
}

async function pullNames(q: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = await srv.pull(q);
    assert.ok(p.job, `pull ${i + 1} of ${n} got nothing`);
    out.push(p.job.data as string);
  }
  return out;
}

describe('groups', () => {
  it('three groups pushed one after the other are served round-robin, each group in FIFO order', async () => {
    const q = qname('grp');
    const jobs: Array<[string, string]> = [];
    for (const g of ['a', 'b', 'c']) for (let i = 1; i <= 4; i++) jobs.push([`${g}${i}`, g]);
    await pushNamed(q, jobs);
    const got = await pullNames(q, 12);
    assert.equal((await srv.pull(q)).job, null);
    const rounds = [got.slice(0, 3), got.slice(3, 6), got.slice(6, 9), got.slice(9, 12)];
    const firstOrder = rounds[0]!.map((n) => n[0]).join('');
    rounds.forEach((round, r) => {
      assert.deepEqual(round.map((n) => n[0]).sort(), ['a', 'b', 'c'], `round ${r + 1} is not one job per group: ${got.join(' ')}`);
      assert.equal(round.map((n) => n[0]).join(''), firstOrder, `round ${r + 1} serves groups in another order: ${got.join(' ')}`);
      for (const n of round) assert.equal(n.slice(1), String(r + 1), `not FIFO inside the group: ${got.join(' ')}`);
    });
  });

  it('a higher priority beats the round-robin; at equal priority the least recently served group goes first', async () => {
    const q = qname('grp');
    await pushNamed(q, [
      ['a1', 'a'],
      ['a2', 'a'],
      ['a3', 'a'],
      ['b1', 'b'],
      ['b2', 'b', { priority: 10 }],
    ]);
    assert.deepEqual(await pullNames(q, 5), ['b2', 'a1', 'b1', 'a2', 'a3']);
  });

  it('inside a group: priority, then LIFO newest first, then FIFO', async () => {
    const q = qname('grp');
    await pushNamed(q, [
      ['a-fifo1', 'a'],
      ['a-fifo2', 'a'],
      ['a-lifo1', 'a', { lifo: true }],
      ['a-lifo2', 'a', { lifo: true }],
      ['a-high', 'a', { priority: 1 }],
      ['b1', 'b'],
    ]);
    // a-high first (priority); then group b (group a was just served); then group a in its own order.
    assert.deepEqual(await pullNames(q, 6), ['a-high', 'b1', 'a-lifo2', 'a-lifo1', 'a-fifo1', 'a-fifo2']);
  });

  it('a group that emptied keeps its last-served mark: refilled, it waits for the groups not served since', async () => {
    const q = qname('grp');
    await pushNamed(q, [['a1', 'a']]);
    assert.deepEqual(await pullNames(q, 1), ['a1']);
    // a2 is pushed first: only group a's last-served mark can put it behind b1 and c1.
    await pushNamed(q, [
      ['a2', 'a'],
      ['b1', 'b'],
      ['b2', 'b'],
      ['c1', 'c'],
      ['c2', 'c'],
    ]);
    const got = await pullNames(q, 5);
    assert.deepEqual(got.slice(0, 2).sort(), ['b1', 'c1'], `groups never served go before group a: ${got.join(' ')}`);
    assert.equal(got[2], 'a2', `then group a: ${got.join(' ')}`);
    assert.deepEqual(got.slice(3).sort(), ['b2', 'c2']);
  });

  it('a group that arrives late is served at the next pull', async () => {
    const q = qname('grp');
    const jobs: Array<[string, string]> = [];
    for (let i = 1; i <= 5; i++) jobs.push([`a${i}`, 'a'], [`b${i}`, 'b']);
    await pushNamed(q, jobs);
    const first = await pullNames(q, 4);
    assert.deepEqual(first.map((n) => n[0]).sort(), ['a', 'a', 'b', 'b']);
    await pushNamed(q, [['c1', 'c']]);
    const next = await pullNames(q, 3);
    assert.equal(next[0], 'c1', `the new group waited: ${[...first, ...next].join(' ')}`);
    assert.deepEqual(next.slice(1).sort(), ['a3', 'b3']);
  });

  it('10 000 jobs in 100 groups pushed group by group: every 100 consecutive pulls serve each group once', async () => {
    const q = qname('grp-big');
    const G = 100;
    const PER = 100;
    const items = Array.from({ length: G * PER }, (_, i) => ({ g: Math.floor(i / PER), i: i % PER }));
    // All of group 0, then all of group 1, ... (32 in flight, so neighbours may swap places).
    await pool(items, 32, ({ g, i }) => srv.push(q, { data: { g, i }, groupId: `g${g}` }));

    const groups: number[] = [];
    const perGroup = new Map<number, number>();
    const record = (job: any) => {
      const g = job.data.g as number;
      assert.equal(job.groupId, `g${g}`);
      groups.push(g);
      perGroup.set(g, (perGroup.get(g) ?? 0) + 1);
    };
    // The first 3 rounds one pull at a time: the exact order is known.
    const SEQ = 3 * G;
    for (let k = 0; k < SEQ; k++) {
      const p = await srv.pull(q);
      assert.ok(p.job, `pull ${k} got nothing`);
      record(p.job);
    }
    // The rest in batches of 20 concurrent pulls: each batch is a contiguous run of the
    // server's pull order (nothing else pulls this queue), its inner order unknown.
    const BATCH = 20;
    const batches: number[][] = [];
    while (groups.length < G * PER) {
      const n = Math.min(BATCH, G * PER - groups.length);
      const got = await Promise.all(Array.from({ length: n }, () => srv.pull(q)));
      const batch: number[] = [];
      for (const p of got) {
        assert.ok(p.job, `a pull got nothing after ${groups.length} jobs`);
        record(p.job);
        batch.push(p.job.data.g);
      }
      batches.push(batch);
    }
    assert.equal((await srv.pull(q)).job, null, 'jobs left over');
    assert.equal(groups.length, G * PER);
    for (let g = 0; g < G; g++) assert.equal(perGroup.get(g), PER, `group ${g}`);

    // Sliding windows over the sequential part.
    for (let s = 0; s + G <= SEQ; s++) {
      const seen = new Set(groups.slice(s, s + G));
      assert.equal(seen.size, G, `pulls ${s}..${s + G - 1} serve only ${seen.size} distinct groups`);
    }
    // Windows of 100 starting at every batch boundary of the concurrent part (and bridging from the sequential part).
    for (let s = SEQ - G + BATCH; s + G <= groups.length; s += BATCH) {
      const seen = new Set(groups.slice(s, s + G));
      assert.equal(seen.size, G, `pulls ${s}..${s + G - 1} serve only ${seen.size} distinct groups`);
    }
  });
});

// Disk full on a real file system: the data directory lives on a 2 MiB tmpfs
// mounted for the test (needs root; skipped with a message otherwise). The
// disk is filled by a filler file while the server runs:
//  - state-changing requests answer 503 "disk full: ..." (a durable push whose
//    entry was already applied is answered after a bounded wait; later ones at
//    once), /ready answers 503, reads and /health go on;
//  - once the filler is deleted the server resumes by itself (/ready 200,
//    pushes accepted) without a restart;
//  - after kill -9 and a restart every acknowledged push is there, and the
//    log had no partial record to cut.
// A write error that is not a full disk fails the log for good. EIO cannot
// be produced here without a faulty device (it is injected under the log in
// test/log/diskFaults.test.ts), but a file-size limit (prlimit --fsize) makes
// the kernel refuse the WAL's writes with EFBIG, which takes the same path:
// in-flight changes answer 503, the server exits with code 1 on its own, and
// a restart recovers every acknowledged push with no partial record to cut.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cleanupAll, makeTempDir, pool, qname, startServer, waitFor, type TestServer } from '../support/testServer.ts';

const isRoot = process.getuid?.() === 0;
const hasPrlimit = spawnSync('prlimit', ['--version']).status === 0;
const servers: TestServer[] = [];
let mounted: string | undefined;

after(async () => {
  // Nothing may hold files on the mount when it goes.
  for (const server of servers) await server.kill();
  if (mounted) spawnSync('umount', [mounted]);
  await cleanupAll();
});

/** Mounts a tmpfs of `size` on a fresh temp dir; undefined (with the reason) when that is not possible here. */
function mountTmpfs(size: string): { dir?: string; why?: string } {
  if (!isRoot) return { why: 'not root: cannot mount a size-limited tmpfs' };
  const dir = makeTempDir('ledgerq-diskfull-');
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (mount.status !== 0) return { why: `mount -t tmpfs failed: ${mount.stderr.trim()}` };
  mounted = dir;
  return { dir };
}

/** Writes a file until the file system refuses another byte. */
function fillDisk(path: string): number {
  const fd = openSync(path, 'w');
  let written = 0;
  try {
    for (let chunk = 64 * 1024; chunk >= 1; chunk = Math.floor(chunk / 2)) {
      const bytes = Buffer.alloc(chunk, 0x66);
      for (;;) {
        try {
          written += writeSync(fd, bytes);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

const BIG = 'x'.repeat(8 * 1024); // more than a page: a push always needs new space

test('disk full: 503 for changes, /ready 503, reads go on, resumes by itself when space returns, nothing acknowledged is lost', async (t) => {
  const { dir: mount, why } = mountTmpfs('2m');
  if (!mount) return t.skip(why);
  const dataDir = join(mount, 'data');
  mkdirSync(dataDir);
  const server = await startServer({ dataDir, env: { SNAPSHOT_INTERVAL_MS: '3600000' } });
  servers.push(server);
  const queue = qname('full');

  const acknowledged = new Map<string, number>();
  for (let n = 0; n < 5; n++) acknowledged.set(await server.push(queue, { data: { n, pad: BIG }, durable: true }), n);
  const pulled = await server.pull(queue);
  assert.ok(pulled.job);
  // Comes due while the disk is full: the scheduler must wait for the log, not throw from its timer.
  const delayMs = 1500;
  const delayedAt = performance.now();
  const delayed = await server.push(queue, { data: { n: 300 }, delay: delayMs, durable: true });
  acknowledged.set(delayed, 300);

  const filler = join(mount, 'filler');
  fillDisk(filler);
  // On a badly overloaded machine the job may already be due; the check below then proves nothing and is left out.
  const filledBeforeDue = performance.now() - delayedAt < delayMs - 200;

  // The first durable push: its entry is applied, the flush hits ENOSPC; answered 503 after the bounded wait.
  let started = performance.now();
  const stalledPush = await server.pushRaw(queue, { data: { n: 100, pad: BIG }, durable: true });
  const stalledMs = Math.round(performance.now() - started);
  assert.equal(stalledPush.status, 503, stalledPush.describe);
  assert.match(stalledPush.json.error, /^disk full: the change was made but is not on disk yet/);
  assert.equal(stalledPush.headers['retry-after'], '1');

  // While stalled: every change is refused at once, nothing is applied.
  const refused = [
    await server.pushRaw(queue, { data: { n: 101 }, durable: true }),
    await server.pushRaw(queue, { data: { n: 102 } }),
    await server.request('GET', `/queues/${queue}/jobs`),
    await server.ack(pulled.job.id, { token: pulled.token }),
  ];
  for (const r of refused) {
    assert.equal(r.status, 503, r.describe);
    assert.match(r.json.error, /^disk full: changes are refused until space is freed \(ENOSPC/, r.describe);
  }
  const ready = await server.request('GET', '/ready');
  assert.equal(ready.status, 503, ready.describe);
  // Reads go on.
  for (const [id, n] of acknowledged) assert.equal((await server.getJob(id)).data.n, n);
  assert.equal((await server.request('GET', '/health')).status, 200);
  assert.equal((await server.getJob(pulled.job.id)).state, 'active', 'the refused ack changed nothing');
  if (filledBeforeDue) {
    await waitFor(() => performance.now() - delayedAt > delayMs + 300, delayMs + 1000);
    assert.equal((await server.getJob(delayed)).state, 'delayed', 'due, but its promotion waits for the disk');
  } else t.diagnostic('the disk was filled after the delayed job came due: its check was skipped');
  assert.ok(server.alive, server.output());
  assert.ok(server.alive);
  assert.match(server.output(), /"msg":"disk full: the write-ahead log is stalled/);

  // Space comes back: the retry succeeds without any help.
  unlinkSync(filler);
  started = performance.now();
  await waitFor(async () => (await server.request('GET', '/ready')).status === 200, 5000, 20);
  const resumedMs = Math.round(performance.now() - started);
  // The log line travels through the child's stdout pipe, which may arrive after the /ready answer.
  await waitFor(() => /"msg":"disk space is back: the write-ahead log resumed"/.test(server.output()), 2000, 20);
  acknowledged.set(await server.push(queue, { data: { n: 200, pad: BIG }, durable: true }), 200);
  const ack = await server.ack(pulled.job.id, { token: pulled.token });
  assert.equal(ack.status, 200, ack.describe);
  await waitFor(async () => (await server.getJob(delayed)).state === 'waiting', 5000, 50);

  // kill -9 and restart: everything acknowledged is there; the log had no partial record to cut.
  await server.kill();
  const restarted = await server.restart();
  servers.push(restarted);
  for (const [id, n] of acknowledged) assert.equal((await restarted.getJob(id)).data.n, n, `acknowledged push ${n} lost`);
  assert.equal((await restarted.getJob(pulled.job.id)).state, 'completed');
  assert.doesNotMatch(restarted.output(), /torn tail/);
  // The push answered 503 after its entry was applied was written when space came back (an unknown outcome for
  // its client): 4 never pulled + that one + n=200 + the delayed one wait; the refused ones left no trace.
  const health = await restarted.request('GET', '/health');
  assert.deepEqual([health.json.queues.waiting, health.json.queues.active, health.json.queues.completed], [7, 0, 1], health.describe);
  t.diagnostic(`503 for the applied push after ${stalledMs} ms; resumed ${resumedMs} ms after space was freed`);
  await restarted.stop();
});

test('a write error other than a full disk (EFBIG past a file-size limit): 503 for what is in flight, exit 1, restart recovers every acknowledged push', { skip: !hasPrlimit && 'prlimit is not installed' }, async (t) => {
  const limit = 512 * 1024;
  const server = await startServer({ launcher: ['prlimit', `--fsize=${limit}`], env: { SNAPSHOT_INTERVAL_MS: '3600000' } });
  servers.push(server);
  const queue = qname('efbig');
  const acknowledged = new Map<string, number>();
  const refusals: string[] = [];
  let next = 0;
  // Eight clients push durable jobs until the server stops answering 200.
  await pool([...Array(8).keys()], 8, async () => {
    for (;;) {
      const n = next++;
      let r;
      try {
        r = await server.pushRaw(queue, { data: { n, pad: BIG }, durable: true });
      } catch {
        return; // the server is gone: this push was never acknowledged
      }
      if (r.status === 200) acknowledged.set(r.json.id, n);
      else return void refusals.push(`${r.status} ${r.json?.error}`);
    }
  });
  assert.ok(acknowledged.size > 10, `only ${acknowledged.size} pushes acknowledged`);
  assert.ok(refusals.length > 0, 'no push was refused');
  for (const refusal of refusals) assert.match(refusal, /^503 write-ahead log write failed, the log is unusable until restart: EFBIG/);
  const started = performance.now();
  const exit = await server.waitExit();
  const exitMs = Math.round(performance.now() - started);
  assert.deepEqual(exit, { code: 1, signal: null }, server.output());
  assert.match(server.output(), /"msg":"write-ahead log failed: stopping; restart recovers everything acknowledged from disk"/);

  const restarted = await server.restart();
  servers.push(restarted);
  for (const [id, n] of acknowledged) assert.equal((await restarted.getJob(id)).data.n, n, `acknowledged push ${n} lost`);
  assert.doesNotMatch(restarted.output(), /torn tail/);
  t.diagnostic(`${acknowledged.size} pushes acknowledged before the limit, ${refusals.length} answered 503; exited ${exitMs} ms after the last answer`);
  await restarted.stop();
});

// The crash loop, short: 8 SIGKILLs at random moments of a mixed HTTP and
// WebSocket workload, restart on the same data dir, and the oracle's checks
// after every restart and after the final drain (see crashLoop.ts). Any
// acknowledged push lost, ack/fail/cancel undone, overlapping lease, count
// that does not add up or job stranded fails it. `npm run torture` is the
// long version (60 kills, three WAL_FLUSH_MS values).
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupAll } from '../support/testServer.ts';
import { runCrashLoop } from './crashLoop.ts';

after(async () => {
  await cleanupAll();
});

it('survives 8 SIGKILLs with nothing acknowledged lost or undone', { timeout: 120_000 }, async () => {
  const seed = Number(process.env.TORTURE_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const summary = await runCrashLoop({ kills: 8, seed, walFlushMs: [2, 10], killAfterMs: [30, 400], lockTtlMs: 1500, drainTimeoutMs: 30_000 });
  const shown = summary.violations.slice(0, 20).map((v) => `[${v.kind}] ${v.detail}`).join('\n');
  assert.equal(summary.violations.length, 0, `seed ${seed} (TORTURE_SEED=${seed} to replay): ${summary.violations.length} violations:\n${shown}`);
  assert.equal(summary.kills, 8);
  assert.ok(summary.acknowledged['pull (http)'] ?? 0 > 0, `nothing was pulled: ${JSON.stringify(summary.acknowledged)}`);
  assert.ok(summary.checks['job read back after a restart'] > 0, `nothing was checked: ${JSON.stringify(summary.checks)}`);
});

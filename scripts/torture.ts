// npm run torture -- [--kills N] [--seed S] [--wal-flush-ms 2,10,50] [--json]
// The crash loop (test/torture/crashLoop.ts) with at least 50 SIGKILLs by default:
// prints progress, then a summary, and exits 1 on any violation.
import { parseArgs } from 'node:util';
import { cleanupAll } from '../test/support/testServer.ts';
import { runCrashLoop } from '../test/torture/crashLoop.ts';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '60' },
    seed: { type: 'string' },
    'wal-flush-ms': { type: 'string', default: '2,10,50' },
    'lock-ttl-ms': { type: 'string', default: '3000' },
    json: { type: 'boolean', default: false },
  },
});

const kills = Number(values.kills);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const walFlushMs = values['wal-flush-ms'].split(',').map(Number);
const lockTtlMs = Number(values['lock-ttl-ms']);
if (!Number.isInteger(kills) || kills < 1 || !Number.isInteger(seed) || walFlushMs.some((n) => !Number.isInteger(n) || n < 1) || !(lockTtlMs >= 1)) {
  console.error('usage: npm run torture -- [--kills N] [--seed S] [--wal-flush-ms 2,10,50] [--lock-ttl-ms 3000] [--json]');
  process.exit(2);
}

console.log(`torture: ${kills} kills, seed ${seed}, WAL_FLUSH_MS ${walFlushMs.join('/')} (re-run with --seed ${seed})`);
try {
  const summary = await runCrashLoop({ kills, seed, walFlushMs, lockTtlMs, log: (line) => console.log(line) });
  if (values.json) {
    console.log(JSON.stringify(summary, null, 2));
  } else {
    console.log('\n== torture summary ==');
    console.log(`seed ${summary.seed}: ${summary.kills} SIGKILLs survived, ${summary.restarts} restarts, ${summary.jobs} jobs, ${(summary.wallMs / 1000).toFixed(0)} s`);
    console.log(`operations acknowledged: ${summary.operationsAcknowledged} ${JSON.stringify(summary.acknowledged)}`);
    console.log(`checks made: ${summary.checksMade} ${JSON.stringify(summary.checks)}`);
    console.log(`leases that expired by their deadline and were handed out again: ${summary.expiredLeasesReissued}`);
    console.log('non-durable pushes lost to a kill (allowed; window = kill time − answer time):');
    for (const l of summary.losses) {
      console.log(
        `  WAL_FLUSH_MS=${String(l.walFlushMs).padStart(3)} ${l.withSubscribers ? 'with WS subscribers' : 'HTTP only          '}: ` +
          `${l.lost} of ${l.nonDurablePushesAnswered} answered in ${l.epochs} kills, worst window ${l.worstWindowMs} ms, worst kill lost ${l.worstLostInOneKill}`,
      );
    }
    console.log(`final state: ${JSON.stringify(summary.finalState)}`);
    console.log(`violations: ${summary.violations.length}`);
    for (const v of summary.violations.slice(0, 50)) console.log(`  [${v.kind}] ${v.detail}`);
  }
  process.exitCode = summary.violations.length === 0 ? 0 : 1;
} catch (err) {
  console.error(`torture aborted: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
} finally {
  await cleanupAll();
}

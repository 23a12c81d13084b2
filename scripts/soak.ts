// npm run soak -- [--duration 1800] [--rate 200] [--warmup 10] [--window S] [--out file.json] [--cpu-prof dir]
// Steady mixed load against a real server (test/soak/soak.ts): compares RSS and
// p99 latency of the first window after the warm-up with the last one, prints a
// JSON summary, exits 1 on failure. The window is a sixth of the run, between 15 s
// and 5 minutes: long windows pool enough requests for a p99 that noise does not move.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cleanupAll } from '../test/support/testServer.ts';
import { runSoak } from '../test/soak/soak.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '1800' },
    rate: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '10' },
    window: { type: 'string' },
    out: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});

const durationS = Number(values.duration);
const rate = Number(values.rate);
const warmupS = Number(values.warmup);
const windowS = values.window === undefined ? Math.max(15, Math.min(300, Math.floor(durationS / 6))) : Number(values.window);
if (![durationS, rate, warmupS, windowS].every((n) => Number.isFinite(n) && n >= 0) || durationS < warmupS + 2 * windowS || rate <= 0) {
  console.error('usage: npm run soak -- [--duration S] [--rate ops/s] [--warmup S] [--window S] [--out file] [--cpu-prof dir]  (duration >= warmup + 2 × window)');
  process.exit(2);
}

console.error(`soak: ${durationS} s at ${rate} ops/s, warm-up ${warmupS} s, windows of ${windowS} s`);
try {
  const summary = await runSoak({ durationS, rate, warmupS, windowS, cpuProfileDir: values['cpu-prof'], log: (line) => console.error(line) });
  const json = JSON.stringify(summary, null, 2);
  console.log(json);
  if (values.out) writeFileSync(values.out, `${json}\n`);
  console.error(summary.ok ? 'soak: PASS' : `soak: FAIL: ${summary.failures.join('; ')}`);
  process.exitCode = summary.ok ? 0 : 1;
} catch (err) {
  console.error(`soak aborted: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
} finally {
  await cleanupAll();
}

// `npm run bench`: runs every benchmark script in turn (each prints its own command and medians).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const scripts = ['log-append.ts', 'http-push.ts', 'ws-push.ts', 'sse-fanout.ts', 'delay-lateness.ts', 'disk-retention.ts', 'restart.ts', 'snapshot-latency.ts', 'actor-overhead.ts', 'history.ts'];
const only = process.argv.slice(2);
for (const script of scripts.filter((name) => only.length === 0 || only.some((o) => name.includes(o)))) {
  console.log(`\n=== bench/${script} ===`);
  const path = fileURLToPath(new URL(script, import.meta.url));
  const run = spawnSync(process.execPath, ['--import', 'tsx', path], { stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
}

// Disk stays bounded: the real server core (startServer, without HTTP clients)
// pushes, pulls and acks N jobs with small retention settings, and the data
// directory is measured as it goes. Usage: node --import tsx bench/disk-retention.ts [jobs=1000000]
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { decideAck } from '../src/domain/decideAck.ts';
import { decidePull } from '../src/domain/decidePull.ts';
import { decidePush } from '../src/domain/decidePush.ts';
import { parsePushOptions } from '../src/domain/pushOptions.ts';
import { commandContext } from '../src/commands/CommandContext.ts';
import { loadConfig } from '../src/server/config.ts';
import { startServer } from '../src/server/startServer.ts';

const JOBS = Number(process.argv[2] ?? 1_000_000);
const env = {
  HTTP_PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  COMPLETED_MAX: '1000',
  COMPLETED_RETENTION_MS: '1000',
  LOG_RETENTION_MS: '0',
  SNAPSHOT_INTERVAL_MS: '2000',
  SNAPSHOT_KEEP: '2',
  WAL_SEGMENT_BYTES: String(4 * 1024 * 1024),
};

function bytesUnder(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? bytesUnder(path) : statSync(path).size;
  }
  return total;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

const dataDir = mkdtempSync(join(tmpdir(), 'ledgerq-disk-'));
console.log(`command: node --import tsx bench/disk-retention.ts ${JOBS}`);
console.log(`settings: ${Object.entries(env).filter(([k]) => !['HTTP_PORT', 'HOST', 'LOG_LEVEL'].includes(k)).map(([k, v]) => `${k}=${v}`).join(' ')}`);
const config = loadConfig({ ...env, DATA_DIR: dataDir });
const server = await startServer(config, pino({ level: 'warn' }), (err) => {
  throw err;
});
const { ledger } = server;
const context = commandContext(config.LOCK_TTL_MS);
const options = parsePushOptions({ data: { to: 'user@example.com', subject: 'Welcome aboard', body: 'x'.repeat(40) } });
if (!options.ok) throw new Error(options.error);

const started = performance.now();
let peak = 0;
const step = Math.max(10_000, Math.floor(JOBS / 10));
for (let i = 1; i <= JOBS; i++) {
  ledger.run((view) => decidePush(view, 'disk', options.value, context()));
  const lease = ledger.run((view) => decidePull(view, 'disk', context()));
  if (!lease.ok || !lease.result) throw new Error('pull found nothing');
  const { jobId, token } = lease.result;
  const ack = ledger.run((view) => decideAck(view, jobId, token, null, context()));
  if (i % 5_000 === 0) {
    // Let the group commit, the scheduler (evictions) and the snapshotter run.
    if (ack.ok) await ledger.durable(ack.position);
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (i % step === 0) {
    const bytes = bytesUnder(dataDir);
    peak = Math.max(peak, bytes);
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `${i.toLocaleString('en')} jobs: data dir ${mib(bytes)} (wal ${mib(bytesUnder(join(dataDir, 'wal')))}, snapshots ${mib(bytesUnder(join(dataDir, 'snapshots')))}), ` +
        `jobs in memory ${ledger.state.jobCount}, ${Math.round(i / seconds).toLocaleString('en')} jobs/s, rss ${mib(process.memoryUsage().rss)}`,
    );
  }
}
await server.close();
const final = bytesUnder(dataDir);
console.log(`done: ${JOBS.toLocaleString('en')} jobs pushed and completed in ${((performance.now() - started) / 1000).toFixed(0)} s; peak ${mib(peak)}, after shutdown ${mib(final)}; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
rmSync(dataDir, { recursive: true, force: true });

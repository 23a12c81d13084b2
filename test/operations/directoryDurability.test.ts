// Defect 12: every directory the server creates, and every segment file, is
// fsync'd into its parent before the server relies on it. Observed from the
// outside with strace on a real server started on a DATA_DIR that does not
// exist yet (two levels deep), then made to rotate its log into a new
// segment. Skipped where strace is not installed (durableMkdir's own unit
// test, test/log/durableMkdir.test.ts, covers the logic without it).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { cleanupAll, makeTempDir, REPO_ROOT } from '../support/testServer.ts';

const hasStrace = spawnSync('strace', ['-V']).status === 0;

after(() => cleanupAll());

interface Traced {
  port: number;
  stop: () => Promise<void>;
}

/** Starts src/main.ts under strace (files and directories only), resolves once it listens. */
async function startTraced(dataDir: string, traceFile: string): Promise<Traced> {
  const env: NodeJS.ProcessEnv = { ...process.env, HTTP_PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, WAL_SEGMENT_BYTES: String(64 * 1024) };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(
    'strace',
    ['-f', '-qq', '-y', '-o', traceFile, '-e', 'trace=mkdir,mkdirat,openat,fsync,fdatasync', process.execPath, '--import', 'tsx', 'src/main.ts'],
    { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const { port, pid } = await new Promise<{ port: number; pid: number }>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no "listening" line within 30 s:\n${out}`)), 30_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const match = /"pid":(\d+),[^\n]*"port":(\d+),[^\n]*"msg":"listening"/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ pid: Number(match[1]), port: Number(match[2]) });
      }
    });
    child.once('exit', () => reject(new Error(`server exited before listening:\n${out}`)));
  });
  return {
    port,
    // SIGTERM to the server itself (strace does not pass signals on); strace exits with it.
    stop: async () => {
      process.kill(pid, 'SIGTERM');
      await exited;
    },
  };
}

/** Index of the first line at or after `from` that fsyncs directory `dir`, or -1. */
function fsyncOf(lines: string[], dir: string, from: number): number {
  return lines.findIndex((line, i) => i >= from && line.includes(`fsync(`) && line.includes(`<${dir}>)`) && / = 0$/.test(line));
}

test('a fresh DATA_DIR, its subdirectories and new segment files are fsync\'d into their parents', { skip: !hasStrace && 'strace is not installed' }, async () => {
  const root = makeTempDir('ledgerq-dirsync-');
  const dataDir = join(root, 'new', 'data');
  const traceFile = join(root, 'trace');
  const server = await startTraced(dataDir, traceFile);
  try {
    // Enough durable bytes to roll the log into a second segment (64 KiB each).
    for (let i = 0; i < 5; i++) {
      const answer = await fetch(`http://127.0.0.1:${server.port}/queues/q/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data: 'x'.repeat(20_000), durable: true }),
      });
      assert.equal(answer.status, 200);
    }
  } finally {
    await server.stop();
  }

  const lines = readFileSync(traceFile, 'utf8').split('\n').filter((line) => line.includes(root));
  const created = lines.flatMap((line, i) => {
    const match = /mkdir(?:at\([^,]+,)?\(?"([^"]+)"[^)]*\)\s+= 0$/.exec(line);
    return match ? [{ path: match[1], at: i }] : [];
  });
  for (const { path, at } of created) {
    assert.ok(fsyncOf(lines, dirname(path), at) > at, `${path} was created but ${dirname(path)} was never fsync'd after it:\n${lines.join('\n')}`);
  }
  assert.deepEqual(
    created.map((c) => c.path).sort(),
    [join(root, 'new'), dataDir, join(dataDir, 'server.lock'), join(dataDir, 'snapshots'), join(dataDir, 'index'), join(dataDir, 'timeindex'), join(dataDir, 'wal')].sort(),
    `directories created:\n${lines.join('\n')}`,
  );
  const segments = lines.flatMap((line, i) => {
    const match = /openat\([^"]*"([^"]+\.wal)", [^)]*O_CREAT[^)]*\) = \d+/.exec(line);
    return match ? [{ path: match[1], at: i }] : [];
  });
  assert.ok(segments.length >= 2, `expected the log to create at least 2 segment files:\n${lines.join('\n')}`);
  for (const { path, at } of segments) {
    assert.ok(fsyncOf(lines, dirname(path), at) > at, `segment ${path} was created but its directory was never fsync'd after it`);
  }
});

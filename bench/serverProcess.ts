// The real server as a child process, for the restart and snapshot benchmarks:
// spawn → `listening`, its JSON log lines as they come, its memory from /proc,
// a timed stop. Every child still running when the bench exits is killed.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export type LogLine = Record<string, unknown> & { msg: string; time: number };

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const child of live) child.kill('SIGKILL');
    process.exit(130);
  });
}

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  /** Wall time from spawn to the `listening` line, as the parent saw it. */
  spawnToListeningMs: number;
  /** Every JSON log line so far. */
  lines: LogLine[];
  /** Resolves with the first line (past or future) matching `test`; rejects after `timeoutMs` or if the server exits. */
  waitForLine(test: (line: LogLine) => boolean, timeoutMs: number): Promise<LogLine>;
  /** VmRSS and VmHWM (peak) of the server process, in MiB. */
  memory(): { rssMiB: number; hwmMiB: number };
  /** Sends `signal` and waits for the exit: the time it took and the exit code. */
  stop(signal: NodeJS.Signals, timeoutMs: number, onTick?: () => void): Promise<{ ms: number; code: number | null; signal: NodeJS.Signals | null }>;
}

let built = false;

/** Compiles src/ to dist/ once per benchmark process, as `npm start` does. */
function buildOnce(): void {
  if (built) return;
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  built = true;
}

export async function startServer(dataDir: string, env: Record<string, string>, timeoutMs: number): Promise<ServerProcess> {
  buildOnce();
  const spawned = performance.now();
  // The way `npm start` runs it: compiled JavaScript, gc exposed.
  const child = spawn(process.execPath, ['--expose-gc', 'dist/main.js'], {
    cwd: ROOT,
    env: { ...process.env, HTTP_PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  live.add(child);
  type Exit = { code: number | null; signal: NodeJS.Signals | null };
  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      live.delete(child);
      resolve(exit);
    }),
  );
  const lines: LogLine[] = [];
  const watchers = new Set<(line: LogLine) => void>();
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const complete = partial.split('\n');
    partial = complete.pop() ?? '';
    for (const text of complete) {
      if (!text.startsWith('{')) continue;
      const line = JSON.parse(text) as LogLine;
      lines.push(line);
      for (const watcher of watchers) watcher(line);
    }
  });

  const waitForLine = (test: (line: LogLine) => boolean, waitMs: number) =>
    new Promise<LogLine>((resolve, reject) => {
      const found = lines.find(test);
      if (found) return resolve(found);
      const done = () => {
        clearTimeout(timer);
        watchers.delete(watcher);
      };
      const watcher = (line: LogLine) => {
        if (test(line)) {
          done();
          resolve(line);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`server ${child.pid}: no matching log line within ${waitMs} ms`));
      }, waitMs);
      watchers.add(watcher);
      void exited.then(() => {
        done();
        reject(new Error(`server ${child.pid} exited (${JSON.stringify(exit)}) before the awaited log line`));
      });
    });

  let listening: LogLine;
  try {
    listening = await waitForLine((line) => line.msg === 'listening', timeoutMs);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const spawnToListeningMs = performance.now() - spawned;
  const pid = child.pid as number;

  const memory = () => {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024 };
  };

  const stop = async (signal: NodeJS.Signals, stopMs: number, onTick?: () => void) => {
    const started = performance.now();
    if (exit) return { ms: 0, ...exit };
    child.kill(signal);
    const ticker = onTick ? setInterval(onTick, 100) : undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), stopMs);
    const exitStatus = await exited;
    clearTimeout(timer);
    if (ticker) clearInterval(ticker);
    const ms = performance.now() - started;
    if (ms >= stopMs) throw new Error(`server ${pid} did not stop within ${stopMs} ms after ${signal}; killed`);
    return { ms, ...exitStatus };
  };

  return { child, pid, port: listening.port as number, spawnToListeningMs, lines, waitForLine, memory, stop };
}

export interface HttpAnswer {
  status: number;
  body: string;
}

export function httpRequest(agent: Agent, port: number, method: string, path: string, body?: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const req = request({ host: '127.0.0.1', port, path, method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Nearest-rank percentile of an already sorted array. */
export const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];

export const loadAverage = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');

/** The arguments as given, `--name value` or `--name=value`, with defaults. */
export function parseArgs<T extends Record<string, number>>(defaults: T): T {
  const values: Record<string, number> = { ...defaults };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    const name = match?.[1];
    if (!match || name === undefined || !(name in defaults)) throw new Error(`unknown argument ${argv[i]}; known: ${Object.keys(defaults).map((k) => `--${k}`).join(' ')}`);
    const raw = match[2] ?? argv[++i];
    const value = Number(raw);
    if (!Number.isFinite(value)) throw new Error(`--${name} needs a number (got ${raw})`);
    values[name] = value;
  }
  return values as T;
}

/**
 * A full garbage collection of this process now (e.g. after building 1M jobs
 * in-process), so that it does not land in the middle of a measurement.
 */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

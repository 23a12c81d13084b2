/**
 * Black-box harness for the ledgerq server: spawns `src/main.ts` as a child
 * process on an ephemeral port with its own data directory, waits for the
 * `listening` log line, and talks to it over HTTP with the global `fetch`.
 *
 * Every spawned process and every temp dir is tracked here: call
 * `cleanupAll()` in an `after` hook. A process-exit hook SIGKILLs leftovers
 * even when a test file crashes.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 20_000;
const MAX_CAPTURE = 64 * 1024;

export interface StartOptions {
  /** Reuse this data directory (e.g. to restart on the same log). Not removed by the harness unless it created it. */
  dataDir?: string;
  /** Extra environment variables for the server. */
  env?: Record<string, string>;
  /** How long to wait for the `listening` line (default 15 s). */
  readyTimeoutMs?: number;
  /** A command that execs the server, e.g. `['prlimit', '--fsize=1048576']` (not kept by restart()). */
  launcher?: string[];
  /** Extra node flags for the server process, e.g. `['--cpu-prof']` (not kept by restart()). */
  nodeFlags?: string[];
}

export interface Res {
  status: number;
  headers: Record<string, string>;
  /** Parsed body, or undefined when the body is empty or not JSON. */
  json: any;
  text: string;
  /** One-line description for assertion messages: `POST /x {..} → 400 {..}`. */
  describe: string;
}

export interface RequestOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface PullResult {
  job: any;
  token: string | null;
  res: Res;
}

/** Captured output kept as a bounded tail. */
class Capture {
  private buf = '';
  add(chunk: string): void {
    this.buf += chunk;
    if (this.buf.length > MAX_CAPTURE * 2) this.buf = this.buf.slice(-MAX_CAPTURE);
  }
  tail(n = MAX_CAPTURE): string {
    return this.buf.slice(-n);
  }
}

const liveChildren = new Set<ChildProcess>();
const tempDirs = new Set<string>();

process.on('exit', () => {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
});

export function makeTempDir(prefix = 'ledgerq-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export class TestServer {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly pid: number;
  readonly env: Record<string, string>;
  private readonly child: ChildProcess;
  private readonly stdout: Capture;
  private readonly stderr: Capture;
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  /** @internal use startServer() */
  constructor(args: {
    child: ChildProcess;
    port: number;
    dataDir: string;
    env: Record<string, string>;
    stdout: Capture;
    stderr: Capture;
    exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  }) {
    this.child = args.child;
    this.port = args.port;
    this.url = `http://127.0.0.1:${args.port}`;
    this.dataDir = args.dataDir;
    this.env = args.env;
    this.pid = args.child.pid ?? -1;
    this.stdout = args.stdout;
    this.stderr = args.stderr;
    this.exited = args.exited.then((info) => {
      this.exitInfo = info;
      return info;
    });
  }

  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  /** The server's JSON log lines (from the captured tail of its stdout) whose message starts with `msg`. */
  logLines(msg: string): any[] {
    return this.stdout
      .tail()
      .split('\n')
      .filter((l) => l.includes(`"msg":"${msg}`))
      .map((l) => JSON.parse(l));
  }

  /** Captured stdout/stderr (tails), for failure messages. */
  output(n = 8192): string {
    const status = this.exitInfo
      ? `server pid ${this.pid} exited: code=${this.exitInfo.code} signal=${this.exitInfo.signal}`
      : `server pid ${this.pid} running`;
    return `${status}\n--- stdout (tail) ---\n${this.stdout.tail(n)}\n--- stderr (tail) ---\n${this.stderr.tail(n)}`;
  }

  async request(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
    opts: RequestOptions = {},
  ): Promise<Res> {
    const init: RequestInit & { headers: Record<string, string> } = { method, headers: { ...(headers ?? {}) } };
    if (body !== undefined) {
      // A string is sent as-is (to test malformed bodies); anything else as JSON.
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      if (!Object.keys(init.headers).some((h) => h.toLowerCase() === 'content-type')) {
        init.headers['content-type'] = 'application/json';
      }
    }
    const signals: AbortSignal[] = [AbortSignal.timeout(opts.timeoutMs ?? REQUEST_TIMEOUT_MS)];
    if (opts.signal) signals.push(opts.signal);
    init.signal = signals.length === 1 ? signals[0] : anySignal(signals);
    const shownBody = body === undefined ? '' : ` ${clip(typeof body === 'string' ? body : JSON.stringify(body), 200)}`;
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.url + path, init);
      text = await response.text();
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      const e = new Error(`${method} ${path}${shownBody} failed: ${String((err as Error)?.cause ?? err)}\n${this.output(4096)}`);
      (e as Error & { cause?: unknown }).cause = err;
      throw e;
    }
    let json: any;
    if (text.length > 0) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    const hdrs: Record<string, string> = {};
    response.headers.forEach((v, k) => {
      hdrs[k] = v;
    });
    return {
      status: response.status,
      headers: hdrs,
      json,
      text,
      describe: `${method} ${path}${shownBody} → ${response.status} ${clip(text, 500)}`,
    };
  }

  // ---- convenience wrappers (assert only the transport-level success) ----

  /** Pushes and returns the id; throws with the full answer unless 200 {ok:true,id}. */
  async push(queue: string, body: Record<string, unknown>): Promise<string> {
    const r = await this.request('POST', `/queues/${encodeURIComponent(queue)}/jobs`, body);
    if (r.status !== 200 || r.json?.ok !== true || typeof r.json?.id !== 'string') {
      throw new Error(`push failed: ${r.describe}`);
    }
    return r.json.id as string;
  }

  pushRaw(queue: string, body: unknown, headers?: Record<string, string>): Promise<Res> {
    return this.request('POST', `/queues/${encodeURIComponent(queue)}/jobs`, body, headers);
  }

  /** Pulls (optionally long-polling); throws unless 200 {ok:true}. */
  async pull(queue: string, timeoutMs?: number, opts: RequestOptions = {}): Promise<PullResult> {
    const qs = timeoutMs === undefined ? '' : `?timeout=${timeoutMs}`;
    const r = await this.request('GET', `/queues/${encodeURIComponent(queue)}/jobs${qs}`, undefined, undefined, {
      timeoutMs: (timeoutMs ?? 0) + REQUEST_TIMEOUT_MS,
      ...opts,
    });
    if (r.status !== 200 || r.json?.ok !== true || !('job' in r.json) || !('token' in r.json)) {
      throw new Error(`pull failed: ${r.describe}`);
    }
    return { job: r.json.job, token: r.json.token, res: r };
  }

  getRaw(id: string): Promise<Res> {
    return this.request('GET', `/jobs/${encodeURIComponent(id)}`);
  }

  /** GET /jobs/:id → the job view; throws unless 200. */
  async getJob(id: string): Promise<any> {
    const r = await this.getRaw(id);
    if (r.status !== 200 || r.json?.ok !== true || typeof r.json?.job !== 'object' || r.json.job === null) {
      throw new Error(`get failed: ${r.describe}`);
    }
    return r.json.job;
  }

  ack(id: string, body?: unknown): Promise<Res> {
    return this.request('POST', `/jobs/${encodeURIComponent(id)}/ack`, body);
  }

  fail(id: string, body?: unknown): Promise<Res> {
    return this.request('POST', `/jobs/${encodeURIComponent(id)}/fail`, body);
  }

  cancel(id: string): Promise<Res> {
    return this.request('DELETE', `/jobs/${encodeURIComponent(id)}`);
  }

  // ---- lifecycle ----

  /** SIGTERM, wait for exit; returns the exit code. SIGKILLs and throws if it takes longer than timeoutMs. */
  async stop(timeoutMs = STOP_TIMEOUT_MS): Promise<number | null> {
    if (this.exitInfo) return this.exitInfo.code;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const result = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.child.kill('SIGKILL');
      await this.exited;
      throw new Error(`server did not exit within ${timeoutMs} ms of SIGTERM (SIGKILLed)\n${this.output()}`);
    }
    return result.code;
  }

  /** SIGKILL (kill -9), wait for exit. */
  async kill(): Promise<void> {
    if (this.exitInfo) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Sends SIGKILL without waiting (for use inside a response callback). */
  killNow(): void {
    if (!this.exitInfo) this.child.kill('SIGKILL');
  }

  waitExit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exited;
  }

  /** Starts a new server on the same data dir and env; this one must be stopped or killed first. */
  async restart(opts: Omit<StartOptions, 'dataDir'> = {}): Promise<TestServer> {
    if (this.alive) throw new Error('restart(): stop() or kill() the running server first');
    return startServer({ dataDir: this.dataDir, env: { ...this.env, ...(opts.env ?? {}) }, readyTimeoutMs: opts.readyTimeoutMs });
  }
}

export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? makeTempDir();
  const extraEnv = opts.env ?? {};
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HTTP_PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    ...extraEnv,
  };
  // The test runner sets NODE_TEST_CONTEXT for its children; the server is not a test.
  delete env.NODE_TEST_CONTEXT;

  const [command, ...args] = [...(opts.launcher ?? []), process.execPath, ...(opts.nodeFlags ?? []), '--expose-gc', '--import', 'tsx', 'src/main.ts'];
  const child = spawn(command as string, args, {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveChildren.add(child);
  const stdout = new Capture();
  const stderr = new Capture();

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      liveChildren.delete(child);
      resolve({ code, signal });
    });
  });
  // A spawn error (ENOENT etc.) comes as 'error' and possibly no 'exit'.
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  let lineBuf = '';
  let resolvePort!: (port: number) => void;
  const portFound = new Promise<number>((resolve) => {
    resolvePort = resolve;
  });
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    stdout.add(chunk);
    lineBuf += chunk;
    let nl: number;
    while ((nl = lineBuf.indexOf('\n')) >= 0) {
      const line = lineBuf.slice(0, nl);
      lineBuf = lineBuf.slice(nl + 1);
      const port = parseListening(line);
      if (port !== undefined) resolvePort(port);
    }
  });
  child.stderr!.on('data', (chunk: string) => stderr.add(chunk));

  const describeFailure = (why: string): string =>
    `${why}\n--- stdout ---\n${stdout.tail()}\n--- stderr ---\n${stderr.tail()}`;

  const timeoutMs = opts.readyTimeoutMs ?? READY_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    portFound.then((port) => ({ kind: 'ready' as const, port })),
    exited.then((info) => ({ kind: 'exited' as const, info })),
    spawnError.then((err) => ({ kind: 'error' as const, err })),
    new Promise<{ kind: 'timeout' }>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs);
    }),
  ]);
  clearTimeout(timer);

  if (outcome.kind !== 'ready') {
    if (liveChildren.has(child)) {
      child.kill('SIGKILL');
      await Promise.race([exited, sleep(2000)]);
    }
    if (outcome.kind === 'exited') {
      throw new Error(
        describeFailure(`server exited before listening (code=${outcome.info.code} signal=${outcome.info.signal})`),
      );
    }
    if (outcome.kind === 'error') throw new Error(describeFailure(`could not spawn server: ${outcome.err.message}`));
    throw new Error(describeFailure(`server did not log "listening" within ${timeoutMs} ms`));
  }

  return new TestServer({
    child,
    port: outcome.port,
    dataDir,
    env: { ...extraEnv },
    stdout,
    stderr,
    exited,
  });
}

function parseListening(line: string): number | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const obj = JSON.parse(trimmed) as Record<string, unknown>;
    if (obj.msg === 'listening' && typeof obj.port === 'number' && obj.port > 0) return obj.port;
  } catch {
    /* not a JSON line */
  }
  return undefined;
}

/** SIGKILLs every server still running and removes every temp dir the harness created. */
export async function cleanupAll(): Promise<void> {
  const children = [...liveChildren];
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
          setTimeout(resolve, 3000).unref();
        }),
    ),
  );
  for (const dir of tempDirs) {
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  }
}

// ---- small helpers shared by the tests ----

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let queueCounter = 0;
const runTag = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;

/** A fresh queue name (valid characters only). */
export function qname(prefix = 'q'): string {
  queueCounter += 1;
  return `${prefix}-${runTag}-${queueCounter}`;
}

/** Polls `fn` until it returns a truthy value or the timeout passes. */
export async function waitFor<T>(fn: () => Promise<T> | T, timeoutMs = 2000, stepMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`waitFor: condition not met within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  });
  await Promise.all(workers);
  return results;
}

export const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s;
}

function anySignal(signals: AbortSignal[]): AbortSignal {
  const anyFn = (AbortSignal as unknown as { any?: (s: AbortSignal[]) => AbortSignal }).any;
  if (anyFn) return anyFn(signals);
  const ctrl = new AbortController();
  for (const s of signals) {
    if (s.aborted) {
      ctrl.abort(s.reason);
      break;
    }
    s.addEventListener('abort', () => ctrl.abort(s.reason), { once: true });
  }
  return ctrl.signal;
}

/** Pushes, pulls and acks `count` jobs of `queue` one by one; returns their ids. */
export async function completeJobs(server: TestServer, queue: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = await server.push(queue, { data: { i } });
    const { job, token } = await server.pull(queue);
    assert.equal(job?.id, id);
    assert.equal((await server.ack(id, { token })).status, 200);
    ids.push(id);
  }
  return ids;
}

/**
 * Helpers for the lifecycle-timer tests (test/lifecycle): progress calls,
 * exact error answers, polling a job until a timer changed it (with the
 * client-side times that bound when the change happened), draining a queue.
 *
 * Server and tests run on the same machine, so the server's `createdAt`,
 * `runAt` and `startedAt` and the test's `Date.now()` read the same clock.
 */
import assert from 'node:assert/strict';
import { sleep, type Res, type TestServer } from './testServer.ts';

/** Slack allowed for a timer to fire after its deadline (2 noisy cores). */
export const SLACK_MS = 150;

export const NOT_ACTIVE = { ok: false, error: 'Job not found or not active' } as const;
export const BAD_TOKEN = { ok: false, error: 'Invalid or expired lock token' } as const;
export const JOB_NOT_FOUND = { ok: false, error: 'Job not found' } as const;

/** POST /jobs/:id/progress with `body` (sent as JSON). */
export function progress(srv: TestServer, id: string, body?: unknown): Promise<Res> {
  return srv.request('POST', `/jobs/${encodeURIComponent(id)}/progress`, body);
}

/** Asserts the exact status and JSON answer `{ok:false,error}`. */
export function assertAnswer(res: Res, status: number, json: unknown): void {
  assert.equal(res.status, status, res.describe);
  assert.deepEqual(res.json, json, res.describe);
}

/** GET /jobs/:id → the view, or null when the job is gone (404 Job not found). */
export async function viewOrNull(srv: TestServer, id: string): Promise<any | null> {
  const r = await srv.getRaw(id);
  if (r.status === 404) {
    assert.deepEqual(r.json, JOB_NOT_FOUND, r.describe);
    return null;
  }
  assert.equal(r.status, 200, r.describe);
  return r.json.job;
}

export interface Observed {
  /** The view that satisfied the condition (null: the job is gone). */
  view: any | null;
  /** Client time when that answer arrived: the change happened at or before it. */
  seenAt: number;
  /** Client time when the last GET that did NOT satisfy the condition was sent: the change happened after it. */
  notYetAt: number;
  /** The last view that did not satisfy the condition (undefined if the first GET already did). */
  before: any | null | undefined;
}

/**
 * Polls GET /jobs/:id every `stepMs` until `done(view)` (view is null for a 404).
 * Fails after `timeoutMs` with the last view seen.
 */
export async function observe(
  srv: TestServer,
  id: string,
  done: (view: any | null) => boolean,
  what: string,
  timeoutMs = 3000,
  stepMs = 5,
): Promise<Observed> {
  const deadline = Date.now() + timeoutMs;
  let notYetAt = -Infinity;
  let before: any | null | undefined;
  for (;;) {
    const sentAt = Date.now();
    const view = await viewOrNull(srv, id);
    const seenAt = Date.now();
    if (done(view)) return { view, seenAt, notYetAt, before };
    notYetAt = sentAt;
    before = view;
    if (seenAt > deadline) {
      assert.fail(`${what}: not reached within ${timeoutMs} ms; last view: ${JSON.stringify(view)}`);
    }
    await sleep(stepMs);
  }
}

/** Polls until the job is in `state` (or gone, for state null). */
export function observeState(srv: TestServer, id: string, state: string | null, timeoutMs = 3000): Promise<Observed> {
  return observe(srv, id, (v) => (state === null ? v === null : v?.state === state), `job ${id} → ${state ?? '404'}`, timeoutMs);
}

/**
 * Asserts that a change observed by `observe` happened in [from, to] (client clock):
 * it was seen no earlier than `from` (minus 2 ms of clock rounding) and the last
 * GET before it was sent no later than `to`.
 */
export function assertHappenedBetween(o: Observed, from: number, to: number, what: string): void {
  assert.ok(
    o.seenAt >= from - 2,
    `${what}: already changed ${from - o.seenAt} ms before ${from} (view ${JSON.stringify(o.view)})`,
  );
  assert.ok(
    o.notYetAt <= to,
    `${what}: still unchanged ${o.notYetAt - to} ms after the latest allowed time (${to}); view before: ${JSON.stringify(o.before)}`,
  );
}

/** Asserts lo <= value <= hi with a readable message. */
export function assertBetween(value: number, lo: number, hi: number, what: string): void {
  assert.ok(value >= lo && value <= hi, `${what}: ${value} not in [${lo}, ${hi}]`);
}

/** Pulls `q` until it answers job:null; returns the jobs with their tokens, in pull order. */
export async function drainQueue(srv: TestServer, q: string, max = 20_000): Promise<Array<{ job: any; token: string }>> {
  const out: Array<{ job: any; token: string }> = [];
  for (;;) {
    const p = await srv.pull(q);
    if (!p.job) return out;
    out.push({ job: p.job, token: p.token as string });
    if (out.length > max) throw new Error(`drainQueue(${q}): more than ${max} jobs`);
  }
}

/** Long-polls `q` once; fails unless a job comes within `timeoutMs`. */
export async function pullWithin(srv: TestServer, q: string, timeoutMs: number, what: string): Promise<{ job: any; token: string }> {
  const p = await srv.pull(q, timeoutMs);
  assert.ok(p.job, `${what}: nothing pullable within ${timeoutMs} ms (${p.res.describe})`);
  return { job: p.job, token: p.token as string };
}

/** Long-polls `q` for `ms` and asserts that nothing comes. */
export async function assertNothingFor(srv: TestServer, q: string, ms: number, what: string): Promise<void> {
  const p = await srv.pull(q, ms);
  assert.equal(p.job, null, `${what}: got ${JSON.stringify(p.job)}`);
}

/** Asserts `job` was handed out no earlier than its runAt and at most `slack` ms after (server times). */
export function assertOnTime(job: any, what: string, slack = SLACK_MS): void {
  assert.equal(typeof job.runAt, 'number', `${what}: runAt ${job.runAt}`);
  assert.equal(typeof job.startedAt, 'number', `${what}: startedAt ${job.startedAt}`);
  const late = job.startedAt - job.runAt;
  assert.ok(late >= 0, `${what}: handed out ${-late} ms before its runAt (${job.runAt})`);
  assert.ok(late <= slack, `${what}: handed out ${late} ms after its runAt (allowed ${slack})`);
}

// GET /prometheus scraped and parsed with a Prometheus text-format parser:
// counters agree with /metrics, per-queue gauges carry the queue label,
// latency histograms start at 0.1 ms and count the commands carried out
// (a long-poll that had to park is left out; a 400 is not a command).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import parsePrometheusTextFormat, { type PrometheusFamily } from 'parse-prometheus-text-format';
import { cleanupAll, qname, startServer, waitFor, type TestServer } from '../support/testServer.ts';

const BUCKETS = ['0.1', '0.25', '0.5', '1', '2.5', '5', '10', '25', '50', '100', '250', '500', '1000', '2500', '5000', '+Inf'];

let srv: TestServer;
const qa = qname('pa');
const qb = qname('pb');
const qc = qname('pc');
const qEmpty = qname('pd');
let families: Map<string, PrometheusFamily>;
let contentType: string;

before(async () => {
  srv = await startServer();
  // qa: 3 pushed, 2 pulled, 1 acked, 1 dead-lettered, 1 left waiting. qb: 1 delayed.
  const ids = [await srv.push(qa, { data: 1, maxAttempts: 1 }), await srv.push(qa, { data: 2, maxAttempts: 1 }), await srv.push(qa, { data: 3 })];
  const first = await srv.pull(qa);
  const second = await srv.pull(qa);
  assert.equal((await srv.ack(ids[0], { token: first.token })).status, 200);
  assert.equal((await srv.fail(ids[1], { token: second.token })).status, 200);
  await srv.push(qb, { data: 4, delay: 60_000 });
  // A pull answered at once with no job: a pull command, but not a pulled job.
  const empty = await srv.pull(qEmpty);
  assert.equal(empty.job, null);
  // A long-poll that parks until a push arrives: a pulled job, but not a latency sample.
  const parked = srv.pull(qc, 5000);
  await waitFor(async () => {
    const heap = await srv.request('GET', '/heapstats');
    return heap.json.topObjectTypes.find((t: { type: string }) => t.type === 'PullWaiter')?.count === 1;
  });
  await srv.push(qc, { data: 5 });
  assert.ok((await parked).job, 'the parked pull got the job');
  // A refused push is not a command carried out.
  assert.equal((await srv.pushRaw(qa, { nodata: true })).status, 400);

  const r = await srv.request('GET', '/prometheus');
  assert.equal(r.status, 200, r.describe);
  contentType = r.headers['content-type'] ?? '';
  families = new Map(parsePrometheusTextFormat(r.text).map((family) => [family.name, family]));
});
after(async () => {
  await cleanupAll();
});

function family(name: string, type: PrometheusFamily['type']): PrometheusFamily {
  const found = families.get(name);
  assert.ok(found, `${name} is exported (have: ${[...families.keys()].filter((n) => n.startsWith('bunqueue')).join(', ')})`);
  assert.equal(found.type, type, `${name} type`);
  return found;
}

function single(name: string, type: PrometheusFamily['type']): number {
  const samples = family(name, type).metrics;
  assert.equal(samples.length, 1, `${name}: one unlabelled sample`);
  return Number(samples[0].value);
}

/** queue label → value, for this test's queues only. */
function perQueue(name: string): Record<string, number> {
  const mine = new Set([qa, qb, qc, qEmpty]);
  const out: Record<string, number> = {};
  for (const sample of family(name, 'GAUGE').metrics) {
    assert.deepEqual(Object.keys(sample.labels ?? {}), ['queue'], `${name} is labelled by queue only`);
    const queue = sample.labels?.queue as string;
    if (mine.has(queue)) out[queue] = Number(sample.value);
  }
  return out;
}

describe('GET /prometheus', () => {
  it('answers text format 0.0.4', () => {
    assert.equal(contentType, 'text/plain; version=0.0.4; charset=utf-8');
  });

  it('exports the job totals as counters equal to /metrics', async () => {
    const totals = {
      totalPushed: single('bunqueue_jobs_pushed_total', 'COUNTER'),
      totalPulled: single('bunqueue_jobs_pulled_total', 'COUNTER'),
      totalCompleted: single('bunqueue_jobs_completed_total', 'COUNTER'),
      totalFailed: single('bunqueue_jobs_failed_total', 'COUNTER'),
    };
    assert.deepEqual(totals, { totalPushed: 5, totalPulled: 3, totalCompleted: 1, totalFailed: 1 });
    const metrics = await srv.request('GET', '/metrics');
    assert.deepEqual(metrics.json, { ok: true, metrics: totals });
  });

  it('exports waiting, active, delayed and dlq gauges per queue', () => {
    // A queue that never had a job (qEmpty) has no series.
    assert.deepEqual(perQueue('bunqueue_queue_jobs_waiting'), { [qa]: 1, [qb]: 0, [qc]: 0 });
    assert.deepEqual(perQueue('bunqueue_queue_jobs_active'), { [qa]: 0, [qb]: 0, [qc]: 1 });
    assert.deepEqual(perQueue('bunqueue_queue_jobs_delayed'), { [qa]: 0, [qb]: 1, [qc]: 0 });
    assert.deepEqual(perQueue('bunqueue_queue_jobs_dlq'), { [qa]: 1, [qb]: 0, [qc]: 0 });
  });

  it('exports push, pull and ack latency histograms in ms from 0.1', () => {
    const expectedCounts = { push: 5, pull: 3, ack: 1 };
    for (const [command, count] of Object.entries(expectedCounts)) {
      const name = `bunqueue_${command}_duration_ms`;
      const samples = family(name, 'HISTOGRAM').metrics;
      assert.equal(samples.length, 1, name);
      const { buckets = {}, count: seen, sum } = samples[0];
      const bounds = Object.keys(buckets).sort((a, b) => Number(a) - Number(b));
      assert.deepEqual(bounds, BUCKETS, `${name} buckets`);
      let previous = 0;
      for (const bound of bounds) {
        const cumulative = Number(buckets[bound]);
        assert.ok(cumulative >= previous, `${name}: buckets are cumulative`);
        previous = cumulative;
      }
      assert.equal(Number(buckets['+Inf']), count, `${name}: +Inf bucket`);
      assert.equal(Number(seen), count, `${name}_count`);
      assert.ok(Number(sum) > 0 && Number(sum) < count * 5000, `${name}_sum ${sum} in ms`);
    }
  });

  it('keeps counting between scrapes', async () => {
    await srv.push(qa, { data: 6 });
    const r = await srv.request('GET', '/prometheus');
    const again = new Map(parsePrometheusTextFormat(r.text).map((f) => [f.name, f]));
    assert.equal(Number(again.get('bunqueue_jobs_pushed_total')?.metrics[0].value), 6);
    const push = again.get('bunqueue_push_duration_ms')?.metrics[0];
    assert.equal(Number(push?.count), 6);
    const waiting = again.get('bunqueue_queue_jobs_waiting')?.metrics.find((s) => s.labels?.queue === qa);
    assert.equal(Number(waiting?.value), 2);
  });

  it('exports the process metrics too', () => {
    assert.ok(families.has('process_resident_memory_bytes'));
    assert.ok(families.has('nodejs_eventloop_lag_seconds'));
  });
});

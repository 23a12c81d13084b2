// HEAD is answered only by the probes: express would run any GET route for it, and a HEAD pull leased a job.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { cleanupAll, qname, startServer, type TestServer } from '../support/testServer.ts';

after(async () => {
  await cleanupAll();
});

/** A raw HEAD (fetch would do, but this also shows the server sends no body and keeps no stream open). */
function head(port: number, path: string): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'HEAD', timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error(`HEAD ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

describe('HEAD', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer();
  });

  it('on the pull endpoint is 404 and leaves the job waiting, unleased, attempts unchanged', async () => {
    const q = qname('head');
    const id = await srv.push(q, { data: 'x' });
    for (const path of [`/queues/${q}/jobs`, `/queues/${q}/jobs?timeout=100`]) assert.equal((await head(srv.port, path)).status, 404, path);
    const job = await srv.getJob(id);
    assert.equal(job.state, 'waiting');
    assert.equal(job.attempts, 0);
    assert.equal(job.startedAt, null);
    const pulled = await srv.pull(q);
    assert.equal(pulled.job?.id, id, 'a real pull still gets the job');
  });

  it('is 404 on every other GET route, event streams included; the probes answer it', async () => {
    const id = await srv.push(qname('head'), { data: 1 });
    for (const path of [`/jobs/${id}`, '/stats', '/metrics', '/prometheus', '/heapstats', '/events', '/events/queues/q', '/ws', '/nope']) {
      assert.equal((await head(srv.port, path)).status, 404, path);
    }
    for (const path of ['/health', '/healthz', '/live', '/ready']) assert.equal((await head(srv.port, path)).status, 200, path);
    const health = await srv.request('GET', '/health');
    assert.equal(health.json.connections.sse, 0, 'no stream was left open by a HEAD');
  });
});

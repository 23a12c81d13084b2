// What the history tests ask of a server: a job's history, and when its job index caught up with the log.
import assert from 'node:assert/strict';
import { type TestServer, waitFor } from '../support/testServer.ts';

export async function historyOf(server: TestServer, id: string): Promise<any> {
  const r = await server.request('GET', `/jobs/${encodeURIComponent(id)}/history`);
  assert.equal(r.status, 200, r.describe);
  return r.json;
}

/** The "caught up" log line of the job index, once it is there. */
export async function caughtUp(server: TestServer): Promise<any> {
  return waitFor(() => server.logLines('job index caught up with the log')[0], 10_000);
}

// One debug line per request, tokens never in the logs.
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { redactUrl } from '../../src/api/requestLog.ts';
import { cleanupAll, startServer, waitFor } from '../support/testServer.ts';

after(async () => {
  await cleanupAll();
});

it('redacts token query parameters', () => {
  assert.equal(redactUrl('/events?token=s3cret&x=1'), '/events?token=[redacted]&x=1');
  assert.equal(redactUrl('/ws?a=1&token=s3cret'), '/ws?a=1&token=[redacted]');
  assert.equal(redactUrl('/jobs/x'), '/jobs/x');
});

it('LOG_LEVEL=debug logs each request once, with secrets redacted', async () => {
  const server = await startServer({ env: { LOG_LEVEL: 'debug', AUTH_TOKENS: 'very-secret' } });
  await server.request('GET', '/jobs/nope?token=very-secret', undefined, { authorization: 'Bearer very-secret' });
  const line = await waitFor(() => server.output().split('\n').find((l) => l.includes('"msg":"request"') && l.includes('/jobs/nope')), 2000);
  assert.ok(line);
  const logged = JSON.parse(line);
  assert.equal(logged.method, 'GET');
  assert.equal(logged.status, 404);
  assert.equal(logged.url, '/jobs/nope?token=[redacted]');
  assert.ok(!server.output().includes('very-secret'), 'the token appears nowhere in the output');
  await server.stop();
});

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

it('redacts by the decoded name: percent-encoding, any case, repeated, and names that do not decode', () => {
  assert.equal(redactUrl('/events?%74oken=s3cret'), '/events?%74oken=[redacted]');
  assert.equal(redactUrl('/events?tok%65n=s3cret&x=1'), '/events?tok%65n=[redacted]&x=1');
  assert.equal(redactUrl('/ws?ToKeN=a&token=b&TOKEN=c'), '/ws?ToKeN=[redacted]&token=[redacted]&TOKEN=[redacted]');
  assert.equal(redactUrl('/ws?access_token=a&id%5Ftoken=b'), '/ws?access_token=[redacted]&id%5Ftoken=[redacted]');
  assert.equal(redactUrl('/ws?%zz=secret&from=3'), '/ws?%zz=[redacted]&from=3', 'a name that does not decode is not trusted');
  // A job id may contain "token": the path is not a query.
  assert.equal(redactUrl('/jobs/token=abc?timeout=5'), '/jobs/token=abc?timeout=5');
  assert.equal(redactUrl('/events?from=3&timeout=1'), '/events?from=3&timeout=1');
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
  // Query parsers read `%74oken` as `token`: the log must not show its value either.
  await server.request('GET', '/jobs/encoded?%74oken=very-secret&TOKEN=very-secret&token=very-secret', undefined, { authorization: 'Bearer very-secret' });
  const encoded = await waitFor(() => server.output().split('\n').find((l) => l.includes('"msg":"request"') && l.includes('/jobs/encoded')), 2000);
  assert.equal(JSON.parse(encoded as string).url, '/jobs/encoded?%74oken=[redacted]&TOKEN=[redacted]&token=[redacted]');
  assert.ok(!server.output().includes('very-secret'), 'the token appears nowhere in the output');
  await server.stop();
});

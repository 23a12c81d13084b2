// TRUST_PROXY: forwarding headers name the client only when they come from a trusted proxy; by default the peer address is the key.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, describe, it } from 'node:test';
import { clientAddress, parseTrustProxy, type TrustProxy } from '../../src/api/clientAddress.ts';
import { rateLimit } from '../../src/api/rateLimit.ts';
import { cleanupAll, startServer } from '../support/testServer.ts';

after(async () => {
  await cleanupAll();
});

function fakeRequest(peer: string, headers: Record<string, string> = {}): IncomingMessage {
  return { socket: { remoteAddress: peer }, headers } as unknown as IncomingMessage;
}

function trust(raw: string): TrustProxy {
  const parsed = parseTrustProxy(raw);
  assert.ok(parsed.ok, raw);
  return parsed.value;
}

describe('clientAddress', () => {
  it('off by default: forwarding headers are ignored, the peer is the client', () => {
    const off = trust('');
    assert.equal(clientAddress(fakeRequest('10.0.0.5', { 'x-forwarded-for': '1.2.3.4', 'x-real-ip': '5.6.7.8' }), off), '10.0.0.5');
    assert.equal(clientAddress(fakeRequest('::ffff:10.0.0.5'), off), '10.0.0.5', 'IPv4-mapped peers are plain IPv4');
  });

  it('a hop count: the address that many hops out, read from the right of X-Forwarded-For', () => {
    const one = trust('1');
    assert.equal(clientAddress(fakeRequest('10.0.0.1', { 'x-forwarded-for': 'spoofed, 203.0.113.7' }), one), '203.0.113.7');
    assert.equal(clientAddress(fakeRequest('10.0.0.1', { 'x-forwarded-for': 'a, b, 203.0.113.7' }), trust('2')), 'b');
    assert.equal(clientAddress(fakeRequest('10.0.0.1', { 'x-real-ip': '203.0.113.9' }), one), '203.0.113.9', 'X-Real-IP from a trusted proxy');
    assert.equal(clientAddress(fakeRequest('10.0.0.1'), one), '10.0.0.1');
  });

  it('a list: the nearest address that is not a listed proxy', () => {
    const list = trust('loopback, 10.0.0.0/8, 192.0.2.1');
    assert.equal(clientAddress(fakeRequest('127.0.0.1', { 'x-forwarded-for': 'spoofed, 203.0.113.7, 10.1.2.3' }), list), '203.0.113.7');
    assert.equal(clientAddress(fakeRequest('198.51.100.1', { 'x-forwarded-for': '203.0.113.7' }), list), '198.51.100.1', 'an untrusted peer is the client');
    assert.equal(clientAddress(fakeRequest('::1', { 'x-forwarded-for': '2001:db8::1' }), list), '2001:db8::1');
  });

  it('refuses settings that are neither a hop count nor addresses', () => {
    for (const raw of ['true', 'yes', '10.0.0.0/33', 'example.com', '1.2.3.4/8/1', '101']) assert.equal(parseTrustProxy(raw).ok, false, raw);
  });

  it('spoofed X-Forwarded-For values add no limiter entries when no proxy is trusted', () => {
    const limiter = rateLimit({ windowMs: 60_000, maxRequests: 3, cleanupMs: 60_000, trustProxy: trust('') });
    const results = Array.from({ length: 50 }, (_, i) => limiter.allows(fakeRequest('127.0.0.1', { 'x-forwarded-for': `198.51.100.${i}` })));
    assert.equal(limiter.size(), 1);
    assert.deepEqual(results.slice(0, 4), [true, true, true, false]);
    limiter.stop();
  });
});

describe('rate limit key over HTTP', () => {
  const headers = (ip: string) => ({ 'x-forwarded-for': ip, 'x-real-ip': ip });

  it('without TRUST_PROXY, changing X-Forwarded-For does not escape the limit', async () => {
    const srv = await startServer({ env: { RATE_LIMIT_MAX_REQUESTS: '3' } });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await srv.request('GET', '/jobs/x', undefined, headers(`198.51.100.${i}`))).status);
    assert.deepEqual(statuses, [404, 404, 404, 429, 429, 429]);
    await srv.stop();
  });

  it('with TRUST_PROXY=1 (one proxy in front), the address it forwards is the client', async () => {
    const srv = await startServer({ env: { RATE_LIMIT_MAX_REQUESTS: '3', TRUST_PROXY: '1' } });
    for (let i = 0; i < 3; i++) assert.equal((await srv.request('GET', '/jobs/x', undefined, headers('198.51.100.1'))).status, 404);
    assert.equal((await srv.request('GET', '/jobs/x', undefined, headers('198.51.100.1'))).status, 429);
    // A client's own X-Forwarded-For entry is left of what the proxy appends: it changes nothing.
    assert.equal((await srv.request('GET', '/jobs/x', undefined, { 'x-forwarded-for': 'spoofed, 198.51.100.1' })).status, 429);
    assert.equal((await srv.request('GET', '/jobs/x', undefined, headers('198.51.100.2'))).status, 404, 'another client');
    await srv.stop();
  });

  it('TRUST_PROXY with a bad value stops the server at start, naming the variable', async () => {
    await assert.rejects(startServer({ env: { TRUST_PROXY: 'everyone' } }), /TRUST_PROXY must be a hop count/);
  });
});

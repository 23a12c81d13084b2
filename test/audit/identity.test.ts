// The parts of a request's actor: AUTH_TOKENS names (`name:token`, plain
// tokens named by fingerprint), the request id a client may send, and the
// rendering readers of the log get.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { parseAuthTokens } from '../../src/api/authTokens.ts';
import { acceptedRequestId, newRequestId } from '../../src/api/requestId.ts';
import { fingerprint, TokenSet } from '../../src/api/TokenSet.ts';
import { actorOf } from '../../src/domain/actor.ts';
import { decodeEntry, encodeEntry } from '../../src/domain/entryCodec.ts';
import { ConfigError, loadConfig } from '../../src/server/config.ts';
import { UUID_V7 } from '../support/testServer.ts';

const sha8 = (token: string) => createHash('sha256').update(token).digest('hex').slice(0, 8);

describe('AUTH_TOKENS names', () => {
  it('name:token names a token, split at the first colon; a plain token is named by its fingerprint', () => {
    const parsed = parseAuthTokens(['alice:secret-a', 'plain-secret', 'bob:with:colons', ':no-name', 'has space:tok', 'trailing:']);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value, [
      { name: 'alice', token: 'secret-a' },
      { name: `sha256:${sha8('plain-secret')}`, token: 'plain-secret' },
      { name: 'bob', token: 'with:colons' },
      { name: `sha256:${sha8(':no-name')}`, token: ':no-name' },
      { name: `sha256:${sha8('has space:tok')}`, token: 'has space:tok' },
      { name: `sha256:${sha8('trailing:')}`, token: 'trailing:' },
    ]);
    assert.equal(fingerprint('plain-secret'), `sha256:${sha8('plain-secret')}`);
  });

  it('a repeated item is harmless; one name for two tokens or two names for one token is refused', () => {
    assert.deepEqual(parseAuthTokens(['a:x', 'a:x', 'tok', 'tok']), {
      ok: true,
      value: [
        { name: 'a', token: 'x' },
        { name: fingerprint('tok'), token: 'tok' },
      ],
    });
    assert.deepEqual(parseAuthTokens(['a:x', 'a:y']), { ok: false, error: 'the name "a" is given to two different tokens' });
    assert.deepEqual(parseAuthTokens(['a:x', 'b:x']), { ok: false, error: 'one token is given two names ("a" and "b")' });
  });

  it('the configuration refuses an ambiguous list at start without printing a secret', () => {
    assert.throws(
      () => loadConfig({ AUTH_TOKENS: 'ops:hunter2,ci:hunter2' }),
      (err: Error) => err instanceof ConfigError && /AUTH_TOKENS/.test(err.message) && !err.message.includes('hunter2'),
    );
    assert.deepEqual(loadConfig({ AUTH_TOKENS: ' ops:tok-1 , tok-2 ' }).AUTH_TOKENS, [
      { name: 'ops', token: 'tok-1' },
      { name: fingerprint('tok-2'), token: 'tok-2' },
    ]);
  });

  it('TokenSet tells which token was presented, by name', () => {
    const tokens = new TokenSet([{ name: 'alice', token: 'secret-a' }, 'plain-secret']);
    assert.equal(tokens.nameOf('secret-a'), 'alice');
    assert.equal(tokens.nameOf('plain-secret'), fingerprint('plain-secret'));
    for (const wrong of ['secret-', 'alice', 'alice:secret-a', '', undefined]) assert.equal(tokens.nameOf(wrong), undefined);
    assert.equal(tokens.accepts('secret-a'), true);
  });
});

describe('request ids', () => {
  it('a client id is kept when printable ASCII and at most 128 characters; a number as its text', () => {
    assert.equal(acceptedRequestId('abc-123'), 'abc-123');
    assert.equal(acceptedRequestId('a b'), 'a b');
    assert.equal(acceptedRequestId('x'.repeat(128)), 'x'.repeat(128));
    assert.equal(acceptedRequestId(42), '42');
    for (const bad of ['x'.repeat(129), '', ' lead', 'trail ', 'tab\there', 'caf\u00e9', 'new\nline', null, undefined, {}, NaN, Infinity, ['a']]) {
      assert.equal(acceptedRequestId(bad), null, JSON.stringify(bad));
    }
  });

  it('a generated id is a UUIDv7', () => {
    assert.match(newRequestId(), UUID_V7);
  });
});

describe('actorOf', () => {
  it('renders a request, a server decision, and an entry of the old format (null)', () => {
    assert.deepEqual(actorOf({ by: { t: 'alice', a: '::1', r: 'id-1' } }), { kind: 'request', token: 'alice', address: '::1', requestId: 'id-1' });
    assert.deepEqual(actorOf({ by: { t: null, a: '127.0.0.1', r: 'id-2' } }), { kind: 'request', token: null, address: '127.0.0.1', requestId: 'id-2' });
    assert.deepEqual(actorOf({ by: { s: 'lease expired' } }), { kind: 'server', reason: 'lease expired' });
    assert.equal(actorOf({ by: null }), null);
    assert.equal(actorOf({}), null);
  });

  it('survives the codec with short keys', () => {
    const entry = { type: 'cancel' as const, at: 1, queue: 'q', jobId: 'j', prev: 'waiting' as const, by: { t: 'alice', a: '::1', r: 'id-1' } };
    const { type, payload } = encodeEntry(entry);
    const text = new TextDecoder().decode(payload);
    assert.match(text, /"v":2/);
    assert.match(text, /"by":\{"t":"alice","a":"::1","r":"id-1"\}/);
    assert.deepEqual(actorOf(decodeEntry(type, payload)), { kind: 'request', token: 'alice', address: '::1', requestId: 'id-1' });
  });
});

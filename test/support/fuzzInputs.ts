/**
 * fast-check generators of hostile input, shared by the HTTP and WebSocket
 * fuzz suites: names and ids (unicode, control characters, broken
 * percent-encodings, huge), values of the wrong type for every push field,
 * JSON bodies as text (with tokens JSON.stringify cannot write, like 1e999),
 * query strings and headers.
 */
import fc from 'fast-check';
import { encodeSegment } from './hostile.ts';

/** The push body's fields (src/domain/pushOptions.ts pushOptionsSchema). */
export const PUSH_FIELDS = [
  'data', 'priority', 'delay', 'maxAttempts', 'backoff', 'ttl', 'timeout', 'uniqueKey', 'jobId', 'tags', 'groupId',
  'lifo', 'removeOnComplete', 'removeOnFail', 'durable', 'dependsOn', 'repeat',
] as const;

/** Numbers at the edges, as JSON text: 1e999 parses to Infinity, 1e-400 to 0, -0 stays -0. */
const edgeNumberText = fc.constantFrom(
  '1e999', '-1e999', '1e308', '-1e308', '1.7976931348623157e308', '5e-324', '1e-400', '-0', '0', '-1', '0.5', '-0.5',
  '9007199254740993', '-9007199254740993', '18446744073709551616', '2147483648', '4294967296', '1e21', '123456789012345678901234567890',
);

/** Strings that look like numbers or are hostile in themselves. */
const trickyString = fc.constantFrom(
  'NaN', 'Infinity', '-Infinity', '1e999', '0x10', '', ' ', '\u0000', '\uFEFF', '__proto__', 'constructor', 'toString',
  '../../etc/passwd', '%00', '\uD800', '\uDFFF', '🦄🏳️‍🌈', 'e\u0301', 'a'.repeat(2000), '{"x":1}', 'null', 'true',
);

/** Any string: printable, full unicode (lone surrogates included), control characters. */
export const anyString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)), maxLength: 10 }) },
  { weight: 2, arbitrary: trickyString },
);

/** A JSON value as text; includes number tokens only text can carry. */
export const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('null', 'true', 'false'),
    edgeNumberText,
    fc.double().map((n) => (Number.isFinite(n) ? JSON.stringify(n) : '1e999')),
    anyString.map((s) => JSON.stringify(s)),
    fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
    fc
      .array(fc.tuple(fc.oneof(anyString, fc.constantFrom(...PUSH_FIELDS, '__proto__', 'constructor')), tie('value')), { maxLength: 4 })
      .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
  ),
})).value;

/** A push body that is valid except for one or more fields given a value of the wrong type or range. */
export const pushBodyWithWrongFields: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof(jsonText, fc.constant('{"x":1}')),
    fc.uniqueArray(fc.constantFrom(...PUSH_FIELDS), { minLength: 1, maxLength: 4 }),
    fc.array(jsonText, { minLength: 4, maxLength: 4 }),
    fc.boolean(),
  )
  .map(([data, fields, values, dropData]) => {
    const entries = fields.map((field, i) => `${JSON.stringify(field)}:${values[i]}`);
    if (!fields.includes('data') && !dropData) entries.unshift(`"data":${data}`);
    return `{${entries.join(',')}}`;
  });

/** Valid push options at their extremes (huge, tiny, unicode): the server must accept or refuse them, never fail. */
export const extremePushBody = fc
  .record(
    {
      data: fc.jsonValue({ maxDepth: 3 }),
      priority: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(-1e308, 1e308, -0)),
      // Mostly ready at once (so the lifecycle suite can pull it), sometimes delayed far past any timer.
      delay: fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(0, 5e-324, 1e-300, -0) },
        { weight: 1, arbitrary: fc.constantFrom(1e15, 1e308, 8.64e15, Number.MAX_SAFE_INTEGER, 2 ** 31) },
      ),
      maxAttempts: fc.constantFrom(1, 2, 1e9, Number.MAX_SAFE_INTEGER, 1e300),
      backoff: fc.oneof(
        fc.constantFrom(0, 1e308, 5e-324, 2 ** 31),
        fc.record({ type: fc.constantFrom('fixed', 'exponential'), delay: fc.constantFrom(0, 1, 1e308), jitter: fc.double({ min: 0, max: 1, noNaN: true }) }),
      ),
      ttl: fc.constantFrom(null, 0, 1, 1e308, 2 ** 53),
      timeout: fc.constantFrom(null, 5e-324, 1, 1e308),
      uniqueKey: fc.oneof(fc.constant(null), fc.string({ unit: 'binary', minLength: 1, maxLength: 60 })),
      jobId: fc.oneof(fc.constant(null), fc.string({ unit: 'binary', minLength: 1, maxLength: 60 })),
      tags: fc.array(anyString, { maxLength: 5 }),
      groupId: fc.oneof(fc.constant(null), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 })),
      lifo: fc.boolean(),
      removeOnComplete: fc.boolean(),
      removeOnFail: fc.boolean(),
      durable: fc.boolean(),
      dependsOn: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(anyString, { minLength: 1, maxLength: 3 }) }),
      repeat: fc.oneof(
        fc.constant(null),
        fc.record({ every: fc.constantFrom(5e-324, 1, 1e308, 2 ** 31), limit: fc.constantFrom(null, 1, 2, Number.MAX_SAFE_INTEGER) }),
      ),
    },
    { requiredKeys: ['data'] },
  )
  .map((body) => JSON.stringify(body));

/** Queue names and job ids as path segments: mostly encoded, some raw and malformed. */
export const pathSegment = (known: readonly string[] = []): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,40}$/) },
    { weight: 4, arbitrary: anyString.filter((s) => s.length > 0).map(encodeSegment) },
    { weight: 1, arbitrary: fc.string({ minLength: 250, maxLength: 1100, unit: fc.constantFrom('a', 'b', '-', '.', ':', '_') }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '%', '%%', '%E0%A4%A', '%ED%A0%80', '%C0%AF', '%FF%FE', '%00', '..%2F..%2Fetc', '%2e%2e', '%252F', '%u0041', 'a%20b',
        '%F0%9F%A6%84', '%0D%0ASet-Cookie:%20x', '.', '..', '~', "'", '%22', '%3Cscript%3E',
      ),
    },
    { weight: known.length > 0 ? 2 : 0, arbitrary: known.length > 0 ? fc.constantFrom(...known).map(encodeSegment) : fc.constant('x') },
  );

/** Query parameter values for ?timeout=, ?wait=, ?from=, ?token= and unknown keys. */
const queryValue = fc.oneof(
  fc.integer({ min: 0, max: 30 }).map(String),
  fc.constantFrom(
    '-1', '-0', '1.5', '1e3', '0x10', 'NaN', 'Infinity', '', ' ', '00000000000000000000000007', '1e999', 'abc', '0:0', '1:', ':1',
    '99999999999999999999:1', '%', '%ZZ', '%E0%A4%A', '[]', 'a=b', '%26', 'true',
    // Times, positions and cursors of the history and time-travel routes.
    '2026-12-08T00:00:00Z', '2026-13-45T25:61:00Z', '1764000000000', '9007199254740993', '1:0:3', '3:1:2', '-1:0:1', '2:99999:1', '1:0',
  ),
  anyString.map(encodeSegment),
);

/** A query string (or none). `?timeout=` only ever asks for a short long-poll: a long one would just wait. */
export const queryString = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom('timeout', 'wait', 'from', 'to', 'at', 'position', 'cursor', 'offset', 'token', 'limit', 'timeout[]', 'from[a]', '__proto__'),
        anyString.map(encodeSegment),
      ),
      queryValue,
    ),
    { maxLength: 4 },
  )
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`));

const contentTypes = fc.constantFrom(
  'application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'application/json; charset=utf-16',
  'APPLICATION/JSON', 'application/vnd.api+json', 'application/jsonx', 'application/json-patch+json', 'text/plain', 'text/json',
  'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '*/*', 'json', ';;;', 'application/json; charset="utf-8"',
);

/** Header values a fetch will send (visible ASCII and spaces). */
const headerValue = fc.string({ maxLength: 60, unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) });

/** A random header set: content types, encodings, cursors, tokens, forwarding, unknown names. */
export const headerSet: fc.Arbitrary<Record<string, string>> = fc
  .record(
    {
      'content-type': contentTypes,
      'content-encoding': fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-garbage', 'gzip, gzip'),
      'last-event-id': fc.oneof(fc.constantFrom('0', '1', '-1', '1:2', '99999999999999999999', 'abc', ''), headerValue),
      authorization: fc.oneof(fc.constantFrom('Bearer', 'Bearer ', 'Basic YTpi', 'bearer x'), headerValue),
      'x-forwarded-for': fc.oneof(fc.ipV4(), fc.ipV6(), headerValue),
      accept: fc.constantFrom('*/*', 'text/event-stream', 'application/xml', ''),
      'x-fuzz': headerValue,
    },
    { requiredKeys: [] },
  )
  .map((headers) => Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<string, string>);

/** Bytes that are not UTF-8: stray continuation bytes, overlong forms, encoded surrogates, 0xFF. */
export const invalidUtf8Body = fc
  .tuple(
    fc.constantFrom('{"data":"', '{"data":', '', '{"', '["'),
    fc.constantFrom([0xff], [0xfe, 0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80]),
    fc.constantFrom('"}', '}', '', '"]'),
  )
  .map(([head, bad, tail]) => new Uint8Array([...Buffer.from(head), ...bad, ...Buffer.from(tail)]));

/** A request body: none, any JSON text, a wrong push, truncated JSON, garbage text or invalid UTF-8. */
export const bodyOf: fc.Arbitrary<string | Uint8Array | undefined> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: jsonText },
  { weight: 3, arbitrary: pushBodyWithWrongFields },
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.tuple(pushBodyWithWrongFields, fc.nat()).map(([text, cut]) => text.slice(0, cut % Math.max(1, text.length))) },
  { weight: 1, arbitrary: anyString },
  { weight: 1, arbitrary: invalidUtf8Body },
);

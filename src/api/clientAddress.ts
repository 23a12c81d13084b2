import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';
import type { ParseResult } from '../domain/pushOptions.ts';

/**
 * Which peers may tell us who the client is (TRUST_PROXY). Forwarding headers
 * are written by whoever sends the request, so they are believed only from a
 * proxy the operator named: by default the peer address is the client.
 * `trusts(address, hop)` is proxy-addr's test, with express's `trust proxy`
 * meaning: hop 0 is the peer, then X-Forwarded-For from its right end.
 */
export type TrustProxy = { kind: 'none' } | { kind: 'proxies'; trusts: (address: string, hop: number) => boolean };

/** A key longer than this is no address: cut, so one header cannot make a large limiter entry. */
const MAX_KEY_LENGTH = 100;
const MAX_HOPS = 100;

/**
 * `''` or `0` → none; an integer → that many proxies in front; otherwise a
 * comma list of addresses, CIDRs and proxy-addr's range names (`loopback`,
 * `linklocal`, `uniquelocal`).
 */
export function parseTrustProxy(raw: string): ParseResult<TrustProxy> {
  const text = raw.trim();
  if (text === '' || text === '0') return { ok: true, value: { kind: 'none' } };
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops > MAX_HOPS) return { ok: false, error: `must be a hop count from 0 to ${MAX_HOPS}, or a list of addresses / CIDRs` };
    return { ok: true, value: { kind: 'proxies', trusts: (_address, hop) => hop < hops } };
  }
  const items = text.split(',').map((part) => part.trim()).filter((part) => part !== '');
  try {
    return { ok: true, value: { kind: 'proxies', trusts: proxyaddr.compile(items) } };
  } catch (err) {
    return {
      ok: false,
      error: `must be a hop count, or a comma list of IP addresses, CIDRs, loopback, linklocal or uniquelocal (${(err as Error).message})`,
    };
  }
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is 10.0.0.1. */
function normalize(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? (mapped[1] as string) : address;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** The address a request is attributed to (the rate limit's key), for HTTP requests and WebSocket upgrades alike. */
export function clientAddress(req: IncomingMessage, trust: TrustProxy): string {
  const peer = normalize(req.socket.remoteAddress ?? 'unknown');
  if (trust.kind === 'none' || !trust.trusts(peer, 0)) return peer;
  // A trusted proxy that sends no X-Forwarded-For may still name the client in X-Real-IP (nginx's habit).
  const client = header(req, 'x-forwarded-for')?.trim() ? proxyaddr(req, trust.trusts) : header(req, 'x-real-ip')?.trim() || peer;
  return normalize(client).slice(0, MAX_KEY_LENGTH);
}

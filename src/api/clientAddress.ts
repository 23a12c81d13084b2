import type { IncomingMessage } from 'node:http';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { ParseResult } from '../domain/pushOptions.ts';

/**
 * Which peers may tell us who the client is (TRUST_PROXY). Forwarding headers
 * are written by whoever sends the request, so they are believed only from a
 * proxy the operator named: by default the peer address is the client.
 * - `none`: X-Forwarded-For and X-Real-IP are ignored.
 * - `hops`: the nearest `hops` addresses (the peer, then X-Forwarded-For from
 *   its right end) are proxies; the next one is the client.
 * - `addresses`: proxies are the listed addresses / CIDRs (or `loopback`,
 *   `linklocal`, `uniquelocal`); the client is the nearest address not listed.
 * The same rules as express's `trust proxy` with a number or a list.
 */
export type TrustProxy = { kind: 'none' } | { kind: 'hops'; hops: number } | { kind: 'addresses'; list: BlockList };

const NAMED_RANGES: Record<string, string[]> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/** A key longer than this is no address: cut, so one header cannot make a large limiter entry. */
const MAX_KEY_LENGTH = 100;

/** `''` or `0` → none; an integer → hops; otherwise a comma list of addresses, CIDRs and range names. */
export function parseTrustProxy(raw: string): ParseResult<TrustProxy> {
  const text = raw.trim();
  if (text === '' || text === '0') return { ok: true, value: { kind: 'none' } };
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops > 100) return { ok: false, error: 'must be a hop count from 0 to 100, or a list of addresses / CIDRs' };
    return { ok: true, value: { kind: 'hops', hops } };
  }
  const list = new BlockList();
  for (const item of text.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    for (const entry of NAMED_RANGES[item.toLowerCase()] ?? [item]) {
      if (!addEntry(list, entry)) {
        return { ok: false, error: `must be a hop count, or a comma list of IP addresses, CIDRs, loopback, linklocal or uniquelocal: "${item}" is none` };
      }
    }
  }
  return { ok: true, value: { kind: 'addresses', list } };
}

function addEntry(list: BlockList, entry: string): boolean {
  const [address, prefixText, extra] = entry.split('/');
  if (extra !== undefined || address === undefined) return false;
  const type = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null;
  if (type === null) return false;
  if (prefixText === undefined) {
    list.addAddress(address, type);
    return true;
  }
  const prefix = /^\d+$/.test(prefixText) ? Number(prefixText) : -1;
  if (prefix < 0 || prefix > (type === 'ipv4' ? 32 : 128)) return false;
  list.addSubnet(address, prefix, type);
  return true;
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is 10.0.0.1. */
function normalize(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? (mapped[1] as string) : address;
}

function listed(list: BlockList, address: string): boolean {
  if (isIPv4(address)) return list.check(address, 'ipv4');
  if (isIPv6(address)) return list.check(address, 'ipv6');
  return false;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** The address a request is attributed to (the rate limit's key), for HTTP requests and WebSocket upgrades alike. */
export function clientAddress(req: IncomingMessage, trust: TrustProxy): string {
  const peer = normalize(req.socket.remoteAddress ?? 'unknown');
  if (trust.kind === 'none') return peer;
  // `hop` counts from the peer (0) outwards through X-Forwarded-For, read from its right end.
  const trusted = (address: string, hop: number) => (trust.kind === 'hops' ? hop < trust.hops : listed(trust.list, address));
  if (!trusted(peer, 0)) return peer;
  const forwarded = (header(req, 'x-forwarded-for') ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .reverse();
  if (forwarded.length === 0) return (header(req, 'x-real-ip')?.trim() || peer).slice(0, MAX_KEY_LENGTH);
  let client = peer;
  for (let hop = 1; hop <= forwarded.length; hop++) {
    client = normalize(forwarded[hop - 1] as string);
    if (!trusted(client, hop)) break;
  }
  return client.slice(0, MAX_KEY_LENGTH);
}

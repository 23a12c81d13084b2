import type { ParseResult } from '../domain/pushOptions.ts';
import { fingerprint, type NamedToken } from './TokenSet.ts';

/** What may precede the first `:` of a named token. */
const NAME = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * AUTH_TOKENS items: `name:token` names a token (split at the first `:`, so
 * the token may contain more); an item whose part before the first `:` is no
 * name, or that has no `:`, is a plain token, named by its fingerprint.
 * Repeating an item is harmless; one name for two tokens, or one token under
 * two names, is refused: the log could not say who acted.
 */
export function parseAuthTokens(items: readonly string[]): ParseResult<NamedToken[]> {
  const byName = new Map<string, string>();
  const byToken = new Map<string, string>();
  const tokens: NamedToken[] = [];
  for (const item of items) {
    const colon = item.indexOf(':');
    const named = colon > 0 && NAME.test(item.slice(0, colon)) && colon < item.length - 1;
    const name = named ? item.slice(0, colon) : fingerprint(item);
    const token = named ? item.slice(colon + 1) : item;
    const known = byName.get(name);
    if (known !== undefined) {
      if (known === token) continue;
      return { ok: false, error: `the name "${name}" is given to two different tokens` };
    }
    const other = byToken.get(token);
    if (other !== undefined) return { ok: false, error: `one token is given two names ("${other}" and "${name}")` };
    byName.set(name, token);
    byToken.set(token, name);
    tokens.push({ name, token });
  }
  return { ok: true, value: tokens };
}

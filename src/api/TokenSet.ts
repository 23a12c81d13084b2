import { createHash, timingSafeEqual } from 'node:crypto';

/** A configured API token and the name entries record for it (the secret is never logged). */
export interface NamedToken {
  name: string;
  token: string;
}

/**
 * The configured API tokens, compared in constant time: tokens are hashed to
 * fixed-length digests first, so neither the length nor the content of a
 * configured token leaks through timing, and every token is compared on
 * every check.
 */
export class TokenSet {
  private readonly digests: Buffer[];
  private readonly names: string[];

  /** A plain string is a token without a name: it is known by its fingerprint. */
  constructor(tokens: readonly (string | NamedToken)[]) {
    const named = tokens.map((t) => (typeof t === 'string' ? { name: fingerprint(t), token: t } : t));
    this.digests = named.map((t) => digest(t.token));
    this.names = named.map((t) => t.name);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  accepts(candidate: string | undefined): boolean {
    return this.nameOf(candidate) !== undefined;
  }

  /** The name of the configured token `candidate` is; undefined when it is none of them. */
  nameOf(candidate: string | undefined): string | undefined {
    if (candidate === undefined) return undefined;
    const presented = digest(candidate);
    let name: string | undefined;
    for (let i = 0; i < this.digests.length; i++) {
      if (timingSafeEqual(presented, this.digests[i] as Buffer)) name = this.names[i];
    }
    return name;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * The name of a token configured without one: `sha256:` and the first 8 hex
 * digits of its SHA-256. Tells tokens apart in the log without revealing them;
 * no configured name can take this form, since names cannot contain `:`.
 */
export function fingerprint(token: string): string {
  return `sha256:${digest(token).toString('hex').slice(0, 8)}`;
}

/** The token of `Authorization: Bearer <token>`, if that is what the header holds. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
  return match ? match[1].trim() : undefined;
}

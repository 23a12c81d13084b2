import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * The configured API tokens, compared in constant time: tokens are hashed to
 * fixed-length digests first, so neither the length nor the content of a
 * configured token leaks through timing, and every token is compared on
 * every check.
 */
export class TokenSet {
  private readonly digests: Buffer[];

  constructor(tokens: readonly string[]) {
    this.digests = tokens.map(digest);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  accepts(candidate: string | undefined): boolean {
    if (candidate === undefined) return false;
    const presented = digest(candidate);
    let match = false;
    for (const known of this.digests) match = timingSafeEqual(presented, known) || match;
    return match;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** The token of `Authorization: Bearer <token>`, if that is what the header holds. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
  return match ? match[1].trim() : undefined;
}

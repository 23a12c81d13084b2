import type { RequestHandler } from 'express';
import { sendError } from './errors.ts';
import { skipsAuth, takesQueryToken } from './publicEndpoints.ts';
import { bearerToken, type TokenSet } from './TokenSet.ts';

/**
 * With AUTH_TOKENS set, every endpoint but the contract's public ones needs
 * `Authorization: Bearer <token>`; event streams accept `?token=` instead.
 */
export function requireToken(tokens: TokenSet, metricsNeedAuth: boolean): RequestHandler {
  return (req, res, next) => {
    if (!tokens.enabled || skipsAuth(req, metricsNeedAuth)) return next();
    if (tokens.accepts(bearerToken(req.headers.authorization))) return next();
    if (takesQueryToken(req) && tokens.accepts(queryToken(req.query.token))) return next();
    sendError(res, 401, 'Unauthorized');
  };
}

/** `?token=` when given once as a plain string. */
export function queryToken(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

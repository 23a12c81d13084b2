import type { RequestHandler } from 'express';
import { sendError } from './errors.ts';
import { skipsAuth, takesQueryToken } from './publicEndpoints.ts';
import { bearerToken, type TokenSet } from './TokenSet.ts';

/**
 * With AUTH_TOKENS set, every endpoint but the contract's public ones needs
 * `Authorization: Bearer <token>`; event streams accept `?token=` instead.
 * The accepted token's name goes to `res.locals.tokenName`, for the log.
 */
export function requireToken(tokens: TokenSet, metricsNeedAuth: boolean): RequestHandler {
  return (req, res, next) => {
    if (!tokens.enabled || skipsAuth(req, metricsNeedAuth)) return next();
    const name =
      tokens.nameOf(bearerToken(req.headers.authorization)) ?? (takesQueryToken(req) ? tokens.nameOf(queryToken(req.query.token)) : undefined);
    if (name === undefined) return sendError(res, 401, 'Unauthorized');
    res.locals.tokenName = name;
    next();
  };
}

/** `?token=` when given once as a plain string. */
export function queryToken(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

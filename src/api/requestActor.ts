import type { Request, Response } from 'express';
import type { RequestActor } from '../domain/entries.ts';
import { clientAddress, type TrustProxy } from './clientAddress.ts';
import { newRequestId } from './requestId.ts';

declare global {
  namespace Express {
    interface Locals {
      /** Set by `requestIds`: this request's id, echoed in X-Request-Id. */
      requestId?: string;
      /** Set by `requireToken`: the name of the token the request presented (absent without AUTH_TOKENS). */
      tokenName?: string;
    }
  }
}

const NO_PROXY: TrustProxy = { kind: 'none' };

/**
 * Who makes this request, for the entries it logs: its token's name (null
 * without AUTH_TOKENS), its address (TRUST_PROXY decides whose forwarding
 * headers count, as for the rate limit) and its request id. One object,
 * shared by every entry of the command.
 */
export function requestActor(req: Request, res: Response, trust: TrustProxy = NO_PROXY): RequestActor {
  let id = res.locals.requestId;
  if (id === undefined) {
    // Mounted without `requestIds` (an embedding or a test): the id still reaches the client.
    id = res.locals.requestId = newRequestId();
    res.setHeader('X-Request-Id', id);
  }
  return { t: res.locals.tokenName ?? null, a: clientAddress(req, trust), r: id };
}

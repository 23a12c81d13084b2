import type { DomainError } from './DomainError.ts';
import type { Entry } from './entries.ts';

/** What a rule decided: the entries to log, in order, and the answer for the caller. */
export interface Decision<R> {
  entries: Entry[];
  result: R;
}

export type Decided<R> = Decision<R> | DomainError;

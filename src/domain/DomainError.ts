/** A command rejected by the rules. The api layer alone maps `code` to an HTTP status. */
export type DomainErrorCode = 'invalid' | 'not_found' | 'not_active' | 'bad_token';

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const jobNotActive = () => new DomainError('not_active', 'Job not found or not active');
export const jobNotFound = () => new DomainError('not_found', 'Job not found');
export const badToken = () => new DomainError('bad_token', 'Invalid or expired lock token');

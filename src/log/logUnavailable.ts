import { LogStalledError } from './LogStalledError.ts';
import { LogWriteError } from './LogWriteError.ts';

/** The log cannot take changes now: disk full (stalled, resumes by itself) or a write failed (final). Both answer 503. */
export type LogUnavailableError = LogStalledError | LogWriteError;

export function isLogUnavailable(error: unknown): error is LogUnavailableError {
  return error instanceof LogStalledError || error instanceof LogWriteError;
}

import type { DecideContext } from '../domain/DecideContext.ts';
import type { Decided } from '../domain/Decision.ts';
import { decideAck } from '../domain/decideAck.ts';
import { decideFail } from '../domain/decideFail.ts';
import { decideProgress } from '../domain/decideProgress.ts';
import type { PullResult } from '../domain/decidePull.ts';
import type { JobsView } from '../domain/JobsView.ts';
import type { ParseResult } from '../domain/pushOptions.ts';
import type { Ledger } from '../commands/Ledger.ts';
import { jobView } from './jobView.ts';
import { ackBodySchema, failBodySchema, parseOptionalBody, progressBodySchema } from './requestSchemas.ts';

/**
 * Job commands as both transports receive them: a job id and a JSON body,
 * parsed into the decision to run. HTTP routes and WebSocket commands call
 * these, so a field means the same and fails the same way on either.
 */
export type JobDecision = (view: JobsView, ctx: DecideContext) => Decided<null>;

export function ackCommand(id: string, body: unknown): ParseResult<JobDecision> {
  const parsed = parseOptionalBody(ackBodySchema, body);
  if (!parsed.ok) return parsed;
  const { token, result } = parsed.value;
  return { ok: true, value: (view, ctx) => decideAck(view, id, token, result, ctx) };
}

export function failCommand(id: string, body: unknown): ParseResult<JobDecision> {
  const parsed = parseOptionalBody(failBodySchema, body);
  if (!parsed.ok) return parsed;
  const { token, error } = parsed.value;
  return { ok: true, value: (view, ctx) => decideFail(view, id, token, error, ctx) };
}

export function progressCommand(id: string, body: unknown): ParseResult<JobDecision> {
  const parsed = parseOptionalBody(progressBodySchema, body);
  if (!parsed.ok) return parsed;
  const { token, progress, message } = parsed.value;
  return { ok: true, value: (view, ctx) => decideProgress(view, id, token, progress, message, ctx) };
}

/**
 * The answer to a pull that took a job, rendered at once (by the time the
 * fsync returns the job may have moved on) and handed over once durable.
 */
export async function pulledAnswer(ledger: Ledger, result: PullResult, position: number) {
  const job = ledger.state.job(result.jobId);
  const answer = { ok: true as const, job: job ? jobView(job) : null, token: result.token };
  await ledger.durable(position);
  return answer;
}

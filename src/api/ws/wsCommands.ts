import type { DecideContext } from '../../domain/DecideContext.ts';
import { decideCancel } from '../../domain/decideCancel.ts';
import { decideProgress } from '../../domain/decideProgress.ts';
import { decidePull, type PullResult } from '../../domain/decidePull.ts';
import { decidePush } from '../../domain/decidePush.ts';
import type { Lease } from '../../domain/decideRelease.ts';
import type { DomainError } from '../../domain/DomainError.ts';
import type { RequestActor } from '../../domain/entries.ts';
import type { JobsView } from '../../domain/JobsView.ts';
import { type ParseResult, parsePushOptions, parseQueueName } from '../../domain/pushOptions.ts';
import type { Ledger, Outcome } from '../../commands/Ledger.ts';
import { type PullWaiters, tooManyWaiters } from '../../commands/PullWaiters.ts';
import { ackCommand, failCommand, type JobDecision, progressCommand, pulledAnswer } from '../jobCommands.ts';
import { jobView } from '../jobView.ts';
import { heartbeatBodySchema, parseOptionalBody, parsePullTimeout } from '../requestSchemas.ts';
import type { TokenSet } from '../TokenSet.ts';

/** A command as received: a JSON object with `cmd` and the command's fields. */
export type Message = Record<string, unknown>;

/** What a command answers (the connection adds the `reqId`). */
export type Answer = { ok: true; [field: string]: unknown } | { ok: false; error: string };

export interface CommandDeps {
  ledger: Ledger;
  waiters: PullWaiters;
  context: () => DecideContext;
  tokens: TokenSet;
}

/** The connection a command came on: it owns the leases pulled through it. */
export interface CommandClient {
  /** A lease pulled on this connection: released if the connection closes while the job is still held. */
  own(lease: Lease): void;
  /** The job left this connection's hands (acked, failed, cancelled). */
  disown(jobId: string): void;
  /** Runs `cancel` if the connection closes first; returns the deregistration. */
  onClose(cancel: () => void): () => void;
  /** The result of the last `Auth` command, and the name of its token (null: none, or none accepted). */
  setAuthenticated(authenticated: boolean, tokenName: string | null): void;
}

/** `actor`: who sends this command, recorded in every entry it logs. */
type Command = (message: Message, client: CommandClient, deps: CommandDeps, actor: RequestActor) => Answer | Promise<Answer>;

const refuse = (error: string): Answer => ({ ok: false, error });
const refuseDomain = (error: DomainError): Answer => refuse(error.message);

function jobIdOf(message: Message): ParseResult<string> {
  const id = message.id;
  return typeof id === 'string' && id !== '' ? { ok: true, value: id } : { ok: false, error: 'id must be a non-empty string' };
}

function queueOf(message: Message): ParseResult<string> {
  return typeof message.queue === 'string' ? parseQueueName(message.queue) : { ok: false, error: 'queue is required' };
}

/**
 * Answers with `ok` once the command's entries are on disk, like the HTTP
 * endpoints; a refusal once the state of job `id` it was decided from is.
 */
async function durably(ledger: Ledger, id: string, outcome: Outcome<unknown>, whenOk: () => void = () => {}): Promise<Answer> {
  if (!outcome.ok) {
    await ledger.settled(id);
    return refuseDomain(outcome.error);
  }
  whenOk();
  await ledger.durable(outcome.position);
  return { ok: true };
}

const push: Command = async (message, _client, { ledger, context }, actor) => {
  const queue = queueOf(message);
  if (!queue.ok) return refuse(queue.error);
  // The command's own fields (cmd, reqId, queue) are not push options: the schema drops unknown fields.
  const options = parsePushOptions(message);
  if (!options.ok) return refuse(options.error);
  const outcome = ledger.run((view) => decidePush(view, queue.value, options.value, context()), actor);
  if (!outcome.ok) {
    // Refused for a missing dependency: not before its removal is on disk.
    await ledger.settled(options.value.dependsOn ?? []);
    return refuseDomain(outcome.error);
  }
  if (options.value.durable) await ledger.durable(outcome.position);
  return { ok: true, id: outcome.result.id };
};

const pull: Command = async (message, client, { ledger, waiters, context }, actor) => {
  const queue = queueOf(message);
  if (!queue.ok) return refuse(queue.error);
  // Same rules as the HTTP query parameter (integer ms >= 0, capped at one minute).
  const timeout = parsePullTimeout(message.timeout === undefined ? undefined : String(message.timeout));
  if (!timeout.ok) return refuse(timeout.error);
  let outcome: Outcome<PullResult | null> = ledger.run((view) => decidePull(view, queue.value, context()), actor);
  if (outcome.ok && outcome.result === null && timeout.value > 0) {
    const waiting = waiters.wait(queue.value, timeout.value, actor);
    if (!waiting) return refuse(tooManyWaiters(queue.value, waiters.maxPerQueue));
    const forget = client.onClose(waiting.cancel);
    outcome = await waiting.outcome;
    forget();
  }
  if (!outcome.ok) return refuseDomain(outcome.error);
  if (outcome.result === null) return { ok: true, job: null, token: null };
  client.own(outcome.result);
  return pulledAnswer(ledger, outcome.result, outcome.position);
};

/** A job command by id, parsed as over HTTP; `whenOk` runs once it is decided (before the fsync). */
function jobCommand(build: (id: string, body: unknown) => ParseResult<JobDecision>, whenOk?: (id: string, client: CommandClient) => void): Command {
  return (message, client, { ledger, context }, actor) => {
    const id = jobIdOf(message);
    if (!id.ok) return refuse(id.error);
    const command = build(id.value, message);
    if (!command.ok) return refuse(command.error);
    const outcome = ledger.run((view) => command.value(view, context()), actor);
    return durably(ledger, id.value, outcome, () => whenOk?.(id.value, client));
  };
}

const disown = (id: string, client: CommandClient) => client.disown(id);
const ack = jobCommand(ackCommand, disown);
const fail = jobCommand(failCommand, disown);
const progress = jobCommand(progressCommand);

/** A lease renewal that leaves the progress as it is. */
const heartbeat: Command = (message, _client, { ledger, context }, actor) => {
  const id = jobIdOf(message);
  if (!id.ok) return refuse(id.error);
  const body = parseOptionalBody(heartbeatBodySchema, message);
  if (!body.ok) return refuse(body.error);
  const decide = (view: JobsView) => decideProgress(view, id.value, body.value.token, undefined, undefined, context());
  return durably(ledger, id.value, ledger.run(decide, actor));
};

const getJob: Command = (message, _client, { ledger }) => {
  const id = jobIdOf(message);
  if (!id.ok) return refuse(id.error);
  // Rendered now, answered once what it shows is on disk (at once for a settled job), as GET /jobs/:id.
  const job = ledger.state.job(id.value);
  const answer: Answer = job ? { ok: true, job: jobView(job) } : refuse('Job not found');
  const settled = ledger.settled(id.value);
  return settled ? settled.then(() => answer) : answer;
};

const cancel: Command = (message, client, { ledger, context }, actor) => {
  const id = jobIdOf(message);
  if (!id.ok) return refuse(id.error);
  const outcome = ledger.run((view) => decideCancel(view, id.value, context()), actor);
  return durably(ledger, id.value, outcome, () => client.disown(id.value));
};

const ping: Command = () => ({ ok: true, pong: Date.now() });

/** Re-authenticates the connection: a wrong token leaves it unauthenticated until a good one comes. */
const auth: Command = (message, client, { tokens }) => {
  const token = typeof message.token === 'string' ? message.token : undefined;
  const name = tokens.enabled ? (tokens.nameOf(token) ?? null) : null;
  const accepted = !tokens.enabled || name !== null;
  client.setAuthenticated(accepted, name);
  return accepted ? { ok: true } : refuse('Invalid token');
};

/** By upper-cased `cmd`: the contract writes `PUSH` and `Auth`, clients may write either way. */
export const COMMANDS: ReadonlyMap<string, Command> = new Map([
  ['PUSH', push],
  ['PULL', pull],
  ['ACK', ack],
  ['FAIL', fail],
  ['PROGRESS', progress],
  ['HEARTBEAT', heartbeat],
  ['GETJOB', getJob],
  ['CANCEL', cancel],
  ['PING', ping],
  ['AUTH', auth],
]);

/** Commands an unauthenticated connection (after a failed `Auth`) may still send. */
export const OPEN_COMMANDS: ReadonlySet<string> = new Set(['AUTH', 'PING']);

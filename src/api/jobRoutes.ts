import { type Request, Router, type Response } from 'express';
import type { DecideContext } from '../domain/DecideContext.ts';
import { decideCancel } from '../domain/decideCancel.ts';
import { decidePull, type PullResult } from '../domain/decidePull.ts';
import { decidePush } from '../domain/decidePush.ts';
import { type ParseResult, parsePushOptions, parseQueueName } from '../domain/pushOptions.ts';
import type { Ledger, Outcome } from '../commands/Ledger.ts';
import { type PullWaiters, tooManyWaiters } from '../commands/PullWaiters.ts';
import type { TrustProxy } from './clientAddress.ts';
import { sendDomainError, sendError } from './errors.ts';
import { ackCommand, failCommand, type JobDecision, progressCommand, pulledAnswer } from './jobCommands.ts';
import { jobView } from './jobView.ts';
import { requestActor } from './requestActor.ts';
import { parsePullTimeout } from './requestSchemas.ts';
import type { TimedCommand } from '../monitoring/ServerMetrics.ts';

export interface JobRoutesDeps {
  ledger: Ledger;
  waiters: PullWaiters;
  context: () => DecideContext;
  /** Whose forwarding headers name the client (TRUST_PROXY), for the address the log records; none by default. */
  trustProxy?: TrustProxy;
  /** Latency of a carried-out (2xx) push, pull or ack: request to answer, fsync wait included. */
  recordLatency?: (command: TimedCommand, ms: number) => void;
}

/** The job endpoints: parse, run the command through the ledger, answer once durable. */
export function jobRoutes({ ledger, waiters, context, trustProxy, recordLatency }: JobRoutesDeps): Router {
  const router = Router();
  /** Who asks, recorded in every entry the command logs. */
  const askedBy = (req: Request, res: Response) => requestActor(req, res, trustProxy);

  /** Starts timing `command` for this answer; the returned function drops the measurement. */
  const time = (res: Response, command: TimedCommand): (() => void) => {
    if (!recordLatency) return () => {};
    const started = performance.now();
    const record = () => {
      if (res.statusCode >= 200 && res.statusCode < 300) recordLatency(command, performance.now() - started);
    };
    res.once('finish', record);
    return () => res.off('finish', record);
  };

  router.post('/queues/:queue/jobs', async (req, res) => {
    time(res, 'push');
    const queue = parseQueueName(req.params.queue);
    if (!queue.ok) return sendError(res, 400, queue.error);
    const options = parsePushOptions(req.body);
    if (!options.ok) return sendError(res, 400, options.error);
    const outcome = ledger.run((view) => decidePush(view, queue.value, options.value, context()), askedBy(req, res));
    if (!outcome.ok) {
      // Refused for a missing dependency: not before its removal is on disk.
      await ledger.settled(options.value.dependsOn ?? []);
      return sendDomainError(res, outcome.error);
    }
    if (options.value.durable) await ledger.durable(outcome.position);
    res.json({ ok: true, id: outcome.result.id });
  });

  router.get('/queues/:queue/jobs', async (req, res) => {
    const untime = time(res, 'pull');
    const queue = parseQueueName(req.params.queue);
    if (!queue.ok) return sendError(res, 400, queue.error);
    const timeout = parsePullTimeout(req.query.timeout);
    if (!timeout.ok) return sendError(res, 400, timeout.error);
    const actor = askedBy(req, res);
    let outcome: Outcome<PullResult | null> = ledger.run((view) => decidePull(view, queue.value, context()), actor);
    if (outcome.ok && outcome.result === null && timeout.value > 0) {
      // A pull that parks measures how long the queue stayed empty, not the server.
      untime();
      const waiting = waiters.wait(queue.value, timeout.value, actor);
      if (!waiting) {
        res.setHeader('Retry-After', '1');
        return sendError(res, 503, tooManyWaiters(queue.value, waiters.maxPerQueue));
      }
      res.on('close', waiting.cancel);
      outcome = await waiting.outcome;
    }
    await answerPull(res, ledger, outcome);
  });

  router.get('/jobs/:id', (req, res, next) => {
    // The job as it was at a past time or position: timeTravelRoutes answers.
    if (req.query.at !== undefined || req.query.position !== undefined) return next();
    // Rendered now, sent once what it shows is on disk: at once for a settled job (no promise).
    const job = ledger.state.job(req.params.id);
    const answer = job ? () => res.json({ ok: true, job: jobView(job) }) : () => sendError(res, 404, 'Job not found');
    const settled = ledger.settled(req.params.id);
    if (!settled) return answer();
    return settled.then(answer);
  });

  router.delete('/jobs/:id', async (req, res) => {
    const outcome = ledger.run((view) => decideCancel(view, req.params.id, context()), askedBy(req, res));
    await answerDone(res, ledger, outcome, req.params.id);
  });

  /** A command answered `{ok:true}` once durable; a body that does not parse is a 400. */
  const runJobCommand = async (req: Request, res: Response, command: ParseResult<JobDecision>) => {
    if (!command.ok) return sendError(res, 400, command.error);
    await answerDone(res, ledger, ledger.run((view) => command.value(view, context()), askedBy(req, res)), req.params.id as string);
  };

  router.post('/jobs/:id/ack', (req, res) => {
    time(res, 'ack');
    return runJobCommand(req, res, ackCommand(req.params.id, req.body));
  });
  router.post('/jobs/:id/fail', (req, res) => runJobCommand(req, res, failCommand(req.params.id, req.body)));
  router.post('/jobs/:id/progress', (req, res) => runJobCommand(req, res, progressCommand(req.params.id, req.body)));

  return router;
}

/**
 * A command on job `id` whose answer is just `{ok:true}`, sent once its entries
 * are on disk; a refusal, once the job state it was decided from is.
 */
async function answerDone(res: Response, ledger: Ledger, outcome: Outcome<unknown>, id: string): Promise<void> {
  if (!outcome.ok) {
    await ledger.settled(id);
    return sendDomainError(res, outcome.error);
  }
  await ledger.durable(outcome.position);
  res.json({ ok: true });
}

async function answerPull(res: Response, ledger: Ledger, outcome: Outcome<PullResult | null>): Promise<void> {
  if (!outcome.ok) return sendDomainError(res, outcome.error);
  if (outcome.result === null) {
    res.json({ ok: true, job: null, token: null });
    return;
  }
  res.json(await pulledAnswer(ledger, outcome.result, outcome.position));
}

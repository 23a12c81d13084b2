import { Router, type Response } from 'express';
import type { DecideContext } from '../domain/DecideContext.ts';
import { decideAck } from '../domain/decideAck.ts';
import { decideCancel } from '../domain/decideCancel.ts';
import { decideFail } from '../domain/decideFail.ts';
import { decideProgress } from '../domain/decideProgress.ts';
import { decidePull, type PullResult } from '../domain/decidePull.ts';
import { decidePush } from '../domain/decidePush.ts';
import { parsePushOptions, parseQueueName } from '../domain/pushOptions.ts';
import type { Ledger, Outcome } from '../server/Ledger.ts';
import type { PullWaiters } from '../server/PullWaiters.ts';
import { sendDomainError, sendError } from './errors.ts';
import { jobView } from './jobView.ts';
import { ackBodySchema, failBodySchema, parseOptionalBody, parsePullTimeout, progressBodySchema } from './requestSchemas.ts';

export interface JobRoutesDeps {
  ledger: Ledger;
  waiters: PullWaiters;
  context: () => DecideContext;
}

/** The job endpoints: parse, run the command through the ledger, answer once durable. */
export function jobRoutes({ ledger, waiters, context }: JobRoutesDeps): Router {
  const router = Router();

  router.post('/queues/:queue/jobs', async (req, res) => {
    const queue = parseQueueName(req.params.queue);
    if (!queue.ok) return sendError(res, 400, queue.error);
    const options = parsePushOptions(req.body);
    if (!options.ok) return sendError(res, 400, options.error);
    const outcome = ledger.run((view) => decidePush(view, queue.value, options.value, context()));
    if (!outcome.ok) return sendDomainError(res, outcome.error);
    if (options.value.durable) await ledger.durable(outcome.position);
    res.json({ ok: true, id: outcome.result.id });
  });

  router.get('/queues/:queue/jobs', async (req, res) => {
    const queue = parseQueueName(req.params.queue);
    if (!queue.ok) return sendError(res, 400, queue.error);
    const timeout = parsePullTimeout(req.query.timeout);
    if (!timeout.ok) return sendError(res, 400, timeout.error);
    let outcome: Outcome<PullResult | null> = ledger.run((view) => decidePull(view, queue.value, context()));
    if (outcome.ok && outcome.result === null && timeout.value > 0) {
      const waiting = waiters.wait(queue.value, timeout.value);
      res.on('close', waiting.cancel);
      outcome = await waiting.outcome;
    }
    await answerPull(res, ledger, outcome);
  });

  router.get('/jobs/:id', (req, res) => {
    const job = ledger.state.job(req.params.id);
    if (!job) return sendError(res, 404, 'Job not found');
    res.json({ ok: true, job: jobView(job) });
  });

  router.delete('/jobs/:id', async (req, res) => {
    const outcome = ledger.run((view) => decideCancel(view, req.params.id, context()));
    await answerDone(res, ledger, outcome);
  });

  router.post('/jobs/:id/ack', async (req, res) => {
    const body = parseOptionalBody(ackBodySchema, req.body);
    if (!body.ok) return sendError(res, 400, body.error);
    const { token, result } = body.value;
    const outcome = ledger.run((view) => decideAck(view, req.params.id, token, result, context()));
    await answerDone(res, ledger, outcome);
  });

  router.post('/jobs/:id/fail', async (req, res) => {
    const body = parseOptionalBody(failBodySchema, req.body);
    if (!body.ok) return sendError(res, 400, body.error);
    const { token, error } = body.value;
    const outcome = ledger.run((view) => decideFail(view, req.params.id, token, error, context()));
    await answerDone(res, ledger, outcome);
  });

  router.post('/jobs/:id/progress', async (req, res) => {
    const body = parseOptionalBody(progressBodySchema, req.body);
    if (!body.ok) return sendError(res, 400, body.error);
    const { token, progress, message } = body.value;
    const outcome = ledger.run((view) => decideProgress(view, req.params.id, token, progress, message, context()));
    await answerDone(res, ledger, outcome);
  });

  return router;
}

/** A command whose answer is just `{ok:true}`, sent once its entries are on disk. */
async function answerDone(res: Response, ledger: Ledger, outcome: Outcome<unknown>): Promise<void> {
  if (!outcome.ok) return sendDomainError(res, outcome.error);
  await ledger.durable(outcome.position);
  res.json({ ok: true });
}

async function answerPull(res: Response, ledger: Ledger, outcome: Outcome<PullResult | null>): Promise<void> {
  if (!outcome.ok) return sendDomainError(res, outcome.error);
  if (outcome.result === null) {
    res.json({ ok: true, job: null, token: null });
    return;
  }
  // Render now: by the time the fsync returns, the job may already have moved on.
  const job = ledger.state.job(outcome.result.jobId);
  const body = { ok: true, job: job ? jobView(job) : null, token: outcome.result.token };
  await ledger.durable(outcome.position);
  res.json(body);
}

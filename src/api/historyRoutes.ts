/**
 * `GET /jobs/:id/history` and `GET /jobs/:id/attempts`: what the log holds
 * about a job id, read through the job id index (src/projections/JobHistory).
 */
import { Router, type Response } from 'express';
import { z } from 'zod';
import { firstMessage } from '../domain/pushOptions.ts';
import { attemptsOf } from '../projections/jobAttempts.ts';
import { type HistoryPage, IndexCatchingUpError, type JobHistory, type LoggedEntry } from '../projections/JobHistory.ts';
import { sendError } from './errors.ts';
import { attemptView, historyEntryView } from './historyView.ts';

export const DEFAULT_HISTORY_LIMIT = 100;
export const MAX_HISTORY_LIMIT = 1000;
/** Entries read to list a job's attempts; a job with more (endless progress reports) gets the attempts of the first ones. */
const MAX_ATTEMPT_ENTRIES = 100_000;

const historyQuery = z.object({
  limit: z
    .string({ error: `limit must be an integer from 1 to ${MAX_HISTORY_LIMIT}` })
    .regex(/^\d{1,7}$/, { error: `limit must be an integer from 1 to ${MAX_HISTORY_LIMIT}` })
    .transform(Number)
    .refine((n) => n >= 1 && n <= MAX_HISTORY_LIMIT, { error: `limit must be an integer from 1 to ${MAX_HISTORY_LIMIT}` })
    .optional(),
  // Opaque to clients; it is the position the previous page ended at.
  cursor: z
    .string({ error: 'Invalid cursor' })
    .regex(/^[1-9]\d{0,14}$/, { error: 'Invalid cursor' })
    .transform(Number)
    .optional(),
});

export interface HistoryRoutesDeps {
  history: JobHistory;
  /** Resolves once the log is durable through `position`: an answer never shows what a crash can undo. */
  durable: (position: number) => Promise<void>;
}

export function historyRoutes({ history, durable }: HistoryRoutesDeps): Router {
  const router = Router();

  const settle = async (entries: readonly LoggedEntry[]) => {
    if (entries.length > 0) await durable(entries[entries.length - 1].position);
  };

  router.get('/jobs/:id/history', async (req, res) => {
    const query = historyQuery.safeParse(req.query);
    if (!query.success) return sendError(res, 400, firstMessage(query.error));
    const jobId = req.params.id;
    const page = await read(res, () => history.page(jobId, query.data.cursor ?? 0, query.data.limit ?? DEFAULT_HISTORY_LIMIT));
    if (page === undefined) return;
    if (!page.found) return sendError(res, 404, 'Job not found');
    await settle(page.entries);
    res.json({
      ok: true,
      jobId,
      ...(page.truncatedBefore !== null ? { truncatedBefore: page.truncatedBefore } : {}),
      entries: page.entries.map(historyEntryView),
      nextCursor: page.nextAfter === null ? null : String(page.nextAfter),
    });
  });

  router.get('/jobs/:id/attempts', async (req, res) => {
    const jobId = req.params.id;
    const entries: LoggedEntry[] = [];
    let truncatedBefore: number | null = null;
    let found = false;
    let after = 0;
    do {
      const page = await read(res, () => history.page(jobId, after, MAX_HISTORY_LIMIT));
      if (page === undefined) return;
      found ||= page.found;
      truncatedBefore ??= page.truncatedBefore;
      for (const logged of page.entries) entries.push(logged);
      after = page.nextAfter ?? 0;
    } while (after > 0 && entries.length < MAX_ATTEMPT_ENTRIES);
    if (!found) return sendError(res, 404, 'Job not found');
    await settle(entries);
    res.json({
      ok: true,
      jobId,
      ...(truncatedBefore !== null ? { truncatedBefore } : {}),
      attempts: attemptsOf(entries).map(attemptView),
    });
  });

  return router;
}

/** Runs a history read; a lagging index is a 503 the client retries, not a 500. */
async function read(res: Response, page: () => Promise<HistoryPage>): Promise<HistoryPage | undefined> {
  try {
    return await page();
  } catch (error) {
    if (!(error instanceof IndexCatchingUpError)) throw error;
    res.set('Retry-After', '1');
    sendError(res, 503, error.message);
    return undefined;
  }
}

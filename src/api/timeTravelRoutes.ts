import { type Response, Router } from 'express';
import { type ParseResult, parseQueueName } from '../domain/pushOptions.ts';
import { PointInTimeError, type PointInTime } from '../projections/PointInTime.ts';
import { PositionNotRebuildable } from '../projections/PointInTimeStates.ts';
import type { QueueProjection, StateCounts } from '../projections/QueueProjection.ts';
import type { TimedPosition } from '../projections/TimeIndex.ts';
import { sendError } from './errors.ts';
import { jobView } from './jobView.ts';
import { parseCursor, parseLimit, parsePoint, parseTime, type PointQuery } from './timeTravelQuery.ts';

export interface TimeTravelRoutesDeps {
  pointInTime: PointInTime;
  /** The live state, for `GET /queues` without `at`. */
  live: QueueProjection;
}

/**
 * Point-in-time reads (docs/api.md "Time travel"): the log position of a
 * time, a job or a queue as it was then, and what changed between two times.
 * Every answer is read from a state rebuilt off the live one.
 */
export function timeTravelRoutes({ pointInTime, live }: TimeTravelRoutesDeps): Router {
  const router = Router();

  /** The position a point query names, checked against the retained log. */
  const resolve = (point: PointQuery): Promise<TimedPosition> =>
    point.kind === 'at' ? pointInTime.stateAt(point.time) : pointInTime.statePosition(point.position);

  router.get('/log/position', (req, res) =>
    answer(res, async () => {
      const at = parseTime('at', req.query.at);
      if (!at.ok) return sendError(res, 400, req.query.at === undefined ? 'at is required' : at.error);
      const found = await pointInTime.positionAt(at.value);
      res.json({ ok: true, at: at.value, position: found.position, time: found.time, first: found.range.first, last: found.range.last });
    }),
  );

  // GET /jobs/:id with at= or position= (jobRoutes hands those over).
  router.get('/jobs/:id', (req, res) =>
    answer(res, async () => {
      const point = parsePoint(req.query);
      if (point === undefined) return sendError(res, 404, 'Not found');
      if (!point.ok) return sendError(res, 400, point.error);
      const at = await resolve(point.value);
      const job = await pointInTime.jobAt(req.params.id, at.position);
      if (!job) return sendError(res, 404, 'Job not found');
      res.json({ ok: true, job: jobView(job), at });
    }),
  );

  router.get('/queues', (req, res) =>
    answer(res, async () => {
      const at = req.query.at === undefined ? undefined : parseTime('at', req.query.at);
      if (at === undefined) {
        const queues: Record<string, StateCounts> = {};
        for (const name of live.queueNames().sort()) queues[name] = live.countsOf(name);
        return res.json({ ok: true, at: null, queues });
      }
      if (!at.ok) return sendError(res, 400, at.error);
      const position = await pointInTime.stateAt(at.value);
      res.json({ ok: true, at: position, queues: await pointInTime.queuesAt(position.position) });
    }),
  );

  router.get('/queues/:queue/state', (req, res) =>
    answer(res, async () => {
      const queue = parseQueueName(req.params.queue);
      if (!queue.ok) return sendError(res, 400, queue.error);
      const limit = parseLimit(req.query.limit);
      if (!limit.ok) return sendError(res, 400, limit.error);
      // The cursor pins the position, so a page never mixes two points in time.
      const cursor = parseCursor(req.query.cursor, 2);
      if (!cursor.ok) return sendError(res, 400, cursor.error);
      let point: ParseResult<PointQuery> | undefined = parsePoint(req.query);
      if (cursor.value) point = { ok: true, value: { kind: 'position', position: cursor.value[0] } };
      if (point === undefined) return sendError(res, 400, 'at or position is required');
      if (!point.ok) return sendError(res, 400, point.error);
      const at = await resolve(point.value);
      const page = await pointInTime.queueAt(queue.value, at.position, cursor.value?.[1] ?? 0, limit.value);
      res.json({
        ok: true,
        queue: queue.value,
        at,
        counts: page.counts,
        jobs: page.jobs,
        nextCursor: page.next === null ? null : `${at.position}:${page.next}`,
      });
    }),
  );

  router.get('/queues/:queue/changes', (req, res) =>
    answer(res, async () => {
      const queue = parseQueueName(req.params.queue);
      if (!queue.ok) return sendError(res, 400, queue.error);
      const limit = parseLimit(req.query.limit);
      if (!limit.ok) return sendError(res, 400, limit.error);
      // position of the next entry : transitions of it already returned : last position of the window
      const cursor = parseCursor(req.query.cursor, 3);
      if (!cursor.ok) return sendError(res, 400, cursor.error);
      let after: number;
      let to: number;
      let skip = 0;
      if (cursor.value) {
        const [next, skipped, last] = cursor.value;
        if (next < 1 || next > last + 1) return sendError(res, 400, 'cursor is not one this server gave');
        after = next - 1;
        skip = skipped;
        to = last;
        await pointInTime.statePosition(to);
      } else {
        const from = parseTime('from', req.query.from);
        if (!from.ok) return sendError(res, 400, req.query.from === undefined ? 'from is required' : from.error);
        const until = parseTime('to', req.query.to);
        if (!until.ok) return sendError(res, 400, req.query.to === undefined ? 'to is required' : until.error);
        if (until.value < from.value) return sendError(res, 400, 'to must not be before from');
        after = (await pointInTime.stateAt(from.value)).position;
        to = (await pointInTime.stateAt(until.value)).position;
      }
      const page = await pointInTime.changes(queue.value, after, to, skip, limit.value);
      res.json({
        ok: true,
        queue: queue.value,
        window: { after, to },
        changes: page.changes,
        nextCursor: page.next === null ? null : `${page.next.position}:${page.next.skip}:${to}`,
      });
    }),
  );

  return router;
}

/** Runs a handler; a question the log cannot answer (outside its range) is the client's 400, never a 500. */
async function answer(res: Response, handle: () => Promise<unknown>): Promise<void> {
  try {
    await handle();
  } catch (err) {
    if (err instanceof PointInTimeError) {
      res.status(400).json(err.range ? { ok: false, error: err.message, first: err.range.first, last: err.range.last } : { ok: false, error: err.message });
      return;
    }
    if (err instanceof PositionNotRebuildable) {
      res.status(400).json({ ok: false, error: err.message, rebuildable: { from: err.from, to: err.to } });
      return;
    }
    throw err;
  }
}

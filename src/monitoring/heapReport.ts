import { getHeapStatistics } from 'node:v8';

/** How many of the server's own long-lived objects exist right now. */
export interface TrackedObjects {
  jobs: number;
  queues: number;
  pullWaiters: number;
  httpConnections: number;
}

export interface ObjectTypeCount {
  type: string;
  count: number;
}

export interface HeapReport {
  heap: { objectCount: number; protectedCount: number; globalCount: number };
  topObjectTypes: ObjectTypeCount[];
}

const TOP_TYPES = 20;

/**
 * A cheap heap report: nothing here walks the heap. V8, unlike the engine the
 * contract was written against, has no per-type object counts short of a
 * heap snapshot, which stalls the event loop for seconds on a large state and
 * may double the heap — too much for an endpoint without auth. So:
 *
 * - topObjectTypes: the objects this server keeps (jobs, queues, parked
 *   long-polls, HTTP connections) plus V8's context counts (a growing number
 *   of detached contexts is the classic leak), largest first;
 * - objectCount: the sum of those counts;
 * - protectedCount: native resources holding JS objects alive (sockets,
 *   timers, pending I/O: `process.getActiveResourcesInfo()`);
 * - globalCount: V8 native contexts (one global object each).
 *
 * For a real per-type breakdown, take a heap snapshot
 * (`node --heapsnapshot-signal=SIGUSR2`) and open it in DevTools.
 */
export function heapReport(tracked: TrackedObjects): HeapReport {
  const v8 = getHeapStatistics();
  const types: ObjectTypeCount[] = [
    { type: 'Job', count: tracked.jobs },
    { type: 'Queue', count: tracked.queues },
    { type: 'PullWaiter', count: tracked.pullWaiters },
    { type: 'HttpConnection', count: tracked.httpConnections },
    { type: 'NativeContext', count: v8.number_of_native_contexts },
    { type: 'DetachedContext', count: v8.number_of_detached_contexts },
  ];
  const topObjectTypes = types.sort((a, b) => b.count - a.count).slice(0, TOP_TYPES);
  return {
    heap: {
      objectCount: topObjectTypes.reduce((sum, { count }) => sum + count, 0),
      protectedCount: process.getActiveResourcesInfo().length,
      globalCount: v8.number_of_native_contexts,
    },
    topObjectTypes,
  };
}

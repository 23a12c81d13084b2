import type { QueueProjection } from '../projections/QueueProjection.ts';

export interface CollectionSizes {
  jobIndex: number;
  completedJobs: number;
  processingTotal: number;
  queuedTotal: number;
  temporalIndexTotal: number;
}

/**
 * The contract's internal collection sizes, mapped onto the projection:
 * every retained job (any state), completed jobs, active jobs, ready jobs
 * and delayed jobs (the heap ordered by `runAt`).
 */
export function collectionSizes(state: QueueProjection): CollectionSizes {
  const totals = state.totals();
  return {
    jobIndex: state.jobCount,
    completedJobs: totals.completed,
    processingTotal: totals.active,
    queuedTotal: totals.waiting,
    temporalIndexTotal: totals.delayed,
  };
}

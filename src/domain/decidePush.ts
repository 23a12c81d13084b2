import type { DecideContext } from './DecideContext.ts';
import type { Decided } from './Decision.ts';
import { DomainError } from './DomainError.ts';
import type { Entry } from './entries.ts';
import type { Job } from './job.ts';
import type { JobsView } from './JobsView.ts';
import type { PushOptions } from './pushOptions.ts';

export interface PushResult {
  id: string;
  created: boolean;
}

const DEFAULTS = { priority: 0, maxAttempts: 3, backoff: 1000 } as const;

export function decidePush(view: JobsView, queue: string, options: PushOptions, ctx: DecideContext): Decided<PushResult> {
  const existing = findExisting(view, queue, options);
  if (existing) {
    return {
      entries: [{ type: 'duplicate', at: ctx.now, queue: existing.queue, jobId: existing.id }],
      result: { id: existing.id, created: false },
    };
  }

  const dependsOn = [...new Set(options.dependsOn ?? [])];
  const dependencies = [];
  for (const id of dependsOn) {
    const dependency = view.job(id);
    if (!dependency) return new DomainError('invalid', `Dependency job not found: ${id}`);
    dependencies.push(dependency);
  }
  const failedDependency = dependencies.find((d) => d.state === 'failed');
  const waitsForChildren = dependencies.some((d) => d.state !== 'completed');

  const runAt = ctx.now + (options.delay ?? 0);
  const job: Job = {
    id: options.jobId ?? ctx.newId(),
    queue,
    data: options.data,
    priority: options.priority ?? DEFAULTS.priority,
    createdAt: ctx.now,
    runAt,
    startedAt: null,
    completedAt: null,
    attempts: 0,
    maxAttempts: options.maxAttempts ?? DEFAULTS.maxAttempts,
    backoff: options.backoff ?? DEFAULTS.backoff,
    progress: 0,
    progressMessage: null,
    state: waitsForChildren ? 'waiting-children' : runAt > ctx.now ? 'delayed' : 'waiting',
    result: null,
    error: null,
    tags: options.tags ?? [],
    lifo: options.lifo ?? false,
    removeOnComplete: options.removeOnComplete ?? false,
    removeOnFail: options.removeOnFail ?? false,
    groupId: options.groupId ?? null,
    uniqueKey: options.uniqueKey ?? null,
    dependsOn,
    ttl: options.ttl ?? null,
    timeout: options.timeout ?? null,
    repeat: options.repeat ? { every: options.repeat.every, limit: options.repeat.limit ?? null } : null,
    occurrence: 1,
    scheduledAt: runAt,
    durable: options.durable ?? false,
    token: null,
    leaseUntil: null,
  };

  const entries: Entry[] = [{ type: 'push', at: ctx.now, queue, jobId: job.id, job }];
  if (failedDependency) {
    entries.push({
      type: 'fail',
      at: ctx.now,
      queue,
      jobId: job.id,
      cause: 'dependency',
      error: `dependency failed: ${failedDependency.id}`,
      attempts: 0,
      retryAt: null,
      prev: job.state,
      remove: job.removeOnFail,
    });
  }
  return { entries, result: { id: job.id, created: true } };
}

function findExisting(view: JobsView, queue: string, options: PushOptions): Readonly<Job> | undefined {
  if (options.jobId) {
    const byId = view.job(options.jobId);
    if (byId) return byId;
  }
  if (options.uniqueKey) {
    const holder = view.uniqueHolder(queue, options.uniqueKey);
    if (holder) return view.job(holder);
  }
  return undefined;
}

import type { Job } from '../domain/job.ts';

/** A job as clients see it: the contract's fields plus those the semantics page adds. Leases stay internal. */
export function jobView(job: Readonly<Job>) {
  return {
    id: job.id,
    queue: job.queue,
    data: job.data,
    priority: job.priority,
    createdAt: job.createdAt,
    runAt: job.runAt,
    startedAt: job.startedAt,
    completedAt: job.completedAt,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    backoff: job.backoff,
    progress: job.progress,
    progressMessage: job.progressMessage ?? null,
    tags: job.tags,
    lifo: job.lifo,
    removeOnComplete: job.removeOnComplete,
    removeOnFail: job.removeOnFail,
    state: job.state,
    result: job.result,
    error: job.error,
    groupId: job.groupId,
    uniqueKey: job.uniqueKey,
    dependsOn: job.dependsOn,
    ttl: job.ttl,
    timeout: job.timeout,
    repeat: job.repeat,
    durable: job.durable,
  };
}

import { badToken, type DomainError, jobNotActive } from './DomainError.ts';
import type { Job } from './job.ts';
import type { JobsView } from './JobsView.ts';

/** The job an ack or fail addresses: it must be active, and a token, when given, must be its lease's. */
export function activeJob(view: JobsView, id: string, token: string | undefined): Readonly<Job> | DomainError {
  const job = view.job(id);
  if (!job || job.state !== 'active') return jobNotActive();
  if (token !== undefined && token !== job.token) return badToken();
  return job;
}

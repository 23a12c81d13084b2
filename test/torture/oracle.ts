/**
 * The torture clients' own record of what the server acknowledged: every
 * push (answered or in flight at a kill), every lease (token, deadline), every
 * acknowledged ack, fail and cancel. After each restart the server's state is
 * checked against it; anything the server acknowledged and then lost or undid
 * is a violation.
 *
 * Times are client `Date.now()`; the server runs on the same machine, so its
 * `startedAt` and lease deadlines read the same clock.
 */

/**
 * confirmed: certainly on disk (a durable push answered, a durable answer about
 *   the job received, or seen by GET after a restart);
 * maybe: a non-durable push answered in the current epoch, not confirmed yet;
 * inflight: sent, never answered (the kill came first): it may or may not exist;
 * absent: an in-flight or refused push that did not create the job;
 * lost: an answered non-durable push missing after a restart (allowed: measured).
 */
export type Existence = 'confirmed' | 'maybe' | 'inflight' | 'absent' | 'lost';

export type Transport = 'http' | 'ws';

export interface LeaseRec {
  token: string;
  startedAt: number;
  /** Server time the lease runs out: startedAt + (job timeout ?? LOCK_TTL_MS). */
  deadline: number;
  via: Transport;
  epoch: number;
  /** The job's attempts when it was pulled (attempts count ended attempts): a fail with attempts + 1 >= maxAttempts is terminal. */
  attemptsBefore: number;
  /** Client time from which the lease may have ended early: a fail sent with it, the owning socket closed by the client, a later pull. */
  endedAt: number | null;
}

export interface JobRec {
  seq: number;
  id: string | null;
  customId: boolean;
  queue: string;
  durable: boolean;
  epoch: number;
  pushSentAt: number;
  pushAnsweredAt: number | null;
  existence: Existence;
  removeOnComplete: boolean;
  maxAttempts: number;
  timeoutMs: number | null;
  dependsOn: string[];
  ackSent: boolean;
  completed: boolean;
  cancelSent: boolean;
  cancelled: boolean;
  failSent: boolean;
  failsAcked: number;
  dlq: boolean;
  /** Client time the acknowledged ack, cancel or terminal fail was answered: a pull sent after it must not get the job. */
  settledAt: number | null;
  leases: LeaseRec[];
}

export interface Violation {
  kind: string;
  detail: string;
}

export interface LossRecord {
  walFlushMs: number;
  withSubscribers: boolean;
  /** killAt − push answer time: how long the answered push had been waiting for its flush. */
  windowMs: number;
}

export class Oracle {
  readonly jobs: JobRec[] = [];
  readonly byId = new Map<string, JobRec>();
  readonly bySeq = new Map<number, JobRec>();
  readonly violations: Violation[] = [];
  readonly losses: LossRecord[] = [];
  /** Acknowledged operations by kind (what the run checked). */
  readonly acknowledged: Record<string, number> = {};
  /** Checks made (jobs verified after restarts, pulls checked for lease overlap, ...). */
  readonly checks: Record<string, number> = {};
  /** Leases that ran out by their deadline and whose job was handed out again afterwards: legitimate. */
  expiredLeasesReissued = 0;
  private nextSeq = 0;

  constructor(
    readonly lockTtlMs: number,
    private readonly maxViolationsKept = 200,
  ) {}

  count(kind: string, by = 1): void {
    this.acknowledged[kind] = (this.acknowledged[kind] ?? 0) + by;
  }

  checked(kind: string, by = 1): void {
    this.checks[kind] = (this.checks[kind] ?? 0) + by;
  }

  violation(kind: string, detail: string): void {
    if (this.violations.length < this.maxViolationsKept) this.violations.push({ kind, detail });
    else if (this.violations.length === this.maxViolationsKept) this.violations.push({ kind: 'more', detail: 'further violations not kept' });
  }

  pushSent(init: Pick<JobRec, 'queue' | 'durable' | 'epoch' | 'removeOnComplete' | 'maxAttempts' | 'timeoutMs' | 'dependsOn'> & { jobId: string | null }): JobRec {
    const rec: JobRec = {
      ...init,
      seq: ++this.nextSeq,
      id: init.jobId,
      customId: init.jobId !== null,
      pushSentAt: Date.now(),
      pushAnsweredAt: null,
      existence: 'inflight',
      ackSent: false,
      completed: false,
      cancelSent: false,
      cancelled: false,
      failSent: false,
      failsAcked: 0,
      dlq: false,
      settledAt: null,
      leases: [],
    };
    this.jobs.push(rec);
    this.bySeq.set(rec.seq, rec);
    if (rec.id !== null) this.byId.set(rec.id, rec);
    return rec;
  }

  pushAnswered(rec: JobRec, id: string): void {
    rec.pushAnsweredAt = Date.now();
    if (rec.customId && id !== rec.id) this.violation('push-id', `push with jobId ${rec.id} answered id ${id}`);
    rec.id = id;
    this.byId.set(id, rec);
    rec.existence = rec.durable ? 'confirmed' : 'maybe';
    this.count(rec.durable ? 'push (durable)' : 'push');
  }

  /** Something durable was answered about the job: its push is on disk. */
  confirm(rec: JobRec): void {
    if (rec.existence === 'maybe' || rec.existence === 'inflight') rec.existence = 'confirmed';
  }

  /**
   * A pull answered with a job (its answer came after the fsync: the lease is
   * a fact). Checks it against every earlier lease of the job. `sentAt`: when
   * the pull was sent (an ack answered before then was applied before it).
   */
  pulled(view: any, token: string, via: Transport, epoch: number, sentAt: number): JobRec | null {
    let rec = this.byId.get(view.id);
    if (!rec) {
      // A push whose answer the kill swallowed: adopt it by the sequence number in its data.
      const seq = view?.data?.seq;
      const candidate = typeof seq === 'number' ? this.bySeq.get(seq) : undefined;
      if (!candidate || candidate.id !== null || candidate.existence !== 'inflight') {
        this.violation('unknown-job', `pulled a job the clients never pushed: ${JSON.stringify(view).slice(0, 300)}`);
        return null;
      }
      rec = candidate;
      rec.id = view.id;
      this.byId.set(view.id, rec);
      this.count('in-flight push adopted by a pull');
    }
    this.confirm(rec);
    this.count(`pull (${via})`);
    this.checked('pull checked for lease overlap');
    const startedAt: number = view.startedAt;
    const leaseMs = (view.timeout as number | null) ?? this.lockTtlMs;
    // Answers on different connections may arrive in any order: only a pull sent after the answer must see its effect.
    if (rec.settledAt !== null && rec.settledAt < sentAt) {
      const what = rec.completed ? 'its ack' : rec.cancelled ? 'its cancel' : 'a fail that exhausted its attempts';
      this.violation('settled-job-handed-out-again', `job ${rec.id} pulled (token ${token}) by a pull sent ${sentAt - rec.settledAt} ms after ${what} was acknowledged`);
    }
    for (const lease of rec.leases) {
      if (lease.token === token) {
        this.violation('token-reused', `job ${rec.id}: token ${token} handed out twice`);
        continue;
      }
      if (lease.endedAt !== null) continue;
      // Pull answers may arrive out of order: compare the two lease intervals, both in server time.
      if (startedAt < lease.deadline && lease.startedAt < startedAt + leaseMs) {
        this.violation(
          'double-lease',
          `job ${rec.id} pulled at ${startedAt} (token ${token}) while lease ${lease.token} (epoch ${lease.epoch}, via ${lease.via}) ran until ${lease.deadline} (${lease.deadline - startedAt} ms left)`,
        );
      } else {
        this.expiredLeasesReissued++;
      }
      // Either way that lease is over now.
      lease.endedAt = Date.now();
    }
    const lease: LeaseRec = { token, startedAt, deadline: startedAt + leaseMs, via, epoch, attemptsBefore: view.attempts, endedAt: null };
    rec.leases.push(lease);
    return rec;
  }

  /** An ack, cancel or terminal fail was acknowledged. */
  settled(rec: JobRec, at: number): void {
    rec.settledAt ??= at;
  }

  leaseOf(rec: JobRec, token: string): LeaseRec | undefined {
    return rec.leases.find((l) => l.token === token);
  }

  /**
   * An ack or fail with a lease was refused. A violation when the lease was
   * certainly still valid when the server decided (its answer came before the
   * deadline) and nothing else could have ended it.
   */
  refusedWithLease(rec: JobRec, lease: LeaseRec, what: string, answeredAt: number, error: string): void {
    this.checked('refusal checked against its lease');
    if (rec.cancelSent) return;
    const endedElsewhere = lease.endedAt !== null && lease.endedAt < answeredAt;
    if (!endedElsewhere && answeredAt < lease.deadline) {
      this.violation(
        'lease-refused',
        `${what} of job ${rec.id} with token ${lease.token} (epoch ${lease.epoch}, valid until ${lease.deadline}) refused at ${answeredAt}: ${error}`,
      );
    }
  }

  /** Records that may still be used as dependencies: they exist in the server's memory right now. */
  usableAsDependency(rec: JobRec): boolean {
    return (
      rec.id !== null &&
      (rec.existence === 'confirmed' || rec.existence === 'maybe') &&
      !rec.cancelSent &&
      !(rec.removeOnComplete && rec.ackSent)
    );
  }

  /** Jobs whose push may have created an unknown id: a server-generated id the kill swallowed. */
  get unknownInFlight(): number {
    let n = 0;
    for (const rec of this.jobs) if (rec.existence === 'inflight' && rec.id === null) n++;
    return n;
  }
}

// attemptsOf: attempts derived from a job's entries, and when two leases overlap.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Entry } from '../../src/domain/entries.ts';
import type { LoggedEntry } from '../../src/projections/JobHistory.ts';
import { attemptsOf } from '../../src/projections/jobAttempts.ts';

const base = { queue: 'q', jobId: 'j' };
let position = 0;
const at = (time: number, entry: Record<string, unknown>): LoggedEntry => ({ position: ++position, entry: { ...base, at: time, ...entry } as Entry });
const push = (time: number) => at(time, { type: 'push', job: {} });
const pull = (time: number, leaseUntil: number, token = `t${time}`) => at(time, { type: 'pull', token, leaseUntil, drained: false });
const fail = (time: number, cause: string, error = 'e') => at(time, { type: 'fail', cause, error, attempts: 1, retryAt: time, prev: 'active', remove: false });

describe('attemptsOf', () => {
  it('ends each attempt by what follows its pull; progress moves the lease', () => {
    const list = attemptsOf([
      push(0),
      pull(10, 40),
      fail(20, 'error', 'boom'),
      pull(30, 60),
      at(50, { type: 'progress', progress: 5, message: null, leaseUntil: 80 }),
      fail(80, 'stalled', 'lease expired'),
      pull(90, 120),
      at(95, { type: 'release', token: 't90' }),
      pull(100, 130),
      fail(130, 'timeout', 'timeout exceeded'),
      pull(140, 170),
      at(150, { type: 'ack', result: null, remove: false }),
    ]);
    assert.deepEqual(
      list.map((a) => [a.number, a.outcome, a.error, a.startedAt, a.leaseUntil, a.endedAt, a.overlapped]),
      [
        [1, 'failed', 'boom', 10, 40, 20, false],
        [2, 'stalled', 'lease expired', 30, 80, 80, false],
        [3, 'released', null, 90, 120, 95, false],
        [4, 'timeout', 'timeout exceeded', 100, 130, 130, false],
        [5, 'completed', null, 140, 170, 150, false],
      ],
    );
  });

  it('a lease the worker was never told had ended overlaps the next one starting before its deadline', () => {
    const list = attemptsOf([push(0), pull(10, 100), at(20, { type: 'cancel', prev: 'active' }), push(30), pull(40, 130), pull(200, 230)]);
    assert.deepEqual(
      list.map((a) => [a.number, a.outcome, a.overlapped]),
      [
        [1, 'cancelled', true],
        [1, 'active', true],
        [2, 'active', false],
      ],
    );
    assert.notEqual(list[0].pushPosition, list[1].pushPosition);
  });

  it('a history cut by retention starts with attempts of unknown push; entries without an open attempt are ignored', () => {
    const list = attemptsOf([at(5, { type: 'ack', result: 1, remove: false }), pull(10, 20), at(15, { type: 'ack', result: 2, remove: false })]);
    assert.deepEqual(list.map((a) => [a.number, a.pushPosition, a.outcome]), [[1, null, 'completed']]);
  });
});

import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/**
 * Puts the server's event loop on core 0 and the load generator's on core 1,
 * so that the two do not take turns on one core: on a 2-core machine an
 * unpinned load generator gets starved by the server now and then, and its
 * own late event loop shows up as the server's latency. Only the main threads
 * are pinned: V8's GC helpers and libuv's pool stay free to use either core,
 * as they would on a server of its own (pinned to the loop's core, concurrent
 * marking turns into pauses of 15-25 ms). Nothing is pinned when there is one
 * core or no `taskset`.
 */
export function pinMainThread(pid: number, core: number): boolean {
  if (availableParallelism() < 2) return false;
  try {
    // Without -a, taskset sets the affinity of the thread whose id is `pid`: the main thread.
    execFileSync('taskset', ['-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

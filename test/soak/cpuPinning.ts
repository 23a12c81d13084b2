import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/**
 * Puts the server on core 0 and the load generator on core 1, so that the two
 * do not take turns on the same core: on a 2-core machine an unpinned load
 * generator gets starved by the server now and then, and its own late event
 * loop shows up as the server's latency. Nothing is pinned when there is one
 * core or no `taskset`.
 */
export interface CpuPinning {
  /** Prefix for the server's command line (empty when not pinned). */
  serverLauncher: string[];
  /** Pins this process (every thread: libuv pool, GC helpers) to the load generator's core. */
  pinSelf(): void;
  pinned: boolean;
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function planCpuPinning(): CpuPinning {
  if (availableParallelism() < 2 || !hasTaskset()) return { serverLauncher: [], pinSelf: () => {}, pinned: false };
  return {
    serverLauncher: ['taskset', '-c', '0'],
    pinSelf: () => void execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' }),
    pinned: true,
  };
}

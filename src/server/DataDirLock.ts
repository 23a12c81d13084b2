import { mkdir, open, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * One server per data directory: two writers appending to the same log
 * would interleave records. The lock file holds the owner's pid; a file left
 * by a process that no longer runs (kill -9) is taken over.
 */
export class DataDirLock {
  private constructor(private readonly path: string) {}

  static async acquire(dataDir: string): Promise<DataDirLock> {
    await mkdir(dataDir, { recursive: true });
    const path = join(dataDir, 'LOCK');
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number((await readFile(path, 'utf8')).trim());
      if (Number.isInteger(owner) && owner !== process.pid && isRunning(owner)) {
        throw new Error(`DATA_DIR ${dataDir} is in use by process ${owner} (lock file ${path})`);
      }
      await writeFile(path, String(process.pid));
    }
    return new DataDirLock(path);
  }

  async release(): Promise<void> {
    await unlink(this.path).catch(() => undefined);
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

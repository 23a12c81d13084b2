import { join } from 'node:path';
import { Level } from 'level';
import { durableMkdir } from '../log/durableMkdir.ts';

/** Directory of the small LevelDB whose LOCK file is the data directory's lock. */
const LOCK_DB_NAME = 'server.lock';

/**
 * One server per data directory: two writers appending to the same log would
 * interleave records, and recovery could cut a tail the other is writing.
 *
 * The lock is a kernel lock, not a pid file: LevelDB takes an fcntl lock on
 * its LOCK file, which the kernel drops when the process dies however it
 * dies (kill -9 included), and which holds across containers sharing the
 * directory whatever their pids. No native code of our own: classic-level
 * is already here for the snapshots. A `LOCK` pid file left in DATA_DIR by
 * older versions is ignored.
 */
export class DataDirLock {
  private constructor(private readonly db: Level<string, string>) {}

  /** Creates `dataDir` if needed (durably) and locks it; throws DataDirInUseError when another process holds it. */
  static async acquire(dataDir: string): Promise<DataDirLock> {
    const path = join(dataDir, LOCK_DB_NAME);
    await durableMkdir(path);
    const db = new Level<string, string>(path);
    try {
      await db.open();
    } catch (error) {
      // classic-level reports LEVEL_DATABASE_NOT_OPEN with the reason (LEVEL_LOCKED) as its cause.
      const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
      if (cause?.code === 'LEVEL_LOCKED') throw new DataDirInUseError(dataDir, join(path, 'LOCK'), { cause: error });
      const detail = typeof cause?.message === 'string' ? cause.message : (error as Error).message;
      throw new Error(`cannot lock DATA_DIR ${dataDir}: ${detail}`, { cause: error });
    }
    return new DataDirLock(db);
  }

  async release(): Promise<void> {
    await this.db.close().catch(() => undefined);
  }
}

export class DataDirInUseError extends Error {
  override readonly name = 'DataDirInUseError';

  constructor(dataDir: string, lockFile: string, options?: ErrorOptions) {
    super(
      `DATA_DIR ${dataDir} is in use by another ledgerq server (it holds the lock on ${lockFile}); ` +
        'stop that server or give this one another DATA_DIR',
      options,
    );
  }
}

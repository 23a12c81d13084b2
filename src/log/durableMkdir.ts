/**
 * mkdir -p that survives a power loss. A new directory is an entry in its
 * parent, and that entry is durable only once the parent is fsync'd: without
 * it, a crash right after a first start can lose the whole directory, durable
 * writes inside it included (defect 12). Every directory the server creates
 * goes through here.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fsyncDirectory } from './segmentFiles.ts';

/** The two file-system operations used, injectable for tests. */
export interface DirectoryOps {
  /** `mkdir(path, {recursive: true})`: resolves with the first directory it created, or undefined if none. */
  mkdirRecursive(path: string): Promise<string | undefined>;
  fsyncDirectory(path: string): Promise<void>;
}

const nodeOps: DirectoryOps = {
  mkdirRecursive: (path) => mkdir(path, { recursive: true }),
  fsyncDirectory,
};

/**
 * Creates `dir` and any missing ancestors, then fsyncs the parent of each
 * directory it created (deepest first). Returns how many fsyncs it made
 * (0 when `dir` already existed).
 */
export async function durableMkdir(dir: string, ops: DirectoryOps = nodeOps): Promise<number> {
  const target = resolve(dir);
  const topCreated = await ops.mkdirRecursive(target);
  if (topCreated === undefined) return 0;
  const top = resolve(topCreated);
  let fsyncs = 0;
  for (let created = target; ; created = dirname(created)) {
    await ops.fsyncDirectory(dirname(created));
    fsyncs++;
    if (created === top || dirname(created) === created) return fsyncs;
  }
}

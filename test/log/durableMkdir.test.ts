// durableMkdir: mkdir -p whose new directories survive a power loss, because
// the parent of each one it created is fsync'd (defect 12).
import assert from 'node:assert/strict';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { type DirectoryOps, durableMkdir } from '../../src/log/durableMkdir.ts';
import { fsyncDirectory } from '../../src/log/segmentFiles.ts';
import { withTempDir } from './helpers.ts';

/** The real operations, recorded in order. */
function recordingOps(): { ops: DirectoryOps; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    ops: {
      mkdirRecursive: async (path) => {
        const created = await mkdir(path, { recursive: true });
        calls.push(`mkdir ${path} -> ${created ?? 'nothing'}`);
        return created;
      },
      fsyncDirectory: async (path) => {
        calls.push(`fsync ${path}`);
        await fsyncDirectory(path);
      },
    },
  };
}

test('creates the nested directories and fsyncs the parent of each one it created, deepest first', () =>
  withTempDir(async (root) => {
    const target = join(root, 'a', 'b', 'c');
    const { ops, calls } = recordingOps();
    assert.equal(await durableMkdir(target, ops), 3);
    assert.ok((await stat(target)).isDirectory());
    assert.deepEqual(calls, [
      `mkdir ${target} -> ${join(root, 'a')}`,
      `fsync ${join(root, 'a', 'b')}`,
      `fsync ${join(root, 'a')}`,
      `fsync ${root}`,
    ]);
  }));

test('only the directories it created: an existing ancestor is the last one fsynced', () =>
  withTempDir(async (root) => {
    await mkdir(join(root, 'a'));
    const { ops, calls } = recordingOps();
    assert.equal(await durableMkdir(join(root, 'a', 'b'), ops), 1);
    assert.deepEqual(calls.slice(1), [`fsync ${join(root, 'a')}`]);
  }));

test('an existing directory costs no fsync', () =>
  withTempDir(async (root) => {
    const { ops, calls } = recordingOps();
    assert.equal(await durableMkdir(root, ops), 0);
    assert.deepEqual(calls, [`mkdir ${root} -> nothing`]);
  }));

test('a failing fsync is not swallowed: the caller must not go on as if the directory were durable', () =>
  withTempDir(async (root) => {
    const { ops } = recordingOps();
    const failing: DirectoryOps = {
      ...ops,
      fsyncDirectory: async () => {
        throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
      },
    };
    await assert.rejects(durableMkdir(join(root, 'x'), failing), /EIO/);
  }));

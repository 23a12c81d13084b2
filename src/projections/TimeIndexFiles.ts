/**
 * Sealed chunks of the time index (TimeIndex.exportChunk), one file each in
 * their own directory, so that a start loads them instead of reading the
 * whole log again. A file is a cache of what the log says: a missing,
 * damaged or stale one only costs a read of the log, never a wrong answer
 * (LogTimeline checks the chunks it loads against the log).
 *
 * File `<n>.chunk`: magic "LQTI", format version (u32 LE), chunk number
 * (u32 LE), CRC-32C of the payload (u32 LE), then the payload. Written to a
 * temporary name and renamed, so a crash leaves the old file or the new one.
 */
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32c } from '../log/crc32c.ts';
import { durableMkdir } from '../log/durableMkdir.ts';

const MAGIC = 0x4954514c; // "LQTI" read as u32 LE
const VERSION = 1;
const HEADER_BYTES = 16;
const NAME = /^(\d{10})\.chunk$/;

export class TimeIndexFiles {
  private constructor(private readonly dir: string) {}

  static async open(dir: string): Promise<TimeIndexFiles> {
    // Created like every directory of DATA_DIR (fsynced into its parent), though its files are only a cache.
    await durableMkdir(dir);
    return new TimeIndexFiles(dir);
  }

  /** Numbers of the chunks saved, ascending. */
  async list(): Promise<number[]> {
    const names = await readdir(this.dir);
    return names
      .map((name) => NAME.exec(name))
      .filter((match) => match !== null)
      .map((match) => Number(match[1]))
      .sort((a, b) => a - b);
  }

  /** Chunk `n`'s bytes, or null when the file is missing or does not check out. */
  async read(n: number): Promise<Uint8Array | null> {
    let file: Buffer;
    try {
      file = await readFile(this.path(n));
    } catch {
      return null;
    }
    if (file.length < HEADER_BYTES) return null;
    const payload = file.subarray(HEADER_BYTES);
    const valid =
      file.readUInt32LE(0) === MAGIC && file.readUInt32LE(4) === VERSION && file.readUInt32LE(8) === n && file.readUInt32LE(12) === crc32c(payload);
    return valid ? payload : null;
  }

  async write(n: number, payload: Uint8Array): Promise<void> {
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt32LE(MAGIC, 0);
    header.writeUInt32LE(VERSION, 4);
    header.writeUInt32LE(n, 8);
    header.writeUInt32LE(crc32c(payload), 12);
    const temporary = `${this.path(n)}.tmp`;
    await writeFile(temporary, Buffer.concat([header, payload]));
    await rename(temporary, this.path(n));
  }

  async delete(n: number): Promise<void> {
    await rm(this.path(n), { force: true });
  }

  /** Removes the files of chunks numbered below `n` (their positions left the log). */
  async deleteBefore(n: number): Promise<void> {
    for (const saved of await this.list()) if (saved < n) await this.delete(saved);
  }

  /** Removes every file (they belong to another log). */
  async clear(): Promise<void> {
    await this.deleteBefore(Infinity);
  }

  private path(n: number): string {
    return join(this.dir, `${String(n).padStart(10, '0')}.chunk`);
  }
}

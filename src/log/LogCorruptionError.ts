/**
 * The log on disk is damaged in a way that cutting a torn tail cannot
 * explain. The server must not start (or keep reading) on top of it: an
 * operator decides what to discard, following `repair`.
 */
import { basename, dirname } from 'node:path';

export class LogCorruptionError extends Error {
  override readonly name = 'LogCorruptionError';

  constructor(
    /** Path of the damaged segment file. */
    readonly file: string,
    /** Byte offset in `file` where the damage starts (the damaged record's first byte). */
    readonly offset: number,
    /** What is wrong, without the location. */
    readonly problem: string,
    /** Shell-level instructions that make the log openable again. */
    readonly repair: string,
  ) {
    super(`${problem} in ${file} at byte offset ${offset}. ${repair}`);
  }

  /** Damage at `offset` of `file`: keep what precedes it, discard the rest of the log. */
  static atRecord(file: string, offset: number, problem: string, laterFiles: readonly string[]): LogCorruptionError {
    return new LogCorruptionError(file, offset, problem, truncationRepair(file, offset, laterFiles));
  }
}

/** Repair text: cut `file` at `offset` and move every later segment out of the log directory. */
export function truncationRepair(file: string, offset: number, laterFiles: readonly string[]): string {
  const cut = `To repair, discarding every record from this point on: stop the server, back up ${dirname(file)}, run \`truncate -s ${offset} '${file}'\``;
  if (laterFiles.length === 0) return `${cut}, then restart.`;
  const names = laterFiles.map((f) => basename(f));
  const listed = names.length <= 4 ? names.join(', ') : `all ${names.length} of them, ${names[0]} through ${names[names.length - 1]}`;
  return `${cut}, move the later segment files out of ${dirname(file)} (${listed}), then restart.`;
}

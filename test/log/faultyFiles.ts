/** A segment-file layer for the log (SegmentedLogOptions.wrapFile) that fails on demand: ENOSPC, EIO, partial writes. */
import { stat } from 'node:fs/promises';
import type { LogFile, WrapLogFile } from '../../src/log/LogFile.ts';

export type Op = 'writev' | 'datasync';

export interface Fault {
  op: Op;
  code: string;
  /** writev only: bytes actually written before the error (a partial write). */
  partialBytes?: number;
  /** Only files whose path ends with this. */
  pathEndsWith?: string;
}

/** A file layer that fails on demand, and records the file's size at the start of every writev. */
export function faultyFiles() {
  let fault: Fault | undefined;
  const attempts: Record<Op, number> = { writev: 0, datasync: 0 };
  const failures: Record<Op, number> = { writev: 0, datasync: 0 };
  const sizesAtWrite: number[] = [];
  const errorOf = (code: string, op: string) => Object.assign(new Error(`${code}: injected, ${op}`), { code });
  const applies = (op: Op, path: string) => fault !== undefined && fault.op === op && (fault.pathEndsWith === undefined || path.endsWith(fault.pathEndsWith));
  const wrapFile: WrapLogFile = (file: LogFile, path: string): LogFile => ({
    async writev(buffers, position) {
      attempts.writev++;
      sizesAtWrite.push((await stat(path)).size);
      if (applies('writev', path)) {
        // Read before the partial write: the test may disarm the fault while it runs.
        const armed = fault as Fault;
        failures.writev++;
        const partial = armed.partialBytes ?? 0;
        if (partial > 0) await file.writev([Buffer.concat(buffers).subarray(0, partial)], position);
        throw errorOf(armed.code, 'write');
      }
      return file.writev(buffers, position);
    },
    async datasync() {
      attempts.datasync++;
      if (applies('datasync', path)) {
        failures.datasync++;
        throw errorOf(fault!.code, 'fsync');
      }
      return file.datasync();
    },
    truncate: (length) => file.truncate(length),
    close: () => file.close(),
  });
  return {
    wrapFile,
    attempts,
    failures,
    sizesAtWrite,
    arm: (f: Fault) => {
      fault = f;
      sizesAtWrite.length = 0;
    },
    heal: () => {
      fault = undefined;
    },
  };
}

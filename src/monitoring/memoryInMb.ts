export interface MemoryInMb {
  heapUsed: number;
  heapTotal: number;
  rss: number;
  external: number;
  arrayBuffers: number;
}

const MB = 1024 * 1024;
/** Whole megabytes, as the contract's examples show them. */
const toMb = (bytes: number) => Math.round(bytes / MB);

/** `process.memoryUsage()` in MB. */
export function memoryInMb(): MemoryInMb {
  const usage = process.memoryUsage();
  return {
    heapUsed: toMb(usage.heapUsed),
    heapTotal: toMb(usage.heapTotal),
    rss: toMb(usage.rss),
    external: toMb(usage.external),
    arrayBuffers: toMb(usage.arrayBuffers),
  };
}

/** The three figures `/health`, `/gc` and `/heapstats` report. */
export function heapInMb(): Pick<MemoryInMb, 'heapUsed' | 'heapTotal' | 'rss'> {
  const { heapUsed, heapTotal, rss } = memoryInMb();
  return { heapUsed, heapTotal, rss };
}

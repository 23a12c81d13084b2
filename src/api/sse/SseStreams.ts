import type { SseStream } from './SseStream.ts';

/** The open SSE streams: counted for /health, ended at shutdown. */
export class SseStreams {
  private readonly open = new Set<SseStream>();
  private closing = false;

  get count(): number {
    return this.open.size;
  }

  get accepting(): boolean {
    return !this.closing;
  }

  add(stream: SseStream): void {
    this.open.add(stream);
  }

  delete(stream: SseStream): void {
    this.open.delete(stream);
  }

  /** Ends every stream; new ones are refused from now on. */
  closeAll(): void {
    this.closing = true;
    for (const stream of this.open) stream.end();
    this.open.clear();
  }
}

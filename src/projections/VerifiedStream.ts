import { SnapshotDamagedError } from './SnapshotDamagedError.ts';

/**
 * The records handed to a `loadNewestValid` consumer. Ending iteration early
 * (break) does not close the underlying stream, so `drain` can still verify
 * the rest; damage seen on the way is remembered.
 */
export class VerifiedStream implements AsyncIterable<unknown> {
  damage: SnapshotDamagedError | undefined;

  constructor(private readonly inner: AsyncIterator<unknown>) {}

  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    return {
      next: () => this.next(),
      return: async () => ({ done: true, value: undefined }),
    };
  }

  private async next(): Promise<IteratorResult<unknown>> {
    try {
      return await this.inner.next();
    } catch (error) {
      if (error instanceof SnapshotDamagedError) this.damage = error;
      throw error;
    }
  }

  /** Reads whatever the consumer left, to finish verification. */
  async drain(): Promise<void> {
    while (!(await this.next()).done);
  }

  async close(): Promise<void> {
    await this.inner.return?.();
  }
}

/**
 * Long work on the event loop (a replay, an index build, a scan of every job)
 * that gives live requests a turn every `sliceMs`: they wait at most a slice.
 * `due()` is cheap enough to call per item (it reads the clock every
 * `checkEvery` items); `pause()` then yields one turn and starts a new slice.
 */
export class Pacer {
  private sliceStart = performance.now();
  private count = 0;

  constructor(
    private readonly sliceMs: number,
    private readonly checkEvery = 256,
  ) {}

  due(): boolean {
    return ++this.count % this.checkEvery === 0 && performance.now() - this.sliceStart > this.sliceMs;
  }

  async pause(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.sliceStart = performance.now();
  }
}

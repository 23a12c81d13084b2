/**
 * Binary heap that also removes or re-sorts any member in O(log n): each
 * item remembers its own array index through `slot`, so no lookup table is
 * needed and an item can sit in one heap per slot at a time.
 */
export interface HeapSlot<T> {
  get(item: T): number;
  set(item: T, index: number): void;
}

export class IndexedHeap<T> {
  private readonly items: T[] = [];

  constructor(
    private readonly before: (a: T, b: T) => boolean,
    private readonly slot: HeapSlot<T>,
  ) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  has(item: T): boolean {
    const index = this.slot.get(item);
    return index >= 0 && this.items[index] === item;
  }

  push(item: T): void {
    this.items.push(item);
    this.slot.set(item, this.items.length - 1);
    this.up(this.items.length - 1);
  }

  remove(item: T): void {
    const index = this.slot.get(item);
    if (index < 0 || this.items[index] !== item) return;
    const last = this.items.pop() as T;
    this.slot.set(item, -1);
    if (index === this.items.length) return;
    this.items[index] = last;
    this.slot.set(last, index);
    this.update(last);
  }

  /** Restores order after `item`'s sort key changed. */
  update(item: T): void {
    const index = this.slot.get(item);
    if (index < 0) return;
    if (!this.up(index)) this.down(index);
  }

  /**
   * Up to `limit` items satisfying `matches`, for a predicate that holds for a
   * prefix of the order (such as "due by now"): a subtree whose root fails it
   * is skipped whole, so this costs O(found), not O(size). Not sorted.
   */
  collect(matches: (item: T) => boolean, limit: number): T[] {
    const found: T[] = [];
    const stack = this.items.length ? [0] : [];
    while (stack.length && found.length < limit) {
      const index = stack.pop() as number;
      const item = this.items[index];
      if (!matches(item)) continue;
      found.push(item);
      const left = 2 * index + 1;
      if (left < this.items.length) stack.push(left);
      if (left + 1 < this.items.length) stack.push(left + 1);
    }
    return found;
  }

  private up(index: number): boolean {
    const item = this.items[index];
    const start = index;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.before(item, this.items[parent])) break;
      this.place(this.items[parent], index);
      index = parent;
    }
    this.place(item, index);
    return index !== start;
  }

  private down(index: number): void {
    const item = this.items[index];
    const length = this.items.length;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && this.before(this.items[right], this.items[left]) ? right : left;
      if (!this.before(this.items[child], item)) break;
      this.place(this.items[child], index);
      index = child;
    }
    this.place(item, index);
  }

  private place(item: T, index: number): void {
    this.items[index] = item;
    this.slot.set(item, index);
  }
}

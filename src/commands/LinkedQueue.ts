/** A place in a LinkedQueue: what `push` returns and `remove` takes. */
export interface QueueNode<T> {
  readonly value: T;
  prev: QueueNode<T> | null;
  next: QueueNode<T> | null;
  /** False once shifted or removed: removing it again does nothing. */
  linked: boolean;
}

/**
 * First in, first out, with removal from anywhere in O(1): a doubly linked
 * list whose nodes are the handles. An array's indexOf + splice made every
 * cancelled long-poll cost O(n) among thousands of waiters.
 */
export class LinkedQueue<T> {
  private head: QueueNode<T> | null = null;
  private tail: QueueNode<T> | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(value: T): QueueNode<T> {
    const node: QueueNode<T> = { value, prev: this.tail, next: null, linked: true };
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
    this.count++;
    return node;
  }

  shift(): T | undefined {
    const node = this.head;
    if (!node) return undefined;
    this.remove(node);
    return node.value;
  }

  /** Unlinks `node`; false when it was no longer in the queue. */
  remove(node: QueueNode<T>): boolean {
    if (!node.linked) return false;
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    node.prev = null;
    node.next = null;
    node.linked = false;
    this.count--;
    return true;
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let node = this.head; node; node = node.next) yield node.value;
  }
}

import { IndexedHeap } from './IndexedHeap.ts';
import { heapSlot, runsBefore, type StoredJob } from './StoredJob.ts';

/**
 * The ready jobs of one queue, in pull order. Jobs sit in one heap per
 * groupId (ungrouped jobs form one group); the groups sit in a heap ordered by
 * their best job's priority and, at equal priority, by the pull that last
 * served them, so a busy group cannot starve the others. Every operation is
 * O(log n).
 */
interface Group {
  key: string;
  jobs: IndexedHeap<StoredJob>;
  /** Serve clock of the last pull from this group; 0 = never. Kept while empty so refilling does not jump the line. */
  lastServed: number;
  heapIndex: number;
}

const groupSlot = {
  get: (group: Group) => group.heapIndex,
  set: (group: Group, index: number) => {
    group.heapIndex = index;
  },
};

function groupBefore(a: Group, b: Group): boolean {
  const x = a.jobs.peek() as StoredJob;
  const y = b.jobs.peek() as StoredJob;
  if (x.priority !== y.priority) return x.priority > y.priority;
  if (a.lastServed !== b.lastServed) return a.lastServed < b.lastServed;
  return runsBefore(x, y);
}

export class ReadyQueue {
  private readonly groups = new Map<string, Group>();
  private readonly order = new IndexedHeap<Group>(groupBefore, groupSlot);
  private count = 0;

  get size(): number {
    return this.count;
  }

  peek(): StoredJob | undefined {
    return this.order.peek()?.jobs.peek();
  }

  add(job: StoredJob): void {
    const group = this.groupOf(job);
    const top = group.jobs.peek();
    group.jobs.push(job);
    if (top === undefined) this.order.push(group);
    else if (group.jobs.peek() !== top) this.order.update(group);
    this.count++;
  }

  remove(job: StoredJob): void {
    const group = this.groups.get(job.groupId ?? '');
    if (!group || !group.jobs.has(job)) return;
    const wasTop = group.jobs.peek() === job;
    group.jobs.remove(job);
    this.count--;
    if (group.jobs.size === 0) this.order.remove(group);
    else if (wasTop) this.order.update(group);
  }

  /** Removes a job taken by a pull and moves its group behind the others at the same priority. */
  take(job: StoredJob, serveClock: number): void {
    const group = this.groups.get(job.groupId ?? '');
    if (!group) return;
    this.remove(job);
    group.lastServed = serveClock;
    if (group.jobs.size > 0) this.order.update(group);
  }

  /** Groups' last-served marks (snapshots carry them: they decide the round-robin order). */
  servedMarks(): Array<[group: string, lastServed: number]> {
    const marks: Array<[string, number]> = [];
    for (const group of this.groups.values()) if (group.lastServed > 0) marks.push([group.key, group.lastServed]);
    return marks;
  }

  restoreServedMark(key: string, lastServed: number): void {
    this.groupOf({ groupId: key || null }).lastServed = lastServed;
  }

  private groupOf(job: Pick<StoredJob, 'groupId'>): Group {
    const key = job.groupId ?? '';
    let group = this.groups.get(key);
    if (!group) {
      group = { key, jobs: new IndexedHeap(runsBefore, heapSlot), lastServed: 0, heapIndex: -1 };
      this.groups.set(key, group);
    }
    return group;
  }
}

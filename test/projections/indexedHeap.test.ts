import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IndexedHeap } from '../../src/projections/IndexedHeap.ts';

interface Item {
  key: number;
  index: number;
}

const slot = { get: (i: Item) => i.index, set: (i: Item, at: number) => (i.index = at) };
const heap = () => new IndexedHeap<Item>((a, b) => a.key < b.key, slot);
const item = (key: number): Item => ({ key, index: -1 });

/** Empties the heap through peek + remove, in heap order. */
function drain(h: IndexedHeap<Item>): number[] {
  const keys: number[] = [];
  for (let top = h.peek(); top; top = h.peek()) {
    keys.push(top.key);
    h.remove(top);
  }
  return keys;
}

test('keeps order through pushes, removals from the middle and key changes', () => {
  const h = heap();
  const items = [5, 3, 8, 1, 9, 2, 7].map(item);
  for (const i of items) h.push(i);
  h.remove(items[2]); // 8
  assert.equal(h.has(items[2]), false);
  assert.equal(items[2].index, -1);
  items[4].key = 0; // 9 → 0
  h.update(items[4]);
  items[3].key = 6; // 1 → 6
  h.update(items[3]);
  h.remove(items[2]); // removing twice is a no-op
  assert.equal(h.size, 6);
  assert.deepEqual(drain(h), [0, 2, 3, 5, 6, 7]);
});

test('collect takes the matching prefix of the order without removing anything', () => {
  const h = heap();
  for (const key of [10, 4, 7, 1, 12, 3, 9]) h.push(item(key));
  assert.deepEqual(h.collect((i) => i.key <= 7, 100).map((i) => i.key).sort((a, b) => a - b), [1, 3, 4, 7]);
  assert.equal(h.collect((i) => i.key <= 7, 2).length, 2);
  assert.equal(h.size, 7);
});

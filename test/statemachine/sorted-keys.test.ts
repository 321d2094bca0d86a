import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_CHUNK_KEYS, SortedKeys } from '../../src/statemachine/mvcc/sorted-keys.js';
import { Prng } from '../../src/core/prng.js';

/** The model: a plain sorted array. */
function modelRange(model: readonly string[], from: string, to: string | null): string[] {
  return model.filter((k) => k >= from && (to === null || k < to));
}

function randomKey(random: Prng): string {
  // Short keys from a small alphabet, NUL and 0xff included: many collisions, prefixes and edges.
  const alphabet = '\u0000ab\u00ff';
  let k = '';
  for (let n = random.int(1, 6); n > 0; n--) k += alphabet[random.int(0, alphabet.length - 1)];
  return k;
}

test('SortedKeys agrees with a sorted array through inserts, sweeps and range scans, across chunk splits and merges', () => {
  for (const seed of [1, 2, 3]) {
    const random = new Prng(seed);
    const keys = new SortedKeys();
    let model: string[] = [];
    let most = 0;
    for (let step = 0; step < 6 * MAX_CHUNK_KEYS; step++) {
      const key = randomKey(random) + String(random.int(0, 3000));
      if (!model.includes(key)) {
        keys.insert(key);
        model.push(key);
        model.sort();
        most = Math.max(most, model.length);
      }
      if (step % 700 === 699) {
        // A compaction's sweep: drop about two keys in three.
        const drop = new Set(model.filter(() => random.chance(0.66)));
        keys.retain((k) => !drop.has(k));
        model = model.filter((k) => !drop.has(k));
      }
      if (step % 50 === 0) {
        assert.equal(keys.size, model.length);
        assert.deepEqual([...keys], model, `seed ${seed}, step ${step}: every key, in order`);
        const from = randomKey(random);
        const to = random.chance(0.2) ? null : randomKey(random);
        assert.deepEqual([...keys.range(from, to)], modelRange(model, from, to), `seed ${seed}, step ${step}: range ${JSON.stringify([from, to])}`);
        const probe = random.chance(0.5) && model.length > 0 ? model[random.int(0, model.length - 1)]! : randomKey(random);
        assert.equal(keys.has(probe), model.includes(probe));
      }
    }
    assert.ok(most > 2 * MAX_CHUNK_KEYS, `the set grew to ${most} keys: chunks split`);
  }
});

test('SortedKeys.fromSorted keeps the order and takes later inserts anywhere', () => {
  const sorted = Array.from({ length: 3 * MAX_CHUNK_KEYS }, (_, i) => `k${String(i).padStart(5, '0')}`);
  const keys = SortedKeys.fromSorted(sorted);
  assert.deepEqual([...keys], sorted);
  keys.insert('a');
  keys.insert('k00100x');
  keys.insert('z');
  assert.deepEqual([...keys], ['a', ...sorted.slice(0, 101), 'k00100x', ...sorted.slice(101), 'z']);
  assert.deepEqual([...keys.range('k00099', 'k00101')], ['k00099', 'k00100', 'k00100x']);
  assert.deepEqual([...keys.range('k01', 'k00')], [], 'an empty range when the end is not after the start');
  assert.throws(() => SortedKeys.fromSorted(['b', 'a']), /ascending/);
  assert.throws(() => keys.insert('z'), /already/);
});

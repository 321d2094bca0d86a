/**
 * The gRPC fuzz's request generator stays bounded: a mutated request is at most a few times
 * MAX_REPEATED_NODES nodes, whatever the seed, so the fuzz at a long budget (`npm run fuzz`) does
 * not run out of memory building its own requests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../src/core/prng.js';
import { HUGE_BYTES, MAX_REPEATED_BYTES, MAX_REPEATED_NODES, mutateObject, repeated, treeBytes, treeNodes, validRequests } from './grpc-requests.js';

/** What three mutations of a valid request can reach: each adds at most one repeat, doubled once by `[old, copy]`. */
const MUTATED_NODES_BOUND = 6 * MAX_REPEATED_NODES + 1_000;

test('a repeated field holds copies of the element, not the element shared: a mutation inside one copy changes only that one', () => {
  const old = { request_put: { key: Buffer.from('fuzz/b'), value: Buffer.from('x') } };
  const list = repeated(new Prng(7), old) as (typeof old)[];
  assert.ok(list.length >= 100, `${list.length} elements`);
  assert.equal(new Set(list).size, list.length, 'every element is its own object');
  assert.ok(!list.includes(old), 'the original is not among them');
  (list[0] as Record<string, unknown>)['request_put'] = [1, 2, 3];
  assert.deepEqual(list[1], old, 'the other copies are unchanged');
});

test('repeating a field an earlier mutation already repeated stays within MAX_REPEATED_NODES (the counts do not multiply)', () => {
  const r = new Prng(11);
  const once = repeated(r, [{ request_put: { key: Buffer.from('k'), value: Buffer.from('v') } }]);
  assert.ok(treeNodes(once) <= MAX_REPEATED_NODES + 1, `${treeNodes(once)} nodes after one repeat`);
  const twice = repeated(r, once);
  const nodes = treeNodes(twice, 10 * MAX_REPEATED_NODES);
  assert.ok(nodes <= MAX_REPEATED_NODES + treeNodes(once) + 1, `${nodes} nodes after a repeat of the repeat`);
});

test('a huge value repeated is at most MAX_REPEATED_BYTES of copies (5000 copies of a 3 MiB value were 15 GB)', () => {
  const huge = Buffer.alloc(HUGE_BYTES, 0x61);
  const list = repeated(new Prng(3), { value: huge });
  assert.ok(list.length >= 1);
  assert.ok(treeBytes(list) <= Math.max(MAX_REPEATED_BYTES, HUGE_BYTES), `${treeBytes(list)} bytes`);
  const small = repeated(new Prng(3), Buffer.from('v'));
  assert.ok(small.length >= 100, 'a small value is still repeated 100 times or more');
});

test('treeNodes counts a shared object in every place it is shared, and stops past its limit', () => {
  const leaf = { a: 1 };
  assert.equal(treeNodes([leaf, leaf]), 5);
  assert.equal(treeNodes(Buffer.alloc(10)), 1);
  const wide = Array.from({ length: 1000 }, () => leaf);
  const huge = Array.from({ length: 1000 }, () => wide); // a million leaves as a tree
  assert.equal(treeNodes(huge, 500), 501);
});

/** What three mutations can reach in bytes: a huge value, a repeat, doubled by `[old, copy]` twice. */
const MUTATED_BYTES_BOUND = 4 * (MAX_REPEATED_BYTES + HUGE_BYTES);

test('Maintenance/MoveLeader and Auth/AuthEnable requests of the seeds where budget 50 grew past 6 GB stay bounded in bytes', () => {
  const fixtures = validRequests({ lease: 1, memberId: '1' });
  for (const method of ['Maintenance/MoveLeader', 'Auth/AuthEnable']) {
    for (let seed = 11_201; seed <= 12_000; seed++) {
      const r = new Prng(seed);
      if (r.int(0, 3) < 2) continue;
      const bytes = treeBytes(mutateObject(r, method, fixtures[method] ?? {}), MUTATED_BYTES_BOUND);
      assert.ok(bytes <= MUTATED_BYTES_BOUND, `${method} seed ${seed}: ${bytes} bytes`);
    }
  }
});

test('KV/Txn requests of the seeds where budget 100 ran out of memory (3403 among them) stay bounded', () => {
  const valid = validRequests({ lease: 1, memberId: '1' })['KV/Txn']!;
  for (let seed = 3_301; seed <= 3_500; seed++) {
    const r = new Prng(seed);
    if (r.int(0, 3) < 2) continue; // the fuzz's roll: bytes, not an object (grpc-fuzz.test.ts fuzzRequest)
    const nodes = treeNodes(mutateObject(r, 'KV/Txn', valid), MUTATED_NODES_BOUND);
    assert.ok(nodes <= MUTATED_NODES_BOUND, `seed ${seed}: a mutated KV/Txn of more than ${MUTATED_NODES_BOUND} nodes`);
  }
});

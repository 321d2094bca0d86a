/**
 * The quota and the reported db size count what the process really holds (issue: a store reached
 * 3.5 times its quota in memory when a version was counted as its key, its value and 32 bytes).
 * Measured here as the growth of V8's heap and external memory after full collections.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { KvStateMachine, encodeKvCommand } from '../../src/statemachine/mvcc/index.js';
import { index } from '../../src/core/ids.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function held(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

for (const { versions, keys, valueBytes } of [
  { versions: 60_000, keys: 60_000, valueBytes: 100 },
  { versions: 60_000, keys: 300, valueBytes: 10 },
  { versions: 8_000, keys: 8_000, valueBytes: 4096 },
]) {
  test(`counted bytes are what the store holds in memory, within a third: ${versions} versions of ${keys} keys, ${valueBytes}-byte values`, () => {
    const value = Buffer.alloc(valueBytes, 1);
    const before = held();
    const kv = new KvStateMachine();
    for (let i = 0; i < versions; i++) {
      const key = Buffer.from(`key-${String(i % keys).padStart(8, '0')}`);
      const out = kv.apply(encodeKvCommand({ client: 'c', seq: i + 1, lowestPending: i + 1, request: { op: 'put', key, value, lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false } }), index(i + 1));
      assert.ok(out.ok);
    }
    const measured = held() - before;
    const counted = kv.store.approximateBytes();
    const ratio = counted / measured;
    assert.ok(ratio > 0.75 && ratio < 1.33, `counted ${counted} bytes, measured ${measured}: ratio ${ratio.toFixed(2)}`);
    assert.ok(kv.store.keyCount === keys); // keeps the store alive through the measurement
  });
}

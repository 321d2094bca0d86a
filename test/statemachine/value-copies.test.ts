/**
 * MvccStore.put keeps a copy of the value: the decoder hands out binary fields as views of its
 * input, and a command that arrives in a Buffer (a frame from a socket, a WAL segment) gives a
 * Buffer view, whose slice() is another view: the stored value aliased, and kept alive, the whole
 * buffer it came in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvStateMachine, encodeKvCommand } from '../../src/statemachine/mvcc/index.js';
import { index } from '../../src/core/ids.js';

test('a value put by a command received in a Buffer is a copy, not a view of that buffer', () => {
  const kv = new KvStateMachine();
  const cmd = encodeKvCommand({ client: 'c', seq: 1, lowestPending: 1, request: { op: 'put', key: Buffer.from('k'), value: new Uint8Array(100).fill(7), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false } });
  const frame = Buffer.alloc(1 << 20);
  frame.set(cmd, 1000);
  kv.apply(frame.subarray(1000, 1000 + cmd.byteLength), index(1));
  const [, revs] = kv.store.histories().next().value as [string, { value: Uint8Array }[]];
  const value = revs[0]!.value;
  assert.ok(value.buffer.byteLength <= 4096, `the stored 100-byte value keeps a ${value.buffer.byteLength}-byte buffer alive`);
  frame.fill(0);
  assert.equal(value[0], 7, 'the stored value changed when the buffer it arrived in was overwritten');
});

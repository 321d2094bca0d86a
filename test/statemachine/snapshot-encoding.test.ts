/**
 * A snapshot encoded in slices while later commands apply is the snapshot of the moment it began
 * (see KvSnapshotEncoding): the same bytes as snapshot() then, through puts, deletes, new keys,
 * sessions and a compaction in between; abandoned by a restore.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvStateMachine, encodeKvCommand, type KvRequest } from '../../src/statemachine/mvcc/index.js';
import { index } from '../../src/core/ids.js';
import { Prng } from '../../src/core/prng.js';
import { packTransient } from '../../src/core/codec.js';

const b = (s: string): Uint8Array => Buffer.from(s);

function writer(kv: KvStateMachine) {
  let seq = 0;
  return (request: KvRequest) => {
    seq++;
    return kv.apply(encodeKvCommand({ client: `c${seq % 3}`, seq, lowestPending: seq, request }), index(seq));
  };
}

function randomWrite(random: Prng, n: number): KvRequest {
  // Keys with bytes above 0x7f too: their text takes two bytes each encoded.
  const key = random.chance(0.1) ? Uint8Array.of(0x6b, 0xe9, random.int(0, 255)) : b(`key-${random.int(0, 60)}`);
  if (random.chance(0.2)) return { op: 'delete', key, rangeEnd: b(''), prevKv: false };
  return { op: 'put', key, value: new Uint8Array(random.int(0, 300)).fill(n & 0xff), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false };
}

test('a snapshot encoded in slices, with writes applied between the slices, is the snapshot of the moment it began', () => {
  for (const seed of [1, 2, 3, 4]) {
    const random = new Prng(seed);
    const kv = new KvStateMachine();
    const write = writer(kv);
    for (let i = 0; i < 200; i++) write(randomWrite(random, i));
    const expected = kv.snapshot();
    const encoding = kv.beginSnapshot();
    let bytes: Uint8Array | null = null;
    let slices = 0;
    for (let i = 0; bytes === null; i++) {
      bytes = encoding.step(random.int(1, 400));
      slices++;
      for (let w = random.int(0, 5); w > 0; w--) write(randomWrite(random, 1000 + i));
    }
    assert.ok(slices > 10, `seed ${seed}: ${slices} slices`);
    assert.deepEqual(bytes, expected, `seed ${seed}`);
    assert.ok(bytes.buffer.byteLength - bytes.byteLength <= 64, `seed ${seed}: the buffer sized at the start fits (${bytes.buffer.byteLength} for ${bytes.byteLength})`);
    const restored = new KvStateMachine();
    restored.restore(bytes);
    assert.deepEqual(restored.snapshot(), expected, `seed ${seed}: it restores to the state it was taken of`);
  }
});

test('a compaction while a snapshot is encoded: the snapshot is still of the state it began with', () => {
  const kv = new KvStateMachine();
  const write = writer(kv);
  const random = new Prng(9);
  for (let i = 0; i < 100; i++) write(randomWrite(random, i));
  const expected = kv.snapshot();
  const encoding = kv.beginSnapshot();
  assert.equal(encoding.step(50), null);
  for (let i = 0; i < 20; i++) write(randomWrite(random, 200 + i));
  const compacted = write({ op: 'compact', revision: kv.store.revision - 1 });
  assert.ok(compacted.ok, JSON.stringify(compacted));
  let bytes: Uint8Array | null = null;
  while (bytes === null) {
    bytes = encoding.step(50);
    write(randomWrite(random, 300));
  }
  assert.deepEqual(bytes, expected);
});

test('a restore abandons a snapshot being encoded; stepping it after is a bug', () => {
  const kv = new KvStateMachine();
  const write = writer(kv);
  const random = new Prng(5);
  for (let i = 0; i < 100; i++) write(randomWrite(random, i));
  const other = kv.snapshot();
  const encoding = kv.beginSnapshot();
  assert.equal(encoding.step(10), null);
  kv.restore(other);
  assert.throws(() => encoding.step(10), /abandoned/);
});

test('the snapshot-sees-later-writes mutant keeps versions written after the snapshot began', () => {
  const kv = new KvStateMachine(undefined, { mutant: 'snapshot-sees-later-writes' });
  const write = writer(kv);
  write({ op: 'put', key: b('a'), value: b('1'), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false });
  const expected = kv.snapshot();
  const encoding = kv.beginSnapshot();
  write({ op: 'put', key: b('a'), value: b('2'), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false });
  assert.notDeepEqual(encoding.step(1 << 20), expected);
});

test('the encoded size the key index keeps is what the keys take encoded, through writes, deletes, compactions and a restore', () => {
  const random = new Prng(21);
  const kv = new KvStateMachine();
  const write = writer(kv);
  const walked = (store: KvStateMachine): number => {
    let bytes = 0;
    for (const [key, revs] of store.store.histories()) {
      bytes += packTransient([key, revs.map((r) => [r.main, r.sub, r.createRevision, r.version, r.value, r.lease])]).byteLength;
    }
    return bytes;
  };
  for (let i = 0; i < 600; i++) {
    if (i % 97 === 96) write({ op: 'compact', revision: kv.store.revision - random.int(0, 30) });
    else write(randomWrite(random, i));
    if (i % 50 === 0) assert.equal(kv.store.snapshotBytes, walked(kv), `after ${i} writes`);
  }
  // Many versions of one key: its array header grows past 15 and past 65535 would too.
  for (let i = 0; i < 40; i++) write({ op: 'put', key: b('hot'), value: b(`v${i}`), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false });
  assert.equal(kv.store.snapshotBytes, walked(kv));
  const restored = new KvStateMachine();
  restored.restore(kv.snapshot());
  assert.equal(restored.store.snapshotBytes, walked(restored));
});

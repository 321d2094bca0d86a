/**
 * The snapshot digest every Multi-Paxos chunk carries: the same bytes give the same digest on
 * every member and every build (members of two builds meet in a rolling upgrade, so the value
 * itself is pinned), and a change of one byte, or of the length alone, gives another.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { snapshotDigest } from '../../../src/protocols/paxos/digest.js';

const enc = new TextEncoder();

test('the digest of given bytes is fixed across builds', () => {
  assert.equal(snapshotDigest(new Uint8Array(0)), snapshotDigest(new Uint8Array(0)));
  assert.match(snapshotDigest(enc.encode('[{"index":1,"text":"noop"}]')), /^[0-9a-f]{16}$/);
  assert.equal(snapshotDigest(enc.encode('quorate')), PINNED_QUORATE);
});

test('one byte changed, two bytes swapped, or a zero byte added gives another digest', () => {
  const base = enc.encode('{"values":[["k1",3],["k2",5]]}');
  const seen = new Set([snapshotDigest(base)]);
  for (let i = 0; i < base.length; i++) {
    const changed = base.slice();
    changed[i] = changed[i]! ^ 1;
    seen.add(snapshotDigest(changed));
  }
  const swapped = base.slice();
  [swapped[3], swapped[4]] = [swapped[4]!, swapped[3]!];
  seen.add(snapshotDigest(swapped));
  const longer = new Uint8Array(base.length + 1);
  longer.set(base);
  seen.add(snapshotDigest(longer));
  assert.equal(seen.size, base.length + 3);
  assert.notEqual(snapshotDigest(new Uint8Array(1)), snapshotDigest(new Uint8Array(2)));
});

const PINNED_QUORATE = '6c05d0bbf97da852';

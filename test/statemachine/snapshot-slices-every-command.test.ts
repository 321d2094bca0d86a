/**
 * A sliced snapshot under every kind of command (leases granted, attached, revoked with keys
 * deleted, expiry votes, compaction votes under a Byzantine quorum, roles, published members,
 * membership config), stepped in random slices, equals snapshot() at its start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvStateMachine, encodeKvCommand } from '../../src/statemachine/mvcc/index.js';
import { index } from '../../src/core/ids.js';
import { Prng } from '../../src/core/prng.js';

const b = (s: string): Uint8Array => Buffer.from(s);

function cmdFor(random: Prng, kv: KvStateMachine, n: number): unknown {
  const lease = String(random.int(1, 4));
  const key = b(`k${random.int(0, 40)}`);
  switch (random.int(0, 11)) {
    case 0: return { op: 'lease-grant', id: lease, ttlSeconds: 60 };
    case 1: return { op: 'lease-revoke', id: lease };
    case 2: return { op: 'lease-expire', id: lease, renewals: 0 };
    case 3: return { op: 'compact-vote', revision: Math.max(1, kv.store.revision - random.int(0, 5)) };
    case 4: return { op: 'role-add', name: `r${random.int(0, 5)}` };
    case 5: return { op: 'publish-member', name: `m${random.int(0, 3)}`, clientUrls: [`http://x${n}`] };
    case 6: return { op: 'delete', key: b('k'), rangeEnd: b('l'), prevKv: false };
    default: return { op: 'put', key, value: new Uint8Array(random.int(0, 200)).fill(n & 0xff), lease: random.chance(0.4) ? lease : '0', prevKv: false, ignoreValue: false, ignoreLease: false };
  }
}

test('sliced snapshots equal snapshot() at their start under leases, votes, auth and compactions', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const random = new Prng(seed);
    const kv = new KvStateMachine(undefined, { leaseExpiryQuorum: 2 });
    let seq = 0;
    const apply = (): void => {
      seq++;
      const origin = `m${random.int(0, 3)}`;
      kv.apply(encodeKvCommand({ client: `c${seq % 5}`, seq, lowestPending: seq, request: cmdFor(random, kv, seq) as never }), index(seq), origin);
    };
    for (let i = 0; i < 300; i++) apply();
    for (let round = 0; round < 5; round++) {
      const expected = kv.snapshot();
      const encoding = kv.beginSnapshot();
      let bytes: Uint8Array | null = null;
      while (bytes === null) {
        bytes = encoding.step(random.int(1, 3000));
        for (let w = random.int(0, 8); w > 0; w--) apply();
      }
      assert.deepEqual(Buffer.from(bytes), Buffer.from(expected), `seed ${seed} round ${round}`);
      const again = new KvStateMachine(undefined, { leaseExpiryQuorum: 2 });
      again.restore(bytes);
      assert.deepEqual(Buffer.from(again.snapshot()), Buffer.from(expected), `seed ${seed} round ${round}: restores`);
    }
  }
});

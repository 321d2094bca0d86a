/**
 * A checkpoint's compaction in slices (PbftReplica.beginCompact / stepCompact) lays out pack({ service,
 * clients }) in place: its bytes and part digests must be those of one whole pack(), whatever the
 * budget per step, at every MessagePack size boundary of the service's bytes (bin 8/16/32) and of the
 * client table (fixarray/array 16/array 32), with large and small timestamps, and for an empty state;
 * and a checkpoint the others prove while this replica's compaction of it is in flight becomes stable
 * when it ends, with this replica's state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../../src/core/prng.js';
import type { Index, NodeId, Term } from '../../../src/core/ids.js';
import type { Principal } from '../../../src/core/authenticator.js';
import { pack } from '../../../src/core/codec.js';
import { SimKeyring } from '../../../src/sim/sim-authenticator.js';
import { PbftReplica, batchDigestOf, checkpointDigestOf, checkpointPayload, stateMetaOf, type PbftMessage, type PbftSlotRecord, type StateMeta } from '../../../src/protocols/pbft/index.js';

const ids = ['n1', 'n2', 'n3', 'n4'] as NodeId[];
const PART_BYTES = 64;

/** n4 restarted with 1 to 4 decided and executed (its checkpoint at 4 not compacted yet), its table at 4 set to `clients`. */
function replicaAt4(keyring: SimKeyring, clients: [Principal, number][]): PbftReplica {
  const digest = batchDigestOf(keyring.authenticatorFor('n4'), []);
  const entries = [1, 2, 3, 4].map((seq) => ({
    index: seq as Index, term: 0 as Term, kind: 'command' as const,
    data: pack({ prePrepare: null, cert: null, decided: { view: 0, digest, batch: [] } } satisfies PbftSlotRecord),
  }));
  const replica = new PbftReplica({
    id: 'n4' as NodeId, membership: { voters: ids, outgoingVoters: [], learners: [] }, random: new Prng(1),
    authenticator: keyring.authenticatorFor('n4'), checkpointIntervalSeqs: 4, statePartBytes: PART_BYTES,
    restored: { hardState: null, snapshot: null, entries },
  });
  assert.equal(replica.status().lastExecuted, 4);
  const inner = replica as unknown as { clientTablesAt: Map<number, [Principal, number][]> };
  assert.ok(inner.clientTablesAt.has(4), 'the table at 4 was noted when 4 executed');
  inner.clientTablesAt.set(4, clients);
  return replica;
}

function ownCheckpointAt4(replica: PbftReplica): { data: Uint8Array; meta: StateMeta } {
  const own = (replica as unknown as { ownCheckpoints: Map<number, { data: Uint8Array; meta: StateMeta }> }).ownCheckpoints.get(4);
  assert.ok(own !== undefined, 'compacted');
  return own;
}

function table(n: number): [Principal, number][] {
  // Timestamps over 2^32 too (uint 64), and principal names of varied length.
  return Array.from({ length: n }, (_, i) => [`n${i % 4 + 1}#${i}` as Principal, i % 3 === 0 ? 2 ** 40 + i : i + 1] as [Principal, number]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

test('a compaction in slices is byte for byte one whole pack() of the checkpoint state, with the same part digests, at every size boundary and budget', { timeout: 120_000 }, () => {
  const keyring = new SimKeyring(new Prng(7));
  const auth = keyring.authenticatorFor('n4');
  const cases: { serviceBytes: number; clients: number; budgets: number[] }[] = [
    { serviceBytes: 0, clients: 0, budgets: [1, Number.POSITIVE_INFINITY] },
    { serviceBytes: 1, clients: 1, budgets: [1, 7] },
    { serviceBytes: 255, clients: 15, budgets: [1, 7, 64, 1000] },
    { serviceBytes: 256, clients: 16, budgets: [1, 63, 65, Number.POSITIVE_INFINITY] },
    { serviceBytes: 65_535, clients: 0, budgets: [4096, 65_535, Number.POSITIVE_INFINITY] },
    { serviceBytes: 65_536, clients: 65_535, budgets: [4096, 100_000] },
    { serviceBytes: 300_000, clients: 65_536, budgets: [PART_BYTES, 65_536, Number.POSITIVE_INFINITY] },
  ];
  for (const c of cases) {
    const service = new Uint8Array(c.serviceBytes);
    for (let i = 0; i < service.length; i++) service[i] = (i * 31 + c.serviceBytes) & 0xff;
    const clients = table(c.clients);
    const whole = pack({ service, clients });
    const meta = stateMetaOf(auth, whole, PART_BYTES);
    for (const budget of c.budgets) {
      const replica = replicaAt4(keyring, clients);
      assert.ok(replica.beginCompact(4 as Index, service));
      let steps = 0;
      while (!replica.stepCompact(budget)) steps++;
      const own = ownCheckpointAt4(replica);
      const what = `service ${c.serviceBytes} bytes, ${c.clients} clients, budget ${budget} (${steps + 1} steps)`;
      assert.ok(Buffer.from(own.data).equals(Buffer.from(whole)), `${what}: the state differs from pack()`);
      assert.deepEqual(own.meta, meta, `${what}: the part digests differ`);
      assert.ok(!replica.compactionInFlight());
    }
  }
});

test('2f + 1 CHECKPOINTs that arrive while this replica\'s compaction of that checkpoint is in flight make it stable once the compaction ends, not before; an abandoned one sends nothing', () => {
  const keyring = new SimKeyring(new Prng(7));
  const auth = keyring.authenticatorFor('n4');
  const clients = table(5);
  const service = new Uint8Array(10_000).fill(3);
  const whole = pack({ service, clients });
  const digest = checkpointDigestOf(auth, stateMetaOf(auth, whole, PART_BYTES));
  const claim = (from: NodeId): PbftMessage => ({
    type: 'checkpoint', from, to: 'n4' as NodeId,
    checkpoint: { seq: 4, stateDigest: digest, replica: from, signature: keyring.authenticatorFor(from).sign(checkpointPayload(4, digest, from)) },
  });

  const abandoned = replicaAt4(keyring, clients);
  assert.ok(abandoned.beginCompact(4 as Index, service));
  assert.equal(abandoned.stepCompact(1000), false);
  abandoned.abandonCompact();
  assert.ok(!abandoned.compactionInFlight() && abandoned.stepCompact(1000));
  const sent = abandoned.hasReady() ? abandoned.ready().send.filter((m) => m.type === 'checkpoint') : [];
  assert.equal(sent.length, 0, 'no CHECKPOINT for an abandoned compaction');

  const replica = replicaAt4(keyring, clients);
  assert.ok(replica.beginCompact(4 as Index, service));
  assert.equal(replica.stepCompact(1000), false);
  for (const from of ['n1', 'n2', 'n3'] as NodeId[]) replica.step(claim(from));
  assert.equal(replica.status().stableCheckpoint, 0, 'not stable without its own state');
  assert.ok(replica.compactionInFlight(), 'the proof does not drop the compaction');
  while (!replica.stepCompact(1000));
  assert.equal(replica.status().stableCheckpoint, 4);
  assert.ok(Buffer.from(ownCheckpointAt4(replica).data).equals(Buffer.from(whole)));
});

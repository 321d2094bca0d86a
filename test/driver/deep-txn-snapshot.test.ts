/**
 * A txn's answer nests deeper than the txn: every level of nesting takes two levels in the
 * answer as in the request, and a range's kvs take three more below. The answers are kept with
 * the client sessions, which every snapshot holds four levels down. A client's txn nested 45
 * deep (one op per level, well inside maxTxnOps, and a command the server's encoder still writes)
 * was applied on every member, and each member's next snapshot then threw "Too deep objects in
 * depth 101" out of the driver: no member took a snapshot again (its log grew without bound, its
 * snapshot waiters waited for ever), and a process that dies of it dies again at every restart.
 * Txns nested deeper than MAX_TXN_NESTING are now refused (too-many-ops), at the server and at
 * apply alike, and what is kept of the deepest one allowed fits in a snapshot that every reader
 * reads, whole (unpack, at most 100 levels) as in slices.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pack, unpack } from '../../src/core/codec.js';
import { protocolByName } from '../../src/protocols/registry.js';
import {
  encodeKvCommand, KvStateMachine, MAX_TXN_NESTING, type KvOutcome, type TxnOp, type TxnRequest,
} from '../../src/statemachine/mvcc/index.js';
import { Answer, kvPut, QUIET_LEADER_OPTIONS, TestCluster } from './harness.js';

const b = (s: string): Uint8Array => Buffer.from(s);

/** The ops whose answers nest deepest: a put's prevKv, a range's kvs, a delete's prevKvs (of keys written before each). */
const DEEPEST_ANSWERS: readonly TxnOp[] = [
  { op: 'put', key: b('k'), value: b('v'), lease: '0', prevKv: true, ignoreValue: false, ignoreLease: false },
  { op: 'range', key: b('k'), rangeEnd: b(''), limit: 0, revision: 0, sortOrder: 'NONE', sortTarget: 'KEY', keysOnly: false, countOnly: false, minModRevision: 0, maxModRevision: 0, minCreateRevision: 0, maxCreateRevision: 0 },
  { op: 'delete', key: b('d'), rangeEnd: b(''), prevKv: true },
];

/** Those ops in a txn nested `nesting` levels inside the top one. */
function nested(nesting: number): TxnRequest {
  let t: TxnRequest = { op: 'txn', compare: [], success: [...DEEPEST_ANSWERS], failure: [] };
  for (let i = 0; i < nesting; i++) t = { op: 'txn', compare: [], success: [t], failure: [] };
  return t;
}

/** The deepest nesting whose command the encoder writes (a server proposes it as is). */
function deepestWritable(): number {
  let n = MAX_TXN_NESTING;
  for (;;) {
    try {
      encodeKvCommand({ client: 'x', seq: 1, lowestPending: 1, request: nested(n + 1) });
    } catch {
      return n;
    }
    n++;
  }
}

test('a client txn nested as deep as a command can be written stops no member\'s snapshots (deeper than MAX_TXN_NESTING: too-many-ops)', () => {
  const deepest = deepestWritable();
  assert.ok(deepest > MAX_TXN_NESTING, `the encoder writes commands nested ${deepest} deep, past the bound`);
  const c = new TestCluster<KvOutcome>(['n1', 'n2', 'n3'], {
    protocol: protocolByName('raft'),
    protocolOptions: QUIET_LEADER_OPTIONS,
    stateMachine: () => new KvStateMachine(),
    limits: () => ({ snapshotEveryEntries: 4 }),
  });
  c.elect('n1');
  const answers: [number, Answer<KvOutcome>][] = [];
  let seq = 0;
  let writerSeq = 0;
  for (let nesting = MAX_TXN_NESTING - 1; nesting <= deepest; nesting++) {
    // Through the leader, and through a follower (the leader sends the answer back in a frame).
    for (const via of ['n1', 'n2']) {
      for (const key of ['k', 'd']) c.driver('n1').propose(kvPut(++writerSeq, key, b('v')), () => {});
      c.tick(2);
      const a = new Answer<KvOutcome>();
      seq++;
      c.driver(via).propose(encodeKvCommand({ client: `c-${via}`, seq, lowestPending: seq, request: nested(nesting) }), a.reply);
      answers.push([nesting, a]);
      c.tick(2);
    }
  }
  for (let i = 0; i < 10; i++) {
    c.driver('n1').propose(kvPut(++writerSeq, 'other', b(String(i))), () => {});
    c.tick(2);
  }
  for (const [nesting, a] of answers) {
    assert.equal(a.outcome, 'ok', `nested ${nesting}: answered`);
    const outcome = a.answers[0]!.value!;
    if (nesting <= MAX_TXN_NESTING) assert.equal(outcome.ok, true, `nested ${nesting}: applied (${JSON.stringify(outcome)})`);
    else assert.deepEqual(outcome, { ok: false, error: 'too-many-ops' }, `nested ${nesting}: refused at apply`);
  }
  for (const name of ['n1', 'n2', 'n3']) {
    const m = c.member(name);
    assert.equal(m.driver.running, true, `${name} runs`);
    const snapshots = m.storage.snapshots;
    assert.ok(snapshots.length > 0, `${name} took a snapshot after the deep txns`);
    const data = snapshots[snapshots.length - 1]!.data;
    // Every reader reads it: in slices (restore), and whole (within the codec's 100 levels).
    new KvStateMachine().restore(data);
    assert.doesNotThrow(() => unpack(data), `${name}'s snapshot decodes whole`);
  }
  // The deepest answer kept, in a frame to the forwarding follower, is within the codec's bound too.
  const deepestKept = answers.filter(([n]) => n === MAX_TXN_NESTING).map(([, a]) => a.answers[0]!.value!);
  assert.equal(deepestKept.length, 2);
  for (const o of deepestKept) {
    const frame = pack({ kind: 'forward-result', result: o });
    assert.deepEqual(pack(unpack(frame)), frame);
  }
});

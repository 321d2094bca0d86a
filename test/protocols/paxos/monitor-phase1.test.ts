/**
 * The Paxos monitor's phase-1 check (a leader's first Accept follows promises from a phase-1 quorum
 * of the configuration at its commit point) must not flag a correct leader. A leader that wins
 * phase 1 with a configuration entry among the values it recovers sends that entry's new members
 * the whole log (refreshPeers: next slot 1), and peers go in sorted order: when a new member's id
 * sorts first, the leader's first Accept starts at slot 1, whose configuration (the bootstrap one)
 * the promisers need not make a quorum of.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeId, type Index, type NodeId } from '../../../src/core/ids.js';
import { Prng } from '../../../src/core/prng.js';
import type { LogEntry, Membership } from '../../../src/core/replica.js';
import {
  encodeConfigEntry, makeBallot, MultiPaxosReplica, PaxosConfig, PaxosMonitor, type PaxosHardState, type PaxosMessage, type PromiseMsg, type Slot,
} from '../../../src/protocols/paxos/index.js';

const ids = (...names: string[]): NodeId[] => names.map(nodeId);
const ranks = (names: string[]): Record<string, number> => Object.fromEntries(names.map((n, i) => [n, i + 1]));

test('a leader whose first Accept goes to a member new in a recovered configuration entry (from slot 1) is not flagged', () => {
  // Bootstrap {b,c,d}; slot 1 adds e and slot 2 adds f (both chosen, b's commit point is 2); slot 3
  // adds a (accepted by b, not known chosen). a ranks 6, after f.
  const boot: Membership = { voters: ids('b', 'c', 'd'), outgoingVoters: [], learners: [] };
  const order = ['b', 'c', 'd', 'e', 'f', 'a'];
  const conf = (n: number, voters: string[]): PaxosConfig => PaxosConfig.from({ voters: ids(...voters), outgoingVoters: [], learners: [], ranks: ranks(order.slice(0, n)), nextRank: n + 1 });
  const old = makeBallot(1, 1);
  const entry = (slot: number, node: string, config: PaxosConfig): LogEntry => ({
    index: slot as Index, term: old as LogEntry['term'], kind: 'config', data: encodeConfigEntry({ kind: 'add-voter', node: nodeId(node) }, config), acceptedBallot: old as LogEntry['term'],
  });
  const entries = [entry(1, 'e', conf(4, ['b', 'c', 'd', 'e'])), entry(2, 'f', conf(5, ['b', 'c', 'd', 'e', 'f'])), entry(3, 'a', conf(6, ['a', 'b', 'c', 'd', 'e', 'f']))];
  const hardState: PaxosHardState = { promised: old as PaxosHardState['promised'], chosen: 2 as PaxosHardState['chosen'] };
  const b = new MultiPaxosReplica({ id: nodeId('b'), membership: boot, random: new Prng(5), prePrepare: false, restored: { hardState, snapshot: null, entries }, applied: 2 as Index });
  const monitor = new PaxosMonitor({ membership: boot, protocolOptions: {} });
  const sent: PaxosMessage[] = [];
  const drain = (): void => {
    while (b.hasReady()) {
      const rd = b.ready();
      for (const m of [...rd.sendBeforePersist, ...rd.send]) {
        monitor.sent(m);
        sent.push(m);
      }
      b.advance(rd);
      monitor.observed(b);
    }
  };
  monitor.observed(b);
  for (let i = 0; i < 200 && !sent.some((m) => m.type === 'prepare'); i++) {
    b.tick();
    drain();
  }
  const prepare = sent.find((m) => m.type === 'prepare');
  assert.ok(prepare !== undefined && prepare.type === 'prepare');
  const promise = (from: string): PromiseMsg => ({
    type: 'promise', from: nodeId(from), to: nodeId('b'), ballot: prepare.ballot, fromSlot: prepare.fromSlot, throughSlot: (prepare.fromSlot - 1) as Slot,
    more: false, accepted: [], chosenThrough: 0 as Slot, snapshot: null,
  });
  // e and f promise: with b, a majority of {b,c,d,e,f}; the entry at slot 3 asks for a too (4 of 6).
  for (const from of ['e', 'f', 'a']) {
    const m = promise(from);
    monitor.sent(m);
    b.step(m);
    drain();
  }
  assert.equal(b.status().role, 'leader', 'b won phase 1 with b,e,f (a majority of {b,c,d,e,f}) and a (with them, 4 of {a,b,c,d,e,f})');
  for (let i = 0; i < 3 && !sent.some((m) => m.type === 'accept' && m.entries.length > 0); i++) {
    b.tick();
    drain();
  }
  const accepts = sent.filter((m) => m.type === 'accept' && m.entries.length > 0);
  assert.ok(accepts.length > 0);
  const first = accepts[0]!;
  assert.ok(first.type === 'accept');
  // The precondition of the false alarm: b sends a (new, sorted first) the log from slot 1.
  assert.equal(first.to, nodeId('a'));
  assert.equal(first.entries[0]!.index, 1);
});

test('multipaxos, 7 nodes, seeds 5 and 116: leaders whose first Accept goes to spare n10 from slot 1 pass the check', async () => {
  // On the build of 2026-12-07 both runs failed with the check taken from the Accept's first slot:
  // seed 5, "n2 proposes from slot 1 in ballot (31,2) after promises from n2,n3,n4,n9"; seed 116,
  // n1 in ballot (5,1). (Seed 127 showed it on an earlier build; every change to the world moves
  // which seeds do.) The precondition itself is pinned above on the real core, free of any trace:
  // these runs are the end-to-end check that a correct leader is not flagged.
  const { runSeed, failed } = await import('../../../src/sim/run.js');
  for (const seed of [5, 116]) {
    const r = runSeed({ protocol: 'multipaxos', nodes: 7, seed });
    assert.ok(!failed(r), `seed ${seed}: ${JSON.stringify(r.outcome)} ${r.linearizability}`);
  }
});

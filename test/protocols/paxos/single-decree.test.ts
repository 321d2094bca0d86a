/**
 * Single-decree Paxos, as in "Paxos Made Simple": the safety argument step by step, and the
 * duelling proposers that show why Multi-Paxos needs a distinguished leader.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeIds, type NodeId } from '../../../src/core/ids.js';
import { InvariantViolation } from '../../../src/core/replica.js';
import { Prng } from '../../../src/core/prng.js';
import {
  DecreeAcceptor, DecreeLearner, DecreeProposer, makeBallot, type AcceptorState, type DecreeMessage,
} from '../../../src/protocols/paxos/index.js';

const ACCEPTORS = nodeIds('a1', 'a2', 'a3');

/** Acceptors with durable state, one learner, and proposers; messages go where the script says. */
class Decree {
  readonly acceptors = new Map<NodeId, DecreeAcceptor<string>>();
  readonly disk = new Map<NodeId, AcceptorState<string>>();
  readonly learner = new DecreeLearner<string>(ACCEPTORS.length);
  readonly proposers = new Map<NodeId, DecreeProposer<string>>();

  constructor(proposers: { id: string; value: string; mutant?: string }[]) {
    for (const a of ACCEPTORS) this.acceptors.set(a, new DecreeAcceptor<string>(a));
    proposers.forEach((p, i) => {
      const id = p.id as NodeId;
      this.proposers.set(id, new DecreeProposer<string>({ id, rank: i + 1, acceptors: ACCEPTORS, value: p.value, ...(p.mutant ? { mutant: p.mutant } : {}) }));
    });
  }

  /** Deliver `msgs` to the acceptors named (others lose them); return what comes back. */
  toAcceptors(msgs: DecreeMessage<string>[], only: readonly string[] = ACCEPTORS): DecreeMessage<string>[] {
    const out: DecreeMessage<string>[] = [];
    for (const m of msgs) {
      if (!only.includes(m.to)) continue;
      const a = this.acceptors.get(m.to)!;
      const step = m.type === 'prepare' ? a.onPrepare(m) : m.type === 'accept' ? a.onAccept(m) : null;
      if (step === null) continue;
      if (step.persist !== null) this.disk.set(a.id, step.persist); // durable before the reply
      out.push(step.reply);
      if (step.reply.type === 'accepted') this.learner.onAccepted(step.reply);
    }
    return out;
  }

  /** Deliver acceptors' replies to their proposer; return the proposer's next messages. */
  toProposer(replies: DecreeMessage<string>[]): DecreeMessage<string>[] {
    const out: DecreeMessage<string>[] = [];
    for (const r of replies) {
      const p = this.proposers.get(r.to)!;
      if (r.type === 'promise') out.push(...p.onPromise(r));
      else if (r.type === 'nack') p.onNack(r);
    }
    return out;
  }
}

test('P1: an acceptor promises a higher ballot, refuses a lower one, and its promise is durable before the reply', () => {
  const a = new DecreeAcceptor<string>(ACCEPTORS[0]!);
  const p = nodeIds('p1')[0]!;
  const high = a.onPrepare({ from: p, ballot: makeBallot(2, 1) });
  assert.equal(high.reply.type, 'promise');
  assert.deepEqual(high.persist, { promised: makeBallot(2, 1), accepted: null });
  const low = a.onPrepare({ from: p, ballot: makeBallot(1, 2) });
  assert.equal(low.reply.type, 'nack');
  assert.equal(low.persist, null);
  assert.equal(a.onAccept({ from: p, ballot: makeBallot(1, 9), value: 'late' }).reply.type, 'nack', 'acceptors never accept below their promise');
  const restarted = new DecreeAcceptor<string>(ACCEPTORS[0]!, high.persist);
  assert.equal(restarted.onPrepare({ from: p, ballot: makeBallot(1, 2) }).reply.type, 'nack', 'the promise survives a restart');
});

test('ballots are (counter, node) ordered lexicographically: distinct per proposer, and there is always a higher one', () => {
  assert.ok(makeBallot(1, 2) > makeBallot(1, 1));
  assert.ok(makeBallot(2, 1) > makeBallot(1, 999));
  assert.notEqual(makeBallot(3, 1), makeBallot(3, 2));
});

test('quorum intersection (P2c): a later proposer adopts the value a phase-2 quorum accepted, because its phase-1 quorum overlaps it', () => {
  const d = new Decree([{ id: 'p1', value: 'x' }, { id: 'p2', value: 'y' }]);
  const p1 = d.proposers.get('p1' as NodeId)!;
  const p2 = d.proposers.get('p2' as NodeId)!;
  const accepts = d.toProposer(d.toAcceptors(p1.prepare()));
  d.toAcceptors(accepts, ['a1', 'a2']); // chosen by {a1, a2}; a3 never heard of it
  assert.equal(d.learner.chosen, 'x');
  // p2's phase-1 quorum {a2, a3} meets {a1, a2} in a2, which reports x.
  const accepts2 = d.toProposer(d.toAcceptors(p2.prepare(), ['a2', 'a3']));
  assert.ok(accepts2.length > 0 && accepts2.every((m) => m.type === 'accept' && m.value === 'x'), 'p2 proposes x, not its own y');
  d.toAcceptors(accepts2);
  assert.equal(d.learner.chosen, 'x');
});

test('mutant ignore-prior-accepted: the later proposer proposes its own value and a second value is chosen', () => {
  const d = new Decree([{ id: 'p1', value: 'x' }, { id: 'p2', value: 'y', mutant: 'ignore-prior-accepted' }]);
  const p1 = d.proposers.get('p1' as NodeId)!;
  const p2 = d.proposers.get('p2' as NodeId)!;
  d.toAcceptors(d.toProposer(d.toAcceptors(p1.prepare())), ['a1', 'a2']);
  const accepts2 = d.toProposer(d.toAcceptors(p2.prepare(), ['a2', 'a3']));
  assert.throws(() => d.toAcceptors(accepts2), (err: unknown) => err instanceof InvariantViolation && /no two values chosen/.test(err.message));
});

test('a proposer that crashes mid-phase-2 leaves its value with a minority; the next proposer may pick it or not, and only one value is ever chosen', () => {
  for (const sawIt of [true, false]) {
    const d = new Decree([{ id: 'p1', value: 'x' }, { id: 'p2', value: 'y' }]);
    const p1 = d.proposers.get('p1' as NodeId)!;
    const p2 = d.proposers.get('p2' as NodeId)!;
    d.toAcceptors(d.toProposer(d.toAcceptors(p1.prepare())), ['a1']); // p1 crashes after one Accept
    assert.equal(d.learner.chosen, undefined);
    const quorum = sawIt ? ['a1', 'a2'] : ['a2', 'a3'];
    d.toAcceptors(d.toProposer(d.toAcceptors(p2.prepare(), quorum)));
    assert.equal(d.learner.chosen, sawIt ? 'x' : 'y');
  }
});

test('duelling proposers: each Prepare pre-empts the other\'s phase 2, so without a leader nothing is chosen for as long as they keep duelling, and never two values', () => {
  const d = new Decree([{ id: 'p1', value: 'x' }, { id: 'p2', value: 'y' }]);
  const p1 = d.proposers.get('p1' as NodeId)!;
  const p2 = d.proposers.get('p2' as NodeId)!;
  let accepts1 = d.toProposer(d.toAcceptors(p1.prepare()));
  for (let round = 0; round < 50; round++) {
    // p2 prepares a higher ballot before p1's Accepts land: they are refused ...
    const accepts2 = d.toProposer(d.toAcceptors(p2.prepare()));
    d.toProposer(d.toAcceptors(accepts1));
    // ... and p1, told of the higher ballot, prepares above it before p2's Accepts land.
    accepts1 = d.toProposer(d.toAcceptors(p1.prepare()));
    d.toProposer(d.toAcceptors(accepts2));
  }
  assert.equal(d.learner.chosen, undefined, 'livelock: 100 rounds of phase 1, nothing chosen');
  assert.ok(p1.currentBallot > makeBallot(50, 1));
  // Once one of them stops (a leader), the other finishes.
  d.toAcceptors(accepts1);
  assert.equal(d.learner.chosen, 'x');
});

test('duelling proposers under random interleavings: never two values chosen', () => {
  let decided = 0;
  for (let seed = 1; seed <= 200; seed++) {
    const rng = new Prng(seed);
    const d = new Decree([{ id: 'p1', value: 'x' }, { id: 'p2', value: 'y' }, { id: 'p3', value: 'z' }]);
    let inFlight: DecreeMessage<string>[] = [];
    for (let step = 0; step < 300; step++) {
      if (inFlight.length === 0 || rng.chance(0.1)) {
        inFlight.push(...[...d.proposers.values()][rng.int(0, 2)]!.prepare());
        continue;
      }
      const m = inFlight.splice(rng.int(0, inFlight.length - 1), 1)[0]!;
      if (rng.chance(0.2)) continue; // lost
      if (m.type === 'prepare' || m.type === 'accept') inFlight.push(...d.toAcceptors([m], [m.to]));
      else inFlight.push(...d.toProposer([m]));
    }
    // The learner throws on a second value; reaching here means at most one was chosen.
    assert.ok(d.learner.chosen === undefined || ['x', 'y', 'z'].includes(d.learner.chosen), `seed ${seed}`);
    if (d.learner.chosen !== undefined) decided++;
  }
  assert.ok(decided > 20, `some runs decide (${decided} of 200), so the check above is not vacuous`);
});

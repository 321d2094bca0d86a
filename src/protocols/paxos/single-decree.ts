/**
 * Single-decree Paxos (Lamport, "Paxos Made Simple"): proposers, acceptors and learners that
 * agree on one value. Pure and message-driven: every handler returns the messages to send, and
 * an acceptor's handlers also return the state to make durable *before* those messages leave.
 *
 * Phase 1: a proposer picks a ballot above any it has seen and sends Prepare; an acceptor that
 * has promised nothing higher promises (and reports the highest-ballot proposal it accepted).
 * Phase 2: with promises from a phase-1 quorum, the proposer proposes the value of the
 * highest-ballot accepted proposal among them, or its own if there is none; an acceptor accepts
 * unless it promised a higher ballot. A value is chosen once a phase-2 quorum accepted it in one
 * ballot. Two proposers that keep pre-empting each other never finish (no liveness without a
 * leader), but never choose two values either.
 */
import { assert } from '../../core/assert.js';
import type { NodeId } from '../../core/ids.js';
import { InvariantViolation } from '../../core/replica.js';
import { NO_BALLOT, nextBallot, type Ballot } from './ballot.js';
import { quorumSizes, type QuorumSizes } from './config.js';

export interface Proposal<V> {
  readonly ballot: Ballot;
  readonly value: V;
}

export type DecreeMessage<V> =
  | { readonly type: 'prepare'; readonly from: NodeId; readonly to: NodeId; readonly ballot: Ballot }
  | { readonly type: 'promise'; readonly from: NodeId; readonly to: NodeId; readonly ballot: Ballot; readonly accepted: Proposal<V> | null }
  | { readonly type: 'nack'; readonly from: NodeId; readonly to: NodeId; readonly ballot: Ballot; readonly promised: Ballot }
  | { readonly type: 'accept'; readonly from: NodeId; readonly to: NodeId; readonly ballot: Ballot; readonly value: V }
  | { readonly type: 'accepted'; readonly from: NodeId; readonly to: NodeId; readonly ballot: Ballot; readonly value: V };

/** An acceptor's durable state. */
export interface AcceptorState<V> {
  readonly promised: Ballot;
  readonly accepted: Proposal<V> | null;
}

/** What an acceptor handler decided: make `persist` durable (if set), then send `reply`. */
export interface AcceptorStep<V> {
  readonly persist: AcceptorState<V> | null;
  readonly reply: DecreeMessage<V>;
}

export class DecreeAcceptor<V> {
  private state: AcceptorState<V>;

  constructor(readonly id: NodeId, restored: AcceptorState<V> | null = null) {
    this.state = restored ?? { promised: NO_BALLOT, accepted: null };
  }

  get promised(): Ballot {
    return this.state.promised;
  }

  get accepted(): Proposal<V> | null {
    return this.state.accepted;
  }

  onPrepare(m: { from: NodeId; ballot: Ballot }): AcceptorStep<V> {
    if (m.ballot <= this.state.promised) {
      return { persist: null, reply: { type: 'nack', from: this.id, to: m.from, ballot: m.ballot, promised: this.state.promised } };
    }
    this.set({ promised: m.ballot, accepted: this.state.accepted });
    return { persist: this.state, reply: { type: 'promise', from: this.id, to: m.from, ballot: m.ballot, accepted: this.state.accepted } };
  }

  onAccept(m: { from: NodeId; ballot: Ballot; value: V }): AcceptorStep<V> {
    if (m.ballot < this.state.promised) {
      return { persist: null, reply: { type: 'nack', from: this.id, to: m.from, ballot: m.ballot, promised: this.state.promised } };
    }
    this.set({ promised: m.ballot, accepted: { ballot: m.ballot, value: m.value } });
    return { persist: this.state, reply: { type: 'accepted', from: this.id, to: m.from, ballot: m.ballot, value: m.value } };
  }

  private set(next: AcceptorState<V>): void {
    assert(next.promised >= this.state.promised, 'a promise never goes backwards');
    assert(next.accepted === null || next.accepted.ballot <= next.promised, 'an acceptor never accepts below its promise');
    this.state = next;
  }
}

export interface DecreeProposerOptions<V> {
  readonly id: NodeId;
  /** The node's ballot rank (see ballot.ts): distinct for every proposer. */
  readonly rank: number;
  readonly acceptors: readonly NodeId[];
  readonly value: V;
  readonly quorums?: Partial<QuorumSizes>;
  /** 'ignore-prior-accepted': propose our own value even when promises report an accepted one. */
  readonly mutant?: string;
}

export class DecreeProposer<V> {
  readonly id: NodeId;
  private ballot: Ballot = NO_BALLOT;
  private highestSeen: Ballot = NO_BALLOT;
  private promises = new Map<NodeId, Proposal<V> | null>();
  private phase: 'idle' | 'preparing' | 'accepting' = 'idle';
  private readonly quorums: QuorumSizes;

  constructor(private readonly o: DecreeProposerOptions<V>) {
    this.id = o.id;
    this.quorums = quorumSizes(o.acceptors.length, o.quorums?.phase1, o.quorums?.phase2);
  }

  get currentBallot(): Ballot {
    return this.ballot;
  }

  /** Phase 1a: a fresh ballot above everything seen. */
  prepare(): DecreeMessage<V>[] {
    this.ballot = nextBallot(this.highestSeen > this.ballot ? this.highestSeen : this.ballot, this.o.rank);
    this.highestSeen = this.ballot;
    this.promises = new Map();
    this.phase = 'preparing';
    return this.o.acceptors.map((to) => ({ type: 'prepare', from: this.id, to, ballot: this.ballot }));
  }

  /** Phase 1b received; once a phase-1 quorum promised, phase 2a. */
  onPromise(m: { from: NodeId; ballot: Ballot; accepted: Proposal<V> | null }): DecreeMessage<V>[] {
    if (this.phase !== 'preparing' || m.ballot !== this.ballot) return [];
    this.promises.set(m.from, m.accepted);
    if (this.promises.size < this.quorums.phase1) return [];
    let prior: Proposal<V> | null = null;
    if (this.o.mutant !== 'ignore-prior-accepted') {
      for (const p of this.promises.values()) if (p !== null && (prior === null || p.ballot > prior.ballot)) prior = p;
    }
    const value = prior === null ? this.o.value : prior.value;
    this.phase = 'accepting';
    return this.o.acceptors.map((to) => ({ type: 'accept', from: this.id, to, ballot: this.ballot, value }));
  }

  /** Someone promised a higher ballot: this round is lost (the caller may prepare() again). */
  onNack(m: { ballot: Ballot; promised: Ballot }): void {
    if (m.promised > this.highestSeen) this.highestSeen = m.promised;
    if (m.ballot === this.ballot) this.phase = 'idle';
  }
}

/** Learns the chosen value from Accepted messages: a phase-2 quorum in one ballot. */
export class DecreeLearner<V> {
  private readonly votes = new Map<Ballot, Set<NodeId>>();
  private chosenValue: { value: V; ballot: Ballot } | null = null;
  private readonly phase2: number;

  constructor(acceptors: number, phase2?: number, private readonly same: (a: V, b: V) => boolean = Object.is) {
    this.phase2 = phase2 ?? quorumSizes(acceptors).phase2;
  }

  get chosen(): V | undefined {
    return this.chosenValue?.value;
  }

  /** Returns the chosen value once known. Throws if a second, different value is ever chosen. */
  onAccepted(m: { from: NodeId; ballot: Ballot; value: V }): V | undefined {
    let v = this.votes.get(m.ballot);
    if (v === undefined) this.votes.set(m.ballot, (v = new Set()));
    v.add(m.from);
    if (v.size >= this.phase2) {
      if (this.chosenValue !== null && !this.same(this.chosenValue.value, m.value)) {
        throw new InvariantViolation('no two values chosen', `${String(this.chosenValue.value)} in ballot ${this.chosenValue.ballot} and ${String(m.value)} in ballot ${m.ballot}`);
      }
      if (this.chosenValue === null) this.chosenValue = { value: m.value, ballot: m.ballot };
    }
    return this.chosen;
  }
}

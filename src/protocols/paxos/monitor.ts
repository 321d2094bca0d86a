/**
 * Paxos's safety invariants, checked from outside by a driver that sees every message and every
 * replica (the simulator). What counts is what acceptors *said*: an Accepted that left the node
 * is a vote, whether or not the acceptor later remembers it.
 *
 * - one value per (slot, ballot): a proposer never proposes two values in one ballot;
 * - no two different values are chosen for one slot (chosen: a phase-2 quorum of the slot's
 *   configuration sent Accepted; the slot's configuration is the one the last configuration entry
 *   chosen below it brings, or the initial one);
 * - a chosen value is never replaced: every proposal in a higher ballot for that slot carries it
 *   (Lamport's P2b);
 * - acceptors never accept below their promise, and a promise never goes backwards;
 * - a leader ran phase 1 with a quorum of the configuration at its commit point (its first
 *   Accept carries it): a member that took a configuration told it for a later slot (a
 *   joiner's, from a join answer or a snapshot below its since) for that one may not lead on it;
 * - an acceptor never forgets an acceptance it announced (checked when a replica restarts);
 * - snapshot transfers: the snapshot an acceptor is receiving lies beyond its commit point (one
 *   the log overtook is let go), and its progress through one leader's transfer of one snapshot
 *   never goes back while it runs (a late chunk of another transfer does not throw it away).
 */
import { InvariantViolation, type MonitorOptions, type Replica, type SafetyMonitor } from '../../core/replica.js';
import type { LogEntry, Snapshot } from '../../core/replica.js';
import type { NodeId } from '../../core/ids.js';
import { describeBallot, type Ballot } from './ballot.js';
import { quorumSizes } from './config.js';
import { configOfEntry, isMembership, PaxosConfig } from './membership.js';
import type { PaxosMessage, Slot } from './types.js';

interface AcceptorView {
  acceptedBallotAt(slot: Slot): Ballot | undefined;
  compactedThrough(): Slot;
  chosenAt(slot: Slot): LogEntry | undefined;
  receivingSnapshot?(): ReceivingView | null;
  heldSnapshot?(): Snapshot | null;
}

/** A snapshot transfer an acceptor is receiving (see MultiPaxosReplica.receivingSnapshot). */
interface ReceivingView {
  readonly index: Slot;
  readonly digest: string | undefined;
  readonly ballot: Ballot;
  readonly received: number;
}

/**
 * Ballots whose promisers the monitor keeps until their leader's first Accept is checked (a
 * campaign that never wins leaves its entry): the oldest goes beyond this, and ballots up to it
 * are no longer checked.
 */
export const MONITOR_MAX_PHASE1_BALLOTS = 4_096;

function isAcceptorView(x: object): x is AcceptorView {
  return typeof (x as Partial<AcceptorView>).acceptedBallotAt === 'function' && typeof (x as Partial<AcceptorView>).compactedThrough === 'function';
}

/** A snapshot's configuration (null: none this core wrote). */
function configOfSnapshot(m: unknown): PaxosConfig | null {
  if (!isMembership(m)) return null;
  try {
    return PaxosConfig.from(m);
  } catch {
    return null;
  }
}

export function valueDigest(e: LogEntry): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < e.data.length; i++) h = Math.imul(h ^ e.data[i]!, 0x01000193);
  return `${e.term}:${e.kind}:${e.data.length}:${(h >>> 0).toString(16)}`;
}

export class PaxosMonitor implements SafetyMonitor<PaxosMessage> {
  /** Flexible Paxos: the phase-2 quorum size (fixed membership only), else majorities of each configuration. */
  private readonly phase2: number | undefined;
  private readonly phase1: number | undefined;
  /** ballot → acceptors that sent a Promise in it; null once its leader's first Accept with slots was checked. */
  private readonly promisers = new Map<number, Set<NodeId> | null>();
  /** Ballots at or below this lost their promisers to MONITOR_MAX_PHASE1_BALLOTS: not checked. */
  private phase1ForgottenThrough = 0;
  /** The chosen configuration entries' configurations, by slot, in slot order; first the initial one at 0. */
  private readonly configs: { slot: number; config: PaxosConfig }[];
  /** `slot/ballot` → the configuration a configuration entry proposed there brings. */
  private readonly proposedConfigs = new Map<string, PaxosConfig>();
  /** slot → ballot → digest of the value proposed. */
  private readonly proposals = new Map<number, Map<number, string>>();
  /** `slot/ballot` → acceptors that sent Accepted. */
  private readonly votes = new Map<string, Set<NodeId>>();
  /** slot → the lowest ballot a value was chosen in, and the value. */
  private readonly chosen = new Map<number, { ballot: number; digest: string }>();
  /** acceptor → highest ballot it promised or accepted in a message. */
  private readonly promisedSaid = new Map<NodeId, number>();
  /** acceptor → slot → highest ballot it announced accepting the slot in. */
  private readonly acceptedSaid = new Map<NodeId, Map<number, number>>();
  private readonly incarnations = new Map<NodeId, object>();
  /** Per incarnation: the slot up to which its learned (committed) values were checked. */
  private readonly learnedThrough = new WeakMap<object, number>();
  /** Per incarnation: the slot of the snapshot whose configuration was last taken from it. */
  private readonly snapshotSeen = new WeakMap<object, number>();
  /** Per incarnation: the snapshot transfer it was receiving when last seen receiving one. */
  private readonly lastReceiving = new WeakMap<object, ReceivingView>();

  constructor(options: MonitorOptions) {
    const o = options.protocolOptions as { phase1QuorumSize?: number; phase2QuorumSize?: number };
    const sizes = o.phase1QuorumSize === undefined && o.phase2QuorumSize === undefined
      ? undefined
      : quorumSizes(options.membership.voters.length, o.phase1QuorumSize, o.phase2QuorumSize);
    this.phase2 = sizes?.phase2;
    this.phase1 = sizes?.phase1;
    this.configs = [{ slot: 0, config: PaxosConfig.from(options.membership) }];
  }

  /** The configuration of `slot`: the one the last chosen configuration entry below it brings. */
  private configOf(slot: number): PaxosConfig {
    let c = this.configs[0]!.config;
    for (const x of this.configs) if (x.slot < slot) c = x.config;
    return c;
  }

  /** `slot` chose a configuration entry bringing `config`. */
  private configChosen(slot: number, config: PaxosConfig): void {
    if (this.configs.some((x) => x.slot === slot)) return;
    this.configs.push({ slot, config });
    this.configs.sort((a, b) => a.slot - b.slot);
  }

  sent(m: PaxosMessage): void {
    switch (m.type) {
      case 'promise': {
        this.promise(m.from, m.ballot, 'promised');
        const set = this.promisersOf(m.ballot);
        if (set !== null) set.add(m.from);
        return;
      }
      case 'accept':
        if (m.entries.length > 0) this.ledAfterPhase1(m.from, m.ballot, m.commit);
        for (const e of m.entries) {
          this.proposed(e.index, m.ballot, valueDigest(e));
          if (e.kind === 'config') {
            const c = configOfEntry(e.data);
            if (c !== null) this.proposedConfigs.set(`${e.index}/${m.ballot}`, c);
          }
        }
        return;
      case 'accepted': {
        this.promise(m.from, m.ballot, 'accepted');
        let said = this.acceptedSaid.get(m.from);
        if (said === undefined) this.acceptedSaid.set(m.from, (said = new Map()));
        for (const slot of m.slots) {
          if ((said.get(slot) ?? 0) < m.ballot) said.set(slot, m.ballot);
          const key = `${slot}/${m.ballot}`;
          let v = this.votes.get(key);
          if (v === undefined) this.votes.set(key, (v = new Set()));
          v.add(m.from);
          const digest = this.proposals.get(slot)?.get(m.ballot);
          // (no digest: acknowledged from a snapshot, where the value is chosen already)
          if (digest !== undefined && this.configOf(slot).hasQuorum(v, this.phase2)) {
            this.choose(slot, m.ballot, digest, 'a phase-2 quorum accepted');
            const c = this.proposedConfigs.get(key);
            if (c !== undefined) this.configChosen(slot, c);
          }
        }
        return;
      }
      default:
        return;
    }
  }

  observed(replica: Replica<PaxosMessage, unknown>): void {
    if (!isAcceptorView(replica)) return;
    if (this.incarnations.get(replica.id) !== replica) {
      this.incarnations.set(replica.id, replica);
      this.restarted(replica);
    }
    this.learned(replica);
    this.receiving(replica);
  }

  private receiving(replica: Replica<PaxosMessage, unknown> & AcceptorView): void {
    const inc = replica.receivingSnapshot?.() ?? null;
    if (inc === null) return;
    const commit = replica.status().commitIndex;
    if (inc.index <= commit) {
      throw new InvariantViolation('a snapshot being received lies beyond the commit point', `${replica.id} holds ${inc.received} bytes of the snapshot at ${inc.index}, its commit point is ${commit}`);
    }
    const last = this.lastReceiving.get(replica);
    if (last !== undefined && last.ballot === inc.ballot && last.index === inc.index && last.digest === inc.digest && inc.received < last.received) {
      throw new InvariantViolation('a snapshot transfer\'s progress never goes back', `${replica.id} held ${last.received} bytes of ${describeBallot(inc.ballot)}'s snapshot at ${inc.index}, now ${inc.received}`);
    }
    this.lastReceiving.set(replica, inc);
  }

  /**
   * What a replica learned as chosen (its commit point) is the chosen value; a leader's commit
   * counts its own durable acceptance, which no message shows. The ballot a learner holds a
   * chosen slot in is never below the ballot it was chosen in, so recording it is sound.
   */
  private learned(replica: Replica<PaxosMessage, unknown> & AcceptorView): void {
    const commit = replica.status().commitIndex;
    // A snapshot holds its slots' configuration entries out of sight: its configuration is the one
    // of the slots after it, unless it holds from a later since (a joiner's snapshot below it).
    const snapshot = replica.heldSnapshot?.() ?? null;
    if (snapshot !== null && this.snapshotSeen.get(replica) !== snapshot.meta.index) {
      this.snapshotSeen.set(replica, snapshot.meta.index);
      const m = snapshot.meta.membership;
      const config = (m.since ?? 0) > snapshot.meta.index ? null : configOfSnapshot(m);
      if (config !== null) this.configChosen(snapshot.meta.index, config);
    }
    let s = this.learnedThrough.get(replica) ?? replica.compactedThrough();
    for (; s < commit; s++) {
      const e = replica.chosenAt((s + 1) as Slot);
      if (e === undefined) continue; // applied before a restart and not held: nothing to compare
      this.choose(s + 1, e.acceptedBallot ?? e.term, valueDigest(e), `${replica.id} learned`);
      if (e.kind === 'config') {
        const c = configOfEntry(e.data);
        if (c !== null) this.configChosen(s + 1, c);
      }
    }
    this.learnedThrough.set(replica, commit);
  }

  private restarted(replica: AcceptorView & { id: NodeId }): void {
    // A new incarnation (a start or a restart): it must remember every acceptance it announced.
    const compacted = replica.compactedThrough();
    for (const [slot, ballot] of this.acceptedSaid.get(replica.id) ?? []) {
      if (slot <= compacted) continue;
      const has = replica.acceptedBallotAt(slot as Slot) ?? 0;
      // A slot chosen already may be acknowledged again in a later ballot from a compaction not yet
      // durable: forgetting that re-acceptance is harmless while the acceptor still holds the
      // slot in a ballot at or above the one it was chosen in (which, by P2, holds the chosen value).
      const chosenIn = this.chosen.get(slot)?.ballot;
      if (has < ballot && !(chosenIn !== undefined && has >= chosenIn)) {
        throw new InvariantViolation('acceptances are durable', `${replica.id} announced accepting slot ${slot} in ballot ${describeBallot(ballot as Ballot)} but restarted holding ${has === 0 ? 'nothing' : describeBallot(has as Ballot)} there`);
      }
    }
  }

  private promise(from: NodeId, ballot: number, what: 'promised' | 'accepted'): void {
    const before = this.promisedSaid.get(from) ?? 0;
    if (ballot < before) {
      const rule = what === 'accepted' ? 'acceptors never accept below their promise' : 'a promise never goes backwards';
      throw new InvariantViolation(rule, `${from} ${what} ballot ${describeBallot(ballot as Ballot)} after promising ${describeBallot(before as Ballot)}`);
    }
    this.promisedSaid.set(from, ballot);
  }

  /** The promisers of `ballot` so far (null: checked already, or forgotten). */
  private promisersOf(ballot: number): Set<NodeId> | null {
    if (ballot <= this.phase1ForgottenThrough) return null;
    let set = this.promisers.get(ballot);
    if (set === undefined) {
      if (this.promisers.size >= MONITOR_MAX_PHASE1_BALLOTS) {
        const oldest = this.promisers.keys().next().value!;
        this.promisers.delete(oldest);
        this.phase1ForgottenThrough = Math.max(this.phase1ForgottenThrough, oldest);
        if (ballot <= this.phase1ForgottenThrough) return null;
      }
      this.promisers.set(ballot, (set = new Set()));
    }
    return set;
  }

  /**
   * `leader`'s first Accept with slots in `ballot`, which carries its commit point (`commit`, the
   * one phase 1 was won from: nothing is acknowledged before this Accept): the acceptors that
   * promised in the ballot, with the leader, must be a phase-1 quorum of the configuration of the
   * slot after it. Not the Accept's own first slot: a member new in a configuration entry the
   * leader recovered is sent the whole log (from slot 1, or a snapshot and the slots after it),
   * and may be sent it first (peers go in id order: multipaxos with 7 nodes, seed 127, where
   * spare n10 sorts before n2). (Promises sent, not received: a lost one only makes the check weaker.)
   */
  private ledAfterPhase1(leader: NodeId, ballot: number, commit: number): void {
    const set = this.promisersOf(ballot);
    if (set === null) return;
    this.promisers.set(ballot, null);
    const first = commit + 1;
    set.add(leader);
    const config = this.configOf(first);
    if (!config.hasQuorum(set, this.phase1)) {
      throw new InvariantViolation(
        'a leader runs phase 1 with a quorum of the configuration at its commit point',
        `${leader} proposes from slot ${first} in ballot ${describeBallot(ballot as Ballot)} after promises from ${[...set].sort().join(',')}; that slot's configuration has voters ${[...config.voters].sort().join(',')}${config.isJoint() ? ` and outgoing ${[...config.outgoing].sort().join(',')}` : ''}`,
      );
    }
  }

  private proposed(slot: number, ballot: number, digest: string): void {
    let bySlot = this.proposals.get(slot);
    if (bySlot === undefined) this.proposals.set(slot, (bySlot = new Map()));
    const prev = bySlot.get(ballot);
    if (prev !== undefined && prev !== digest) {
      throw new InvariantViolation('one value per ballot and slot', `slot ${slot} proposed as ${prev} and as ${digest} in ballot ${describeBallot(ballot as Ballot)}`);
    }
    bySlot.set(ballot, digest);
    const c = this.chosen.get(slot);
    if (c !== undefined && ballot > c.ballot && digest !== c.digest) {
      throw new InvariantViolation('a chosen value is never replaced', `slot ${slot} chose ${c.digest} in ballot ${describeBallot(c.ballot as Ballot)}; ballot ${describeBallot(ballot as Ballot)} proposes ${digest}`);
    }
  }

  private choose(slot: number, ballot: number, digest: string, how: string): void {
    const c = this.chosen.get(slot);
    if (c !== undefined && c.digest === digest && c.ballot <= ballot) return;
    if (c !== undefined && c.digest !== digest) {
      throw new InvariantViolation('no two values chosen for one slot', `slot ${slot}: ${c.digest} in ballot ${describeBallot(c.ballot as Ballot)}, and ${digest} (${how}) in ballot ${describeBallot(ballot as Ballot)}`);
    }
    if (c === undefined || ballot < c.ballot) this.chosen.set(slot, { ballot, digest });
    for (const [b, d] of this.proposals.get(slot) ?? []) {
      if (b > ballot && d !== digest) {
        throw new InvariantViolation('a chosen value is never replaced', `slot ${slot} chose ${digest} in ballot ${describeBallot(ballot as Ballot)}; ballot ${describeBallot(b as Ballot)} proposed ${d}`);
      }
    }
  }
}

/**
 * Multi-Paxos configurations: voters (C_new), outgoing voters (C_old, only while joint), learners,
 * and a ballot rank per member.
 *
 * Ranks. A ballot is `counter * MAX_REPLICAS + rank` (ballot.ts): two proposers must never own one
 * ballot. A member's rank is given when it joins (the configuration's `nextRank`, which only
 * grows) and kept for as long as the cluster lives, whatever it becomes (learner, voter, removed):
 * a removed member that has not heard of its removal may still run phase 1 with its rank, so the
 * rank is never given to anyone else. A configuration written before ranks existed (an old data
 * directory, a bootstrap) ranks its members by sorted position, as ranks were then, so ballots
 * already promised keep their owners. Ranks run out at MAX_REPLICAS - 1: a change that would need
 * one more is refused.
 *
 * Changes take the shapes of Raft's (the server and the simulator send those): single-server
 * add-voter, add-learner and remove, a joint change (with learners: voters it demotes keep their
 * vote in C_old until the joint configuration is left, as learnersNext), and leave-joint.
 *
 * A configuration entry's data is the change as given (the state machine reads `kind`, `node` and
 * `context` from it, as it does from Raft's) plus `config`: the whole configuration it leads to,
 * ranks included. Applying an entry is then taking that configuration, whatever the replica held
 * before, and a new leader reads the configuration an unchosen entry would bring from the entry
 * alone (phase 1 across configurations, multi-paxos.ts). A member that joined starts from the
 * configuration it was told, that of slot since, and takes no entry at or below since (sent the
 * log from slot 1, it would go back to older configurations; see takeConfigAt).
 *
 * Quorums: a majority of the voters, and while joint a majority of the outgoing voters too, for
 * both phases. Learners never count. Flexible quorum sizes (phase1QuorumSize / phase2QuorumSize)
 * are for a fixed membership only: with them set, every change is refused.
 */
import { assert } from '../../core/assert.js';
import { QuorateError } from '../../core/errors.js';
import type { NodeId } from '../../core/ids.js';
import { majority } from '../../core/quorum.js';
import type { Membership } from '../../core/replica.js';
import { MAX_REPLICAS } from './ballot.js';

/** A membership change, in the shapes of Raft's ConfigChange (the server's and the simulator's). */
export type PaxosConfigChange =
  | { readonly kind: 'add-voter' | 'add-learner' | 'remove'; readonly node: NodeId; readonly context?: unknown }
  | { readonly kind: 'joint'; readonly voters: readonly NodeId[]; readonly learners: readonly NodeId[]; readonly autoLeave?: boolean; readonly context?: unknown }
  | { readonly kind: 'leave-joint'; readonly context?: unknown };

/** Largest encoded configuration entry, in bytes: MAX_REPLICAS members' ids, ranks and a context. */
export const MAX_CONFIG_ENTRY_BYTES = 256 * 1024;

export class InvalidConfigChange extends QuorateError {
  override readonly name = 'InvalidConfigChange';
  constructor(why: string) {
    super('INVALID_CONFIG_CHANGE', `invalid configuration change: ${why}`);
  }
}

export class PaxosConfig {
  readonly voters: ReadonlySet<NodeId>;
  readonly outgoing: ReadonlySet<NodeId>;
  readonly learners: ReadonlySet<NodeId>;
  readonly learnersNext: ReadonlySet<NodeId>;
  readonly autoLeave: boolean;
  readonly ranks: ReadonlyMap<NodeId, number>;
  readonly nextRank: number;
  private cached: Membership | null = null;

  private constructor(
    voters: Iterable<NodeId>, outgoing: Iterable<NodeId>, learners: Iterable<NodeId>, learnersNext: Iterable<NodeId>,
    autoLeave: boolean, ranks: ReadonlyMap<NodeId, number>, nextRank: number,
  ) {
    this.voters = new Set(voters);
    this.outgoing = new Set(outgoing);
    this.learners = new Set(learners);
    this.learnersNext = new Set(learnersNext);
    this.autoLeave = autoLeave;
    this.ranks = ranks;
    this.nextRank = nextRank;
    this.assertValid();
  }

  /** A configuration from a Membership; one without ranks ranks its members by sorted position. */
  static from(m: Membership): PaxosConfig {
    const members = [...new Set([...m.voters, ...m.outgoingVoters, ...m.learners])].sort();
    let ranks: Map<NodeId, number>;
    let nextRank: number;
    if (m.ranks === undefined) {
      ranks = new Map(members.map((id, i) => [id, i + 1]));
      nextRank = members.length + 1;
    } else {
      ranks = new Map(Object.entries(m.ranks).map(([id, r]) => [id as NodeId, r]));
      nextRank = m.nextRank ?? Math.max(0, ...ranks.values()) + 1;
    }
    return new PaxosConfig(m.voters, m.outgoingVoters, m.learners, m.learnersNext ?? [], m.autoLeave ?? true, ranks, nextRank);
  }

  isJoint(): boolean {
    return this.outgoing.size > 0;
  }

  /** Has a vote in some half of the configuration. */
  isVoter(id: NodeId): boolean {
    return this.voters.has(id) || this.outgoing.has(id);
  }

  /** Every member that receives the log: voters of both halves and learners. */
  members(): NodeId[] {
    return [...new Set([...this.voters, ...this.outgoing, ...this.learners])].sort();
  }

  /** The member's ballot rank (members only; a removed member's rank is gone from here, never reused). */
  rankOf(id: NodeId): number | undefined {
    return this.ranks.get(id);
  }

  /**
   * Whether `ids` holds a quorum: `size` of the voters when given (Flexible Paxos, fixed
   * membership only), else a majority of the voters and, while joint, of the outgoing voters.
   * `learnersCount`: the learners-vote mutant only (learners counted as incoming voters).
   */
  hasQuorum(ids: ReadonlySet<NodeId>, size?: number, learnersCount = false): boolean {
    const count = (of: ReadonlySet<NodeId>): number => {
      let n = 0;
      for (const v of of) if (ids.has(v)) n++;
      // (The learners-vote mutant only: learners counted with the incoming voters.)
      if (learnersCount && of === this.voters) for (const l of this.learners) if (ids.has(l)) n++;
      return n;
    };
    if (size !== undefined) return count(this.voters) >= size;
    if (count(this.voters) < majority(this.voters.size)) return false;
    return !this.isJoint() || count(this.outgoing) >= majority(this.outgoing.size);
  }

  /** Whether some quorum could still be made of voters outside `refused`. */
  canReachQuorum(refused: ReadonlySet<NodeId>, size?: number): boolean {
    const rest = new Set<NodeId>();
    for (const v of [...this.voters, ...this.outgoing]) if (!refused.has(v)) rest.add(v);
    return this.hasQuorum(rest, size);
  }

  /**
   * The configuration as a Membership. Ranks are written only when they differ from what a
   * Membership without them reads as (the members' sorted positions, the next one after them), so
   * a cluster whose membership never changed stores and sends exactly what it did before ranks.
   */
  toMembership(): Membership {
    return (this.cached ??= {
      voters: [...this.voters].sort(), outgoingVoters: [...this.outgoing].sort(), learners: [...this.learners].sort(),
      ...(this.learnersNext.size > 0 ? { learnersNext: [...this.learnersNext].sort() } : {}),
      ...(this.autoLeave ? {} : { autoLeave: false }),
      ...(this.ranksAreDefault() ? {} : {
        ranks: Object.fromEntries([...this.ranks].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
        nextRank: this.nextRank,
      }),
    });
  }

  private ranksAreDefault(): boolean {
    const members = this.members();
    return this.nextRank === members.length + 1 && members.every((id, i) => this.ranks.get(id) === i + 1);
  }

  /** The configuration `change` leads to; throws InvalidConfigChange when it cannot be made. */
  apply(change: PaxosConfigChange): PaxosConfig {
    const bad = (why: string): never => {
      throw new InvalidConfigChange(why);
    };
    const ranks = new Map(this.ranks);
    let nextRank = this.nextRank;
    const rankNew = (id: NodeId): void => {
      if (ranks.has(id)) return;
      if (nextRank >= MAX_REPLICAS) bad(`ballot ranks have run out (a cluster gives at most ${MAX_REPLICAS - 1} members a rank over its life, removed ones included)`);
      ranks.set(id, nextRank++);
    };
    switch (change.kind) {
      case 'add-voter':
      case 'add-learner':
      case 'remove': {
        if (this.isJoint()) bad('a single-server change cannot be made while the configuration is joint');
        const n = change.node;
        if (typeof n !== 'string' || n.length === 0) bad('the change names no member');
        const voters = new Set(this.voters);
        const learners = new Set(this.learners);
        if (change.kind === 'add-voter') {
          learners.delete(n);
          voters.add(n);
          rankNew(n);
        } else if (change.kind === 'add-learner') {
          if (voters.has(n)) bad(`${n} is a voter; demote it with a joint change (learners=(${n}))`);
          learners.add(n);
          rankNew(n);
        } else {
          if (!voters.has(n) && !learners.has(n)) bad(`${n} is not a member`);
          if (voters.has(n) && voters.size === 1) bad('cannot remove the last voter');
          voters.delete(n);
          learners.delete(n);
          ranks.delete(n); // gone from the configuration; nextRank never gives it out again
        }
        return new PaxosConfig(voters, [], learners, [], true, ranks, nextRank);
      }
      case 'joint': {
        if (this.isJoint()) bad('already in a joint configuration');
        if (!Array.isArray(change.voters) || !Array.isArray(change.learners)) bad('a joint change lists voters and learners');
        if (change.voters.length === 0) bad('the new configuration has no voters');
        if (change.autoLeave !== undefined && typeof change.autoLeave !== 'boolean') bad('autoLeave is true or false');
        const nv = new Set(change.voters);
        for (const l of change.learners) if (nv.has(l)) bad(`${l} cannot be both voter and learner`);
        const outgoing = this.voters;
        const learners: NodeId[] = [];
        const learnersNext: NodeId[] = [];
        for (const l of change.learners) (outgoing.has(l) ? learnersNext : learners).push(l);
        for (const id of [...nv, ...learners]) rankNew(id);
        // Old learners the change does not keep are removed now (they vote in no half); old voters
        // stay in C_old (outgoing) until the joint configuration is left.
        for (const id of [...ranks.keys()]) if (!nv.has(id) && !outgoing.has(id) && !learners.includes(id)) ranks.delete(id);
        return new PaxosConfig(nv, outgoing, learners, learnersNext, change.autoLeave ?? true, ranks, nextRank);
      }
      case 'leave-joint': {
        if (!this.isJoint()) bad('not in a joint configuration');
        const learners = new Set([...this.learners, ...this.learnersNext]);
        for (const id of [...ranks.keys()]) if (!this.voters.has(id) && !learners.has(id)) ranks.delete(id);
        return new PaxosConfig(this.voters, [], learners, [], true, ranks, nextRank);
      }
      default:
        return bad(`unknown kind ${String((change as { kind?: unknown }).kind)}`);
    }
  }

  /** Invariants: ranks distinct, below nextRank, one per member; learners vote in no half; learnersNext ⊆ outgoing. */
  private assertValid(): void {
    const seen = new Set<number>();
    for (const [id, r] of this.ranks) {
      assert(Number.isInteger(r) && r >= 1 && r < this.nextRank && r < MAX_REPLICAS, () => `${id}'s rank ${r} out of range (next ${this.nextRank})`);
      assert(!seen.has(r), () => `rank ${r} given twice`);
      seen.add(r);
    }
    assert(this.nextRank <= MAX_REPLICAS, () => `nextRank ${this.nextRank} beyond ${MAX_REPLICAS}`);
    for (const id of this.members()) assert(this.ranks.has(id), () => `member ${id} has no rank`);
    assert(this.voters.size > 0, 'a configuration has voters');
    for (const l of this.learners) assert(!this.voters.has(l) && !this.outgoing.has(l), () => `${l} is a learner and a voter`);
    for (const l of this.learnersNext) assert(this.outgoing.has(l) && !this.voters.has(l), () => `${l} is in learnersNext but not only an outgoing voter`);
    if (!this.isJoint()) assert(this.learnersNext.size === 0 && this.autoLeave, 'learnersNext and autoLeave are set outside a joint configuration');
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A configuration entry's data: the change and the configuration it leads to (see the file comment). */
export function encodeConfigEntry(change: PaxosConfigChange, config: PaxosConfig): Uint8Array {
  return encoder.encode(JSON.stringify({ ...change, config: config.toMembership() }));
}

/** The configuration a configuration entry leads to, or null when its data holds none (not one of ours). */
export function configOfEntry(data: Uint8Array): PaxosConfig | null {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(data));
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const m = (v as { config?: unknown }).config;
  if (!isMembership(m)) return null;
  try {
    return PaxosConfig.from(m);
  } catch {
    return null;
  }
}

function isIdList(v: unknown): v is NodeId[] {
  return Array.isArray(v) && v.length <= MAX_REPLICAS && v.every((x) => typeof x === 'string' && x.length > 0);
}

/** A Membership carried in an entry or a snapshot (checked field by field: it came from a peer or a disk). */
export function isMembership(v: unknown): v is Membership {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  if (!isIdList(m['voters']) || !isIdList(m['outgoingVoters']) || !isIdList(m['learners'])) return false;
  if (m['learnersNext'] !== undefined && !isIdList(m['learnersNext'])) return false;
  if (m['autoLeave'] !== undefined && typeof m['autoLeave'] !== 'boolean') return false;
  // A since is a slot (a joiner's snapshot below it): unchecked, a peer's bad one stops the core on an assertion.
  if (m['since'] !== undefined && !(Number.isSafeInteger(m['since']) && (m['since'] as number) >= 0)) return false;
  if (m['nextRank'] !== undefined && !(Number.isInteger(m['nextRank']) && (m['nextRank'] as number) >= 1 && (m['nextRank'] as number) <= MAX_REPLICAS)) return false;
  const r = m['ranks'];
  if (r !== undefined) {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) return false;
    for (const x of Object.values(r)) if (!Number.isInteger(x) || (x as number) < 1 || (x as number) >= MAX_REPLICAS) return false;
  }
  return true;
}

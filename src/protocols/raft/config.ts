/**
 * Cluster configuration: voters (C_new), outgoing voters (C_old, only while joint) and learners.
 * Decisions in a joint configuration need a majority of BOTH voter sets (§4.3 / §6 of the paper).
 *
 * A joint configuration also says how it ends (etcd's ConfChangeV2 and its tracker.Config):
 * - `learnersNext`: voters of C_old that the change demotes to learners. They stay voters of C_old
 *   (they still vote and count towards C_old's majority) until the joint configuration is left,
 *   and become learners then. Demoting at once would shrink C_old behind the back of the members
 *   that have not applied the change yet: two majorities that need not overlap.
 * - `autoLeave`: whether the leader leaves the joint configuration on its own (true) or waits
 *   for an explicit leave-joint proposal (false).
 *
 * Invariants (etcd's), asserted after every change and on every configuration read:
 * - a learner is a voter of neither half; a member of learnersNext is not a learner either;
 * - learnersNext ⊆ outgoing voters, and disjoint from the incoming voters;
 * - outside a joint configuration, learnersNext is empty and autoLeave is true.
 */
import { assert } from '../../core/assert.js';
import { QuorateError } from '../../core/errors.js';
import type { NodeId } from '../../core/ids.js';
import type { Membership } from '../../core/replica.js';
import type { ConfigChange } from './types.js';

export class RaftConfig {
  voters: Set<NodeId>;
  outgoing: Set<NodeId>;
  learners: Set<NodeId>;
  /** Outgoing voters that become learners when the joint configuration is left. */
  learnersNext: Set<NodeId>;
  /** Joint only: the leader leaves it on its own (false: it waits for a leave-joint proposal). */
  autoLeave: boolean;

  constructor(m: Membership) {
    this.voters = new Set(m.voters);
    this.outgoing = new Set(m.outgoingVoters);
    this.learners = new Set(m.learners);
    this.learnersNext = new Set(m.learnersNext ?? []);
    this.autoLeave = m.autoLeave ?? true;
    this.assertValid();
  }

  isJoint(): boolean {
    return this.outgoing.size > 0;
  }

  /** Has a vote in some half of the configuration. */
  isVoter(id: NodeId): boolean {
    return this.voters.has(id) || this.outgoing.has(id);
  }

  /** Every member that receives the log (voters of both halves and learners). */
  members(): Set<NodeId> {
    return new Set([...this.voters, ...this.outgoing, ...this.learners]);
  }

  private cached: Membership | null = null;

  /**
   * The configuration as a Membership (cached until the next change). The optional fields are
   * written only when they differ from their defaults, so a configuration without a joint
   * phase reads (and is stored) exactly as before they existed.
   */
  toMembership(): Membership {
    return (this.cached ??= {
      voters: [...this.voters].sort(), outgoingVoters: [...this.outgoing].sort(), learners: [...this.learners].sort(),
      ...(this.learnersNext.size > 0 ? { learnersNext: [...this.learnersNext].sort() } : {}),
      ...(this.autoLeave ? {} : { autoLeave: false }),
    });
  }

  /** Throws INVALID_CONFIG_CHANGE if `change` cannot be applied to this configuration. */
  validate(change: ConfigChange): void {
    const bad = (why: string): never => {
      throw new QuorateError('INVALID_CONFIG_CHANGE', `invalid configuration change: ${why}`);
    };
    switch (change.kind) {
      case 'add-voter':
      case 'add-learner':
      case 'remove':
        if (this.isJoint()) bad('a single-server change cannot be made while the configuration is joint');
        if (change.kind === 'add-learner' && this.voters.has(change.node)) bad(`${change.node} is a voter; demote it with a joint change (learners=(${change.node}))`);
        if (change.kind === 'remove' && !this.members().has(change.node)) bad(`${change.node} is not a member`);
        if (change.kind === 'remove' && this.voters.has(change.node) && this.voters.size === 1) bad('cannot remove the last voter');
        return;
      case 'joint': {
        if (this.isJoint()) bad('already in a joint configuration');
        if (change.voters.length === 0) bad('the new configuration has no voters');
        if (change.autoLeave !== undefined && typeof change.autoLeave !== 'boolean') bad('autoLeave is true or false');
        const nv = new Set(change.voters);
        // A learner that is a voter now is demoted: it keeps its vote in C_old until the joint
        // configuration is left (learnersNext).
        for (const l of change.learners) if (nv.has(l)) bad(`${l} cannot be both voter and learner`);
        return;
      }
      case 'leave-joint':
        if (!this.isJoint()) bad('not in a joint configuration');
        return;
    }
  }

  /**
   * Apply a validated change. `demoteAtOnce` is the demote-at-once mutant only: a demoted voter
   * becomes a learner on entering the joint configuration, losing its vote in C_old at once.
   */
  apply(change: ConfigChange, demoteAtOnce = false): void {
    this.cached = null;
    switch (change.kind) {
      case 'add-voter':
        this.learners.delete(change.node);
        this.voters.add(change.node);
        break;
      case 'add-learner':
        this.learners.add(change.node);
        break;
      case 'remove':
        this.voters.delete(change.node);
        this.learners.delete(change.node);
        break;
      case 'joint': {
        const outgoing = this.voters;
        this.learners = new Set();
        this.learnersNext = new Set();
        for (const l of change.learners) {
          if (!outgoing.has(l)) this.learners.add(l);
          else if (demoteAtOnce) {
            outgoing.delete(l);
            this.learners.add(l);
          } else this.learnersNext.add(l);
        }
        this.outgoing = outgoing;
        this.voters = new Set(change.voters);
        this.autoLeave = change.autoLeave ?? true;
        break;
      }
      case 'leave-joint':
        for (const l of this.learnersNext) this.learners.add(l);
        this.learnersNext = new Set();
        this.outgoing = new Set();
        this.autoLeave = true;
        break;
    }
    this.assertValid();
  }

  /** The invariants in the file comment. */
  private assertValid(): void {
    for (const l of this.learners) {
      assert(!this.voters.has(l) && !this.outgoing.has(l), () => `${l} is a learner and a voter (${describe(this)})`);
    }
    for (const l of this.learnersNext) {
      assert(this.outgoing.has(l), () => `${l} is in learnersNext but not an outgoing voter (${describe(this)})`);
      assert(!this.voters.has(l) && !this.learners.has(l), () => `${l} is in learnersNext and an incoming voter or learner (${describe(this)})`);
    }
    if (!this.isJoint()) {
      assert(this.learnersNext.size === 0 && this.autoLeave, () => `learnersNext and autoLeave are set outside a joint configuration (${describe(this)})`);
    }
  }
}

function describe(c: RaftConfig): string {
  const list = (s: Set<NodeId>) => [...s].sort().join(',');
  return `voters=(${list(c.voters)}) outgoing=(${list(c.outgoing)}) learners=(${list(c.learners)}) learnersNext=(${list(c.learnersNext)}) autoLeave=${c.autoLeave}`;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfigChange(change: ConfigChange): Uint8Array {
  return encoder.encode(JSON.stringify(change));
}

export function decodeConfigChange(data: Uint8Array): ConfigChange {
  return JSON.parse(decoder.decode(data)) as ConfigChange;
}

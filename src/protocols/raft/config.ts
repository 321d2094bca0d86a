/**
 * Cluster configuration: voters (C_new), outgoing voters (C_old, only while joint) and learners.
 * Decisions in a joint configuration need a majority of BOTH voter sets (§4.3 / §6 of the paper).
 */
import { QuorateError } from '../../core/errors.js';
import type { NodeId } from '../../core/ids.js';
import type { Membership } from '../../core/replica.js';
import type { ConfigChange } from './types.js';

export class RaftConfig {
  voters: Set<NodeId>;
  outgoing: Set<NodeId>;
  learners: Set<NodeId>;

  constructor(m: Membership) {
    this.voters = new Set(m.voters);
    this.outgoing = new Set(m.outgoingVoters);
    this.learners = new Set(m.learners);
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

  /** The configuration as a Membership (cached until the next change). */
  toMembership(): Membership {
    return (this.cached ??= { voters: [...this.voters].sort(), outgoingVoters: [...this.outgoing].sort(), learners: [...this.learners].sort() });
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
        if (change.kind === 'add-learner' && this.voters.has(change.node)) bad(`${change.node} is a voter; remove it first to make it a learner`);
        if (change.kind === 'remove' && !this.members().has(change.node)) bad(`${change.node} is not a member`);
        if (change.kind === 'remove' && this.voters.has(change.node) && this.voters.size === 1) bad('cannot remove the last voter');
        return;
      case 'joint': {
        if (this.isJoint()) bad('already in a joint configuration');
        if (change.voters.length === 0) bad('the new configuration has no voters');
        const nv = new Set(change.voters);
        for (const l of change.learners) {
          if (nv.has(l)) bad(`${l} cannot be both voter and learner`);
          if (this.voters.has(l)) bad(`${l} is an outgoing voter; demote it in a later change`);
        }
        return;
      }
      case 'leave-joint':
        if (!this.isJoint()) bad('not in a joint configuration');
        return;
    }
  }

  apply(change: ConfigChange): void {
    this.cached = null;
    switch (change.kind) {
      case 'add-voter':
        this.learners.delete(change.node);
        this.voters.add(change.node);
        return;
      case 'add-learner':
        this.learners.add(change.node);
        return;
      case 'remove':
        this.voters.delete(change.node);
        this.learners.delete(change.node);
        return;
      case 'joint':
        this.outgoing = this.voters;
        this.voters = new Set(change.voters);
        this.learners = new Set(change.learners);
        return;
      case 'leave-joint':
        this.outgoing = new Set();
        return;
    }
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfigChange(change: ConfigChange): Uint8Array {
  return encoder.encode(JSON.stringify(change));
}

export function decodeConfigChange(data: Uint8Array): ConfigChange {
  return JSON.parse(decoder.decode(data)) as ConfigChange;
}

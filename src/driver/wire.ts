/**
 * Messages exchanged between quorate nodes over the peer transport: the protocol's own messages,
 * plus proposal forwarding (a follower hands a client's command to the leader and relays the
 * result back, the way etcd followers forward proposals).
 */
import type { NodeId } from '../core/ids.js';
import type { Envelope } from '../core/replica.js';
import type { ErrorCode } from '../core/errors.js';

/** A protocol message, carried as is. */
export interface ProtocolFrame extends Envelope {
  readonly kind: 'protocol';
  readonly message: Envelope;
}

export interface ForwardProposal extends Envelope {
  readonly kind: 'forward-proposal';
  /** Unique across the sender's restarts (see LeaderProposals.requestPrefix). */
  readonly requestId: string;
  readonly command: Uint8Array;
}

export interface ForwardedError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly leaderHint: NodeId | null;
}

export interface ForwardResult extends Envelope {
  readonly kind: 'forward-result';
  /** Unique across the sender's restarts (see LeaderProposals.requestPrefix). */
  readonly requestId: string;
  readonly ok: boolean;
  readonly result?: unknown;
  /**
   * Where the command was applied (ok results): the forwarding member answers its caller only
   * once it has applied that far itself, so the caller's next read there sees its write.
   * Absent from members that predate it: then the result is answered at once.
   */
  readonly index?: number;
  readonly error?: ForwardedError;
}

export type NodeMessage = ProtocolFrame | ForwardProposal | ForwardResult;

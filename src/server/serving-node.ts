/**
 * What the etcd server needs of the node under it. The Raft/Multi-Paxos runtime
 * (ReplicatedNode) and the PBFT node (BftNode) both offer it; an operation a protocol cannot do
 * (membership changes or leadership transfer under PBFT) answers with a typed error.
 */
import type { NodeId } from '../core/ids.js';
import type { ReplicaStatus } from '../core/replica.js';
import type { MemberAddresses } from '../node/config.js';
import type { NodeEvents } from '../node/node.js';
import type { KvOutcome } from '../statemachine/mvcc/index.js';

export interface ServingNode {
  readonly id: NodeId;
  readonly running: boolean;
  status(): ReplicaStatus;
  isLeader(): boolean;
  propose(command: Uint8Array): Promise<KvOutcome>;
  readBarrier(timeoutMs?: number): Promise<void>;
  on<K extends keyof NodeEvents>(event: K, listener: (...args: NodeEvents[K]) => void): unknown;
  off<K extends keyof NodeEvents>(event: K, listener: (...args: NodeEvents[K]) => void): unknown;
  emit<K extends keyof NodeEvents>(event: K, ...args: NodeEvents[K]): boolean;
  changeMembership(change: unknown): Promise<void>;
  transferLeadership(target: NodeId): void;
  snapshotNow(): Promise<void>;
  /** Proposals made here and still waiting for their result. */
  pendingProposals(): number;
  setJoinQueryHandler(handler: ((query: unknown) => unknown) | null): void;
  setPeerAddresses(members: readonly MemberAddresses[]): void;
  transportStats(): {
    readonly peers: Readonly<Record<string, { readonly connected: boolean }>>;
    readonly counters: {
      readonly authFailures: number; readonly frameMacFailures: number; readonly forgedSender: number; readonly malformedFrames: number;
      readonly pendingConnectionsRefused: number; readonly handshakeTimeouts: number; readonly idleConnectionsClosed: number; readonly excessConnectionsClosed: number;
      readonly identityFailures: number; readonly liveConnectionsRefused: number;
    };
  } | null;
  /** Peer messages dropped because they failed the message schema. */
  invalidPeerMessages(): number;
}

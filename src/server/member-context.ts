/**
 * What the Cluster and Maintenance services and the HTTP endpoints need from the member they
 * run in, and the one place that says who the members are: the protocol's configuration (voters
 * and learners, from the log) joined with each member's etcd id, peer URLs (the initial cluster,
 * or the replicated member table for members changed at runtime), published name and client URLs.
 */
import type { Metadata } from '@grpc/grpc-js';
import type { ServingNode } from './serving-node.js';
import type { Logger } from '../node/config.js';
import type { KvCommand, KvOutcome, KvStateMachine } from '../statemachine/mvcc/index.js';
import type { ClusterIdentity } from './cluster-config.js';
import type { PbHeader } from './convert.js';
import type { RetryPolicy } from './retry.js';

export interface MemberContext {
  readonly node: ServingNode;
  readonly kv: KvStateMachine;
  readonly identity: ClusterIdentity;
  /** This member's id in the consensus protocol. */
  readonly selfNodeId: string;
  /** This member's etcd member id (decimal). */
  readonly selfMemberId: string;
  /** Whether clients reach members over TLS (a forwarded call would need credentials). */
  readonly clientTls: boolean;
  readonly retry: RetryPolicy;
  readonly logger: Logger;
  header(): PbHeader;
  /**
   * Throws unless the call's token names an administrator (the role root) while auth is enabled:
   * etcd's check before Snapshot, Defragment, Hash, HashKV and membership changes.
   */
  requireAdmin(metadata: Metadata): Promise<void>;
  /** Propose a command under this server's client session (retried, exactly once). */
  propose(request: KvCommand['request']): Promise<KvOutcome>;
  /**
   * propose, as the user the call's token names (none without a token or while auth is off):
   * under a Byzantine protocol this member binds itself to the user's session first when needed.
   * For the calls whose effect at apply depends on who asked (alarms, member updates: an
   * administrator's act, else this member's own word, see KvStateMachine.applyCluster).
   */
  proposeAs(metadata: Metadata, request: KvCommand['request']): Promise<KvOutcome>;
}

export interface MemberView {
  readonly nodeId: string;
  readonly id: string;
  /** Empty until the member started and published it (as etcd shows an unstarted member). */
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner: boolean;
}

/** Every member of the current configuration, in a stable order (by member id). */
export function currentMembers(ctx: MemberContext): MemberView[] {
  const m = ctx.node.status().membership;
  const learners = new Set<string>(m.learners);
  const nodeIds = [...new Set<string>([...m.voters, ...m.outgoingVoters, ...m.learners])];
  return nodeIds.map((n) => memberView(ctx, n, learners.has(n))).sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
}

export function memberView(ctx: MemberContext, nodeId: string, isLearner: boolean): MemberView {
  const initial = ctx.identity.members.find((x) => x.name === nodeId);
  const record = ctx.kv.cluster.member(nodeId);
  const published = ctx.kv.publishedNameOf(nodeId);
  return {
    nodeId,
    id: record?.id ?? initial?.id ?? '0',
    // Initial members are named by their node id; a member added at runtime has no name until it publishes one.
    name: published ?? (record === undefined ? nodeId : ''),
    peerUrls: record?.peerUrls ?? initial?.peerUrls ?? [],
    clientUrls: ctx.kv.clientUrlsOf(nodeId),
    isLearner,
  };
}

/** The etcd member id of a node, or '0' when unknown. */
export function memberIdOf(ctx: MemberContext, nodeId: string | null): string {
  if (nodeId === null) return '0';
  return memberView(ctx, nodeId, false).id;
}

export function pbMember(m: MemberView): Record<string, unknown> {
  return { ID: m.id, name: m.name, peerURLs: [...m.peerUrls], clientURLs: [...m.clientUrls], isLearner: m.isLearner };
}

/**
 * What a running member does about membership beyond the Cluster service:
 *
 * - keeps the peer transport dialing every current member at its current peer URL (after each
 *   applied membership change, and once at start, since a restored snapshot may hold changes);
 * - answers a joining member's question on the peer port (which cluster, which member id, who is
 *   in it) so `--initial-cluster-state existing` works after MemberAdd;
 * - stops this member once it applies its own removal (etcd's member exits the same way).
 */
import { QuorateError } from '../core/errors.js';
import { nodeId } from '../core/ids.js';
import { parseUrl } from './cluster-config.js';
import { currentMembers, type ServiceContext } from './service-context.js';

/** What a running member answers a joining member (see transport/join.ts). */
export interface JoinAnswer {
  readonly clusterId: string;
  readonly token: string;
  /** The joining member's id in the protocol and its etcd member id. */
  readonly nodeId: string;
  readonly id: string;
  /** Every current member, by protocol id. */
  readonly members: readonly { nodeId: string; id: string; peerUrls: readonly string[] }[];
  readonly learners: readonly string[];
}

export function attachMembershipRuntime(ctx: ServiceContext, onRemoved: () => void): () => void {
  const syncPeers = (): void => {
    const members = currentMembers(ctx).filter((m) => m.peerUrls.length > 0);
    ctx.node.setPeerAddresses(members.map((m) => ({ id: nodeId(m.nodeId), peer: parseUrl(m.peerUrls[0] ?? '', 'peer URL') })));
  };
  const onMembership = (): void => {
    syncPeers();
    const s = ctx.node.status().membership;
    const present = [...s.voters, ...s.outgoingVoters, ...s.learners].includes(nodeId(ctx.selfNodeId));
    if (!present) {
      ctx.logger('warn', 'this member was removed from the cluster; stopping');
      onRemoved();
    }
  };
  syncPeers();
  ctx.node.on('membership', onMembership);
  ctx.node.setJoinQueryHandler((query) => answerJoin(ctx, query));
  return () => {
    ctx.node.off('membership', onMembership);
    ctx.node.setJoinQueryHandler(null);
  };
}

function answerJoin(ctx: ServiceContext, query: unknown): JoinAnswer | { error: string } {
  const q = query as { peerUrls?: unknown };
  if (!Array.isArray(q.peerUrls)) return { error: 'a join query names the joining member\'s peer URLs' };
  const wanted = [...(q.peerUrls as string[])].map(String).sort().join(',');
  const members = currentMembers(ctx);
  const me = members.find((m) => [...m.peerUrls].sort().join(',') === wanted);
  if (me === undefined) {
    return { error: new QuorateError('INVALID_ARGUMENT', `no member of this cluster has peer URLs ${wanted}; add it first (etcdctl member add NAME --peer-urls=${wanted})`).message };
  }
  return {
    clusterId: ctx.identity.clusterId,
    token: ctx.identity.token,
    nodeId: me.nodeId,
    id: me.id,
    members: members.map((m) => ({ nodeId: m.nodeId, id: m.id, peerUrls: [...m.peerUrls] })),
    learners: members.filter((m) => m.isLearner).map((m) => m.nodeId),
  };
}

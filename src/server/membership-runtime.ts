/**
 * What a running member does about membership beyond the Cluster service:
 *
 * - keeps the peer transport dialing every current member at its current peer URL (after each
 *   applied membership change or peer URL update, and once at start, since a restored snapshot
 *   may hold changes);
 * - answers a joining member's question on the peer port (which cluster, which member id, who is
 *   in it) so `--initial-cluster-state existing` works after MemberAdd;
 * - stops this member once it applies its own removal (etcd's member exits the same way), or,
 *   when it has no leader (a removed member stops hearing from the leader before it learns the
 *   removal committed), once another member says this member's id was removed.
 */

/** How often a member without a leader asks another member whether it was removed. */
export const REMOVED_CHECK_INTERVAL_MS = 2_000;
/** A member that applied its own removal stops this much later. */
export const REMOVED_STOP_DELAY_MS = 1_000;
import { QuorateError } from '../core/errors.js';
import { askToJoin, type PeerCredentials } from '../transport/index.js';
import { nodeId } from '../core/ids.js';
import { toldMembership } from '../core/replica.js';
import { parseUrl } from './cluster-config.js';
import { currentMembers, type MemberContext } from './member-context.js';
import { HashKvResponder, type HashAnswer } from './corruption-check.js';
import { hashKv } from './state-hashes.js';

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
  /** The configuration's ballot ranks (protocols that rank members, when not the default): the joining member starts with them. */
  readonly ranks?: Readonly<Record<string, number>>;
  readonly nextRank?: number;
  /** The index the configuration told holds at: the answering member's applied index, or later (Membership.since, toldMembership). */
  readonly since?: number;
}

export function attachMembershipRuntime(ctx: MemberContext, credentials: PeerCredentials, onRemoved: () => void): () => void {
  let removed = false;
  const stop = (): void => {
    if (removed) return;
    removed = true;
    ctx.logger('warn', 'this member was removed from the cluster; stopping');
    onRemoved();
  };
  const syncPeers = (): void => {
    const members = currentMembers(ctx).filter((m) => m.peerUrls.length > 0);
    ctx.node.setPeerAddresses(members.map((m) => ({ id: nodeId(m.nodeId), peer: parseUrl(m.peerUrls[0] ?? '', 'peer URL') })));
  };
  const onMembership = (): void => {
    syncPeers();
    // Removed means this member's id was removed by an applied change. Not being in the
    // configuration is not enough: a joining member that installs a snapshot taken before it was
    // added is briefly outside it.
    // Let answers in flight (the removal's own, if this member made it) leave before stopping.
    if (ctx.kv.cluster.wasRemoved(ctx.selfMemberId) && !removed) setTimeout(stop, REMOVED_STOP_DELAY_MS).unref();
  };
  let asking = false;
  const checkRemoved = (): void => {
    if (asking || removed || ctx.node.status().leader !== null) return;
    const others = currentMembers(ctx).filter((m) => m.nodeId !== ctx.selfNodeId && m.peerUrls.length > 0);
    const self = currentMembers(ctx).find((m) => m.nodeId === ctx.selfNodeId);
    const other = others[Math.floor(Math.random() * others.length)];
    if (other === undefined || self === undefined) return;
    asking = true;
    askToJoin(parseUrl(other.peerUrls[0] ?? '', 'peer URL'), { peerUrls: [...self.peerUrls], memberId: ctx.selfMemberId }, credentials, REMOVED_CHECK_INTERVAL_MS, other.nodeId)
      .then((answer) => { if ((answer as { removed?: unknown }).removed === true) stop(); }, (err: unknown) => {
        // Asked again at the next interval; a refused proof of the secret is a misconfiguration worth a warning.
        const refused = err instanceof QuorateError && err.code === 'UNAUTHENTICATED';
        ctx.logger(refused ? 'warn' : 'debug', 'could not ask another member whether this one is still in the cluster', { member: other.id, error: (err as Error).message });
      })
      .finally(() => { asking = false; });
  };
  const timer = setInterval(checkRemoved, REMOVED_CHECK_INTERVAL_MS);
  timer.unref();
  // Peer URLs also change without a membership change (MemberUpdate), and while a member replays
  // its log the URLs pass through older values: follow the member table after every applied batch.
  let seenVersion = ctx.kv.cluster.version;
  const onApplied = (): void => {
    if (ctx.kv.cluster.version === seenVersion) return;
    seenVersion = ctx.kv.cluster.version;
    syncPeers();
  };
  syncPeers();
  ctx.node.on('membership', onMembership);
  ctx.node.on('apply-batch', onApplied);
  ctx.node.setJoinQueryHandler((query) => answerJoin(ctx, query));
  return () => {
    clearInterval(timer);
    ctx.node.off('membership', onMembership);
    ctx.node.off('apply-batch', onApplied);
    ctx.node.setJoinQueryHandler(null);
  };
}

/** A peer-port question: a joining member's (the default), or the leader's corruption check (`kind: 'hashkv'`). Exported for tests. */
export function answerJoin(ctx: MemberContext, query: unknown): JoinAnswer | HashAnswer | { error: string; removed?: boolean } {
  const q = query as { peerUrls?: unknown; memberId?: unknown; kind?: unknown; revision?: unknown };
  if (q.kind === 'hashkv') {
    // The leader names the member it means to ask (the query's bytes are under both proofs of a
    // cluster secret, which every member shares, so the proofs alone do not say which member
    // answered): a query sent on to another member, by anyone on the path, gets an error instead
    // of a hash, so one member's hash cannot stand for another's (a corrupt member's hidden
    // behind a healthy one's, or another cluster's with the same secret raising CORRUPT here).
    // A leader built before it named none.
    if (q.memberId !== undefined && q.memberId !== ctx.selfMemberId) {
      return { error: `hashkv: asked of member ${String(q.memberId)}; this is member ${ctx.selfMemberId}` };
    }
    return answerHashKv(ctx, q.revision);
  }
  if (typeof q.memberId === 'string' && ctx.kv.cluster.wasRemoved(q.memberId)) return { error: `member ${q.memberId} was removed from the cluster`, removed: true };
  if (!Array.isArray(q.peerUrls)) return { error: 'a join query names the joining member\'s peer URLs' };
  const wanted = [...(q.peerUrls as string[])].map(String).sort().join(',');
  const members = currentMembers(ctx);
  const me = members.find((m) => [...m.peerUrls].sort().join(',') === wanted);
  if (me === undefined) {
    return { error: new QuorateError('INVALID_ARGUMENT', `no member of this cluster has peer URLs ${wanted}; add it first (etcdctl member add NAME --peer-urls=${wanted})`).message };
  }
  const status = ctx.node.status();
  // A joint configuration cannot be told: the answer lists members and learners only, so the
  // joiner would take every outgoing voter (and every voter demoted by the change) for a voter of
  // C_new, and, its configuration entries up to since being in what it was told, keep them as
  // voters after the joint configuration is left: a configuration no other member holds. The
  // joiner asks again (see identityFromRunningCluster); the leader leaves a joint configuration on
  // its own unless autoLeave is off. (The Cluster service proposes simple changes only, so a
  // server reaches a joint configuration only through a joint change made some other way.)
  if (status.membership.outgoingVoters.length > 0) {
    return { error: 'the cluster is in a joint configuration (a membership change is under way): ask again once it is left' };
  }
  return {
    clusterId: ctx.identity.clusterId,
    token: ctx.identity.token,
    nodeId: me.nodeId,
    id: me.id,
    members: members.map((m) => ({ nodeId: m.nodeId, id: m.id, peerUrls: [...m.peerUrls] })),
    learners: members.filter((m) => m.isLearner).map((m) => m.nodeId),
    ...rankFields(status.membership),
    // The index the configuration above holds at: the applied one, or later (see toldMembership).
    since: toldMembership(status).since ?? status.appliedIndex,
  };
}

/** One responder per member: its cache and its spacing (see HashKvResponder). */
const hashKvResponders = new WeakMap<MemberContext, HashKvResponder>();

/** This member's HashKV at `revision`, for the leader's corruption check (see corruption-check.ts). */
function answerHashKv(ctx: MemberContext, revision: unknown): HashAnswer | { error: string } {
  if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 1) return { error: 'a hashkv query names a revision' };
  let responder = hashKvResponders.get(ctx);
  if (responder === undefined) {
    responder = new HashKvResponder({
      nowMs: () => performance.now(),
      hash: (r) => hashKv(ctx.kv.store, r),
    });
    hashKvResponders.set(ctx, responder);
  }
  try {
    return responder.answer(revision);
  } catch (err) {
    // Not applied that far yet, or compacted past it: skipped this round.
    return { error: (err as Error).message };
  }
}

/** A configuration's ballot ranks, when it carries them (see JoinAnswer.ranks). */
function rankFields(m: { readonly ranks?: Readonly<Record<string, number>>; readonly nextRank?: number }): { ranks?: Readonly<Record<string, number>>; nextRank?: number } {
  return { ...(m.ranks === undefined ? {} : { ranks: m.ranks }), ...(m.nextRank === undefined ? {} : { nextRank: m.nextRank }) };
}

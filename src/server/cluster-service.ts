/**
 * etcd's Cluster service: MemberList, MemberAdd (voter or learner), MemberPromote, MemberRemove,
 * MemberUpdate. Adds, promotions and removals are membership changes through the protocol (Raft's
 * single-server changes); each carries the member's etcd id and peer URLs, which the state machine
 * records when the change is applied, so every member lists the same members with the same URLs.
 * MemberUpdate (new peer URLs, same member) is an ordinary replicated command.
 *
 * Changes are made by the leader: a member that is not the leader forwards the call to the
 * leader's client URL (over plain gRPC; with client TLS it answers "not leader" instead), with the
 * caller's token, which every member verifies. Under a Byzantine protocol nothing is forwarded:
 * such a token is as good as its user's login to whoever holds it, the primary may lie, and the
 * membership is fixed anyway.
 *
 * With auth enabled, every change needs an administrator (a user with the role root), checked
 * before anything else as etcd's checkMembershipOperationPermission does; MemberList is open.
 */
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { nodeId } from '../core/ids.js';
import { QuorateError } from '../core/errors.js';
import type { MemberChangeContext, MemberRecord } from '../statemachine/mvcc/index.js';
import { adminService } from './admin-proto.js';
import { unaryHandler } from './unary.js';
import { parseUrl } from './cluster-config.js';
import { grpcError, kvError, toGrpcError } from './grpc-errors.js';
import { TOKEN_METADATA_KEY } from './auth-service.js';
import { currentMembers, pbMember, type MemberView, type MemberContext } from './member-context.js';

/** Learners a cluster may have at once (etcd's limit). */
export const MAX_LEARNERS = 1;
/** A learner is promoted only once its log has reached this fraction of the leader's (as etcd). */
export const LEARNER_READY_FRACTION = 0.9;
/** An answer that must not be retried: the change may have been made. */
const MAINTENANCE_TIMEOUT_TEXT = 'etcdserver: request timed out';
/** Time a forwarded membership call may take at the leader. */
export const FORWARD_TIMEOUT_MS = 10_000;

export const CLUSTER_ERRORS = {
  memberExist: () => grpcError(grpc.status.FAILED_PRECONDITION, 'etcdserver: member ID already exist'),
  peerUrlExist: () => grpcError(grpc.status.FAILED_PRECONDITION, 'etcdserver: Peer URLs already exists'),
  notEnoughStarted: () => grpcError(grpc.status.FAILED_PRECONDITION, 'etcdserver: re-configuration failed due to not enough started members'),
  badUrls: () => grpcError(grpc.status.INVALID_ARGUMENT, 'etcdserver: given member URLs are invalid'),
  notFound: () => grpcError(grpc.status.NOT_FOUND, 'etcdserver: member not found'),
  notLearner: () => grpcError(grpc.status.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member'),
  learnerNotReady: () => grpcError(grpc.status.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member which is in sync with leader'),
  tooManyLearners: () => grpcError(grpc.status.FAILED_PRECONDITION, 'etcdserver: too many learner members in cluster'),
  notLeader: () => grpcError(grpc.status.FAILED_PRECONDITION, 'etcdserver: not leader'),
  noLeader: () => grpcError(grpc.status.UNAVAILABLE, 'etcdserver: no leader'),
};

interface PbMemberAddRequest { peerURLs?: string[]; isLearner?: boolean }
interface PbMemberIdRequest { ID?: string }
interface PbMemberUpdateRequest { ID?: string; peerURLs?: string[] }

type Handler = (req: never, metadata: grpc.Metadata) => Promise<Record<string, unknown>>;

export function clusterServiceHandlers(ctx: MemberContext): { service: grpc.ServiceDefinition; handlers: grpc.UntypedServiceImplementation } {
  const toError = (err: unknown): grpc.ServiceError => (isServiceError(err) ? err : toGrpcError(err));
  const h = (fn: Handler) => unaryHandler(fn as (req: unknown, metadata: grpc.Metadata) => Promise<Record<string, unknown>>, toError);
  /** For an administrator only (while auth is enabled). */
  const admin = (fn: Handler): Handler => async (req: never, metadata: grpc.Metadata) => {
    await ctx.requireAdmin(metadata);
    return fn(req, metadata);
  };
  // While leadership moves (or the leader just removed itself) the call is retried until the
  // request's deadline, as etcd retries proposals across an election.
  const forwarding = (method: string, local: (req: never) => Promise<Record<string, unknown>>): Handler =>
    async (req: never, metadata: grpc.Metadata) => {
      const deadline = Date.now() + ctx.retry.requestTimeoutMs;
      for (;;) {
        try {
          // Never under a Byzantine protocol (leaseExpiryQuorum > 1): there a token carries its
          // user's session seed, with which whoever holds it acts as the user (login-proof.ts), and
          // the primary may lie. Such protocols run a fixed membership: answered here (refused).
          const byzantine = ctx.kv.leaseExpiryQuorum > 1;
          return await (byzantine || ctx.node.isLeader() ? local(req) : forwardToLeader(ctx, method, req, metadata));
        } catch (err) {
          const retriable = isServiceError(err) && err.code === grpc.status.UNAVAILABLE && err.details !== MAINTENANCE_TIMEOUT_TEXT;
          if (!retriable || Date.now() + ctx.retry.backoffMs >= deadline || !ctx.node.running) throw err;
          await new Promise((r) => setTimeout(r, ctx.retry.backoffMs));
        }
      }
    };
  return {
    service: adminService('Cluster').service,
    handlers: {
      MemberList: h(() => Promise.resolve({ header: ctx.header(), members: currentMembers(ctx).map(pbMember) })),
      MemberAdd: h(admin(forwarding('MemberAdd', (req: PbMemberAddRequest) => memberAdd(ctx, req)))),
      MemberRemove: h(admin(forwarding('MemberRemove', (req: PbMemberIdRequest) => memberRemove(ctx, req)))),
      MemberPromote: h(admin(forwarding('MemberPromote', (req: PbMemberIdRequest) => memberPromote(ctx, req)))),
      MemberUpdate: h(admin((req: PbMemberUpdateRequest, metadata) => memberUpdate(ctx, req, metadata))),
    },
  };
}

function validUrls(urls: readonly string[] | undefined): string[] {
  if (urls === undefined || urls.length === 0) throw CLUSTER_ERRORS.badUrls();
  try {
    for (const u of urls) parseUrl(u, 'peerURLs');
  } catch {
    throw CLUSTER_ERRORS.badUrls();
  }
  return [...urls];
}

function find(ctx: MemberContext, id: string | undefined): MemberView {
  const m = currentMembers(ctx).find((x) => x.id === String(id ?? ''));
  if (m === undefined) throw CLUSTER_ERRORS.notFound();
  return m;
}

function record(m: MemberView): MemberRecord {
  return { nodeId: m.nodeId, id: m.id, peerUrls: [...m.peerUrls] };
}

async function change(ctx: MemberContext, kind: 'add-voter' | 'add-learner' | 'remove', member: MemberRecord): Promise<void> {
  const context: MemberChangeContext = { member };
  await ctx.node.changeMembership({ kind, node: nodeId(member.nodeId), context });
}

/**
 * A membership call checks the member table after a linearizable barrier: the table is the state
 * machine's, which may be behind the protocol's configuration (a leader elected while it installs a
 * snapshot in slices applies what it holds only after the install), and a check against the old
 * table would accept a peer URL already taken or answer "member not found" for a member just added.
 */
async function caughtUp(ctx: MemberContext): Promise<void> {
  await ctx.node.readBarrier(ctx.retry.requestTimeoutMs);
}

async function memberAdd(ctx: MemberContext, req: PbMemberAddRequest): Promise<Record<string, unknown>> {
  const peerUrls = validUrls(req.peerURLs);
  await caughtUp(ctx);
  const members = currentMembers(ctx);
  const taken = new Set(members.flatMap((m) => m.peerUrls));
  if (peerUrls.some((u) => taken.has(u))) throw CLUSTER_ERRORS.peerUrlExist();
  const isLearner = req.isLearner === true;
  if (isLearner && members.filter((m) => m.isLearner).length >= MAX_LEARNERS) throw CLUSTER_ERRORS.tooManyLearners();
  if (!isLearner) requireStartedQuorum(ctx, members.filter((m) => !m.isLearner).length + 1, null);
  // etcd derives a new member's id from its peer URLs, the cluster and the time of the request.
  const digest = createHash('sha256').update(`added\n${[...peerUrls].sort().join(',')}\n${ctx.identity.clusterId}\n${Date.now()}`).digest();
  const id = digest.readBigUInt64BE(0);
  const idText = id.toString();
  if (members.some((m) => m.id === idText) || ctx.kv.cluster.wasRemoved(idText)) throw CLUSTER_ERRORS.memberExist();
  const added: MemberRecord = { nodeId: id.toString(16).padStart(16, '0'), id: idText, peerUrls };
  await change(ctx, isLearner ? 'add-learner' : 'add-voter', added);
  ctx.logger('info', 'added member', { id: added.nodeId, peerUrls, isLearner });
  const after = currentMembers(ctx);
  const me = after.find((m) => m.id === idText);
  return {
    header: ctx.header(),
    member: me === undefined ? { ID: idText, name: '', peerURLs: peerUrls, clientURLs: [], isLearner } : pbMember(me),
    members: after.map(pbMember),
  };
}

async function memberRemove(ctx: MemberContext, req: PbMemberIdRequest): Promise<Record<string, unknown>> {
  await caughtUp(ctx);
  const target = find(ctx, req.ID);
  const voters = currentMembers(ctx).filter((m) => !m.isLearner);
  if (!target.isLearner) requireStartedQuorum(ctx, voters.length - 1, target.nodeId);
  await change(ctx, 'remove', record(target));
  ctx.logger('info', 'removed member', { id: target.nodeId, name: target.name });
  return { header: ctx.header(), members: currentMembers(ctx).map(pbMember) };
}

async function memberPromote(ctx: MemberContext, req: PbMemberIdRequest): Promise<Record<string, unknown>> {
  await caughtUp(ctx);
  const target = find(ctx, req.ID);
  if (!target.isLearner) throw CLUSTER_ERRORS.notLearner();
  const s = ctx.node.status() as ReturnType<MemberContext['node']['status']> & { progress?: ReadonlyMap<string, { match: number }>; lastIndex?: number };
  const match = s.progress?.get(target.nodeId)?.match ?? 0;
  const leaderIndex = s.lastIndex ?? s.commitIndex;
  if (match < leaderIndex * LEARNER_READY_FRACTION) throw CLUSTER_ERRORS.learnerNotReady();
  await change(ctx, 'add-voter', record(target));
  ctx.logger('info', 'promoted learner', { id: target.nodeId, name: target.name });
  return { header: ctx.header(), members: currentMembers(ctx).map(pbMember) };
}

/**
 * Ordered as the caller: under a Byzantine protocol a member may change only its own peer URLs on
 * its own word; another member's needs an administrator's token (refused at apply otherwise,
 * with etcd's "permission denied", see KvStateMachine.applyCluster).
 */
async function memberUpdate(ctx: MemberContext, req: PbMemberUpdateRequest, metadata: grpc.Metadata): Promise<Record<string, unknown>> {
  await caughtUp(ctx);
  const target = find(ctx, req.ID);
  const peerUrls = validUrls(req.peerURLs);
  const taken = new Set(currentMembers(ctx).filter((m) => m.id !== target.id).flatMap((m) => m.peerUrls));
  if (peerUrls.some((u) => taken.has(u))) throw CLUSTER_ERRORS.peerUrlExist();
  const outcome = await ctx.proposeAs(metadata, { op: 'member-update', nodeId: target.nodeId, id: target.id, peerUrls });
  if (!outcome.ok && outcome.error === 'permission-denied') throw kvError(outcome.error);
  if (!outcome.ok) throw new QuorateError('UNAVAILABLE', `member update refused: ${outcome.error}`);
  ctx.logger('info', 'updated member peer URLs', { id: target.nodeId, peerUrls });
  return { header: ctx.header(), members: currentMembers(ctx).map(pbMember) };
}

/**
 * etcd's strict reconfiguration check: a change is refused when the voters that are up (recently
 * heard from by the leader, or connected to it) would not make a quorum of the new configuration.
 */
function requireStartedQuorum(ctx: MemberContext, votersAfter: number, leaving: string | null): void {
  const s = ctx.node.status() as { progress?: ReadonlyMap<string, { recentActive: boolean; isLearner: boolean }> };
  // Heard from within the last election timeout, or connected now (the protocol's flags are
  // reset at each election timeout, so they alone would briefly undercount).
  const connected = ctx.node.transportStats()?.peers ?? {};
  let active = leaving === ctx.selfNodeId ? 0 : 1; // the leader itself
  for (const [id, pr] of s.progress ?? new Map()) {
    if (id !== leaving && !pr.isLearner && (pr.recentActive || connected[id]?.connected === true)) active++;
  }
  if (active < Math.floor(votersAfter / 2) + 1) throw CLUSTER_ERRORS.notEnoughStarted();
}

/** Hand a membership call to the leader's client URL, with the caller's token (the leader checks it too), and relay its answer. */
async function forwardToLeader(ctx: MemberContext, method: string, req: unknown, metadata: grpc.Metadata): Promise<Record<string, unknown>> {
  const leader = ctx.node.status().leader;
  if (leader === null) throw CLUSTER_ERRORS.noLeader();
  const url = ctx.kv.clientUrlsOf(leader)[0];
  if (url === undefined || ctx.clientTls) throw CLUSTER_ERRORS.notLeader();
  const target = parseUrl(url, 'leader client URL');
  const Cluster = adminService('Cluster');
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  const client = new Cluster(`${host}:${target.port}`, grpc.credentials.createInsecure());
  try {
    return await new Promise<Record<string, unknown>>((resolve, reject) => {
      const call = client[method] as (r: unknown, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: Record<string, unknown>) => void) => void;
      const forwarded = new grpc.Metadata();
      for (const token of metadata.get(TOKEN_METADATA_KEY)) forwarded.add(TOKEN_METADATA_KEY, token);
      call.call(client, req, forwarded, { deadline: Date.now() + FORWARD_TIMEOUT_MS }, (err, res) => (err === null ? resolve({ ...res, header: ctx.header() }) : reject(err)));
    });
  } finally {
    client.close();
  }
}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number' && (err as Partial<grpc.ServiceError>).metadata !== undefined;
}

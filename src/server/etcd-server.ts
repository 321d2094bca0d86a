/**
 * The etcd v3 gRPC front end of a replicated node: KV (Range, Put, DeleteRange, Txn, Compact)
 * here; Auth, Watch, Lease, Lock, Election, Cluster, Maintenance and /health, /metrics in their
 * own files; on etcd's own wire definitions so etcdctl and the etcd client libraries work unchanged.
 *
 * Writes go through the log under this server's client session; reads are linearizable (a
 * ReadIndex barrier, then the local store) unless the request asks for `serializable`.
 * A request that reaches a follower is served there: writes are forwarded to the leader by
 * the node runtime, and the read barrier asks the leader for its commit index.
 */
import type { ServerMutant } from './mutants.js';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../node/config.js';
import { QuorateError } from '../core/errors.js';
import type { ServingNode } from './serving-node.js';
import { isLeaseResult, isWrite, KvError, ROOT_USER, validateFields, validateWrites, type KvLimits, type KvOutcome, type KvRequest, type KvStateMachine } from '../statemachine/mvcc/index.js';
import type { ClusterIdentity, MemberConfig } from './cluster-config.js';
import {
  pbResult, toDeleteRange, toPut, toRange, toTxn,
  type PbDeleteRangeRequest, type PbHeader, type PbPutRequest, type PbRangeRequest, type PbTxnRequest,
} from './convert.js';
import { grpcError, kvError, toGrpcError } from './grpc-errors.js';
import { electionService, etcdService, lockService, SERVED } from './proto.js';
import { wireNumber, type WireInt } from './wire-ints.js';
import { AuthService } from './auth-service.js';
import { DEFAULT_LEASE_LIMITS, LeaseKeeper, leaseHandlers, type LeaseLimits } from './lease-service.js';
import { watchHandlers, DEFAULT_PROGRESS_NOTIFY_INTERVAL_MS } from './watch-service.js';
import { lockHandlers } from './lock-service.js';
import { electionHandlers } from './election-service.js';
import type { ServiceContext } from './service-context.js';
import { WatchHub, type WatchLimits } from '../statemachine/mvcc/index.js';
import { withRetry, type RetryPolicy } from './retry.js';
import { SessionProposer } from './session-proposer.js';
// ---- cluster and maintenance services ----
import { clusterServiceHandlers } from './cluster-service.js';
import { maintenanceServiceHandlers } from './maintenance-service.js';
import { attachMembershipRuntime } from './membership-runtime.js';
import { BackendQuota, DEFAULT_QUOTA_BACKEND_BYTES } from './quota.js';
import { AutoCompactor, type AutoCompactionOptions } from './auto-compaction.js';
import { CorruptionChecker, type HashAnswer, type PeerToCheck } from './corruption-check.js';
import { hashKv } from './state-hashes.js';
import { currentMembers } from './member-context.js';
import { parseUrl } from './cluster-config.js';
import { askToJoin } from '../transport/index.js';
import type { MemberContext } from './member-context.js';
import type { PeerCredentials, PeerTls } from '../transport/index.js';
import { httpHandler, listenHttp, SharedClientPort } from './http-endpoints.js';
import { guardDeadStreams } from './dead-streams.js';
import { ServerMetrics } from './metrics.js';
import { unaryHandler } from './unary.js';
import { measuringRequests, requestBytesOf } from './request-bytes.js';

/** The etcd API version quorate speaks (reported by Maintenance.Status). */
export const ETCD_API_VERSION = '3.5.0';

export interface ServerLimits extends KvLimits {
  /** Largest write accepted, in bytes as the client sent it (etcd --max-request-bytes, default 1.5 MiB). */
  readonly maxRequestBytes: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = { maxRequestBytes: 1_572_864, maxTxnOps: 128 };

/** gRPC framing allowance on top of the request itself (as etcd allows). */
const GRPC_OVERHEAD_BYTES = 512 * 1024;

export interface ClientTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** When set, client certificates signed by this CA are checked. */
  readonly ca: Buffer | null;
  readonly clientCertAuth: boolean;
}

export interface EtcdServerOptions {
  readonly node: ServingNode;
  /** Tests only (serve --unsafe-mutant stale-read): linearizable reads skip the read barrier. */
  readonly mutant?: ServerMutant | null;
  readonly kv: KvStateMachine;
  readonly identity: ClusterIdentity;
  readonly self: MemberConfig;
  /** host:port pairs to listen on for clients. */
  readonly listen: readonly { host: string; port: number }[];
  readonly advertiseClientUrls: readonly string[];
  readonly tls: ClientTls | null;
  readonly limits?: Partial<ServerLimits>;
  readonly retry: RetryPolicy;
  /** Lifetime of auth tokens; DEFAULT_AUTH_TOKEN_TTL_MS unless set. */
  readonly authTokenTtlMs?: number;
  /** The protocol masks lying members: logins are proved through the log (see AuthServiceOptions.proveLogins). */
  readonly byzantine?: boolean;
  readonly logger: Logger;
  /** Watch buffers and counts (see statemachine/mvcc/watchers.ts). */
  readonly watchLimits?: Partial<WatchLimits>;
  /** Lease timing and bounds (see lease-service.ts); minTtlSeconds follows the election timeout. */
  readonly leaseLimits?: Partial<LeaseLimits>;
  readonly progressNotifyIntervalMs?: number;
  /** etcd --quota-backend-bytes (0: etcd's default, 2 GiB). */
  readonly quotaBackendBytes?: number;
  /** etcd --auto-compaction-mode and --auto-compaction-retention (null or absent: off). */
  readonly autoCompaction?: AutoCompactionOptions | null;
  /** etcd --experimental-corrupt-check-time: the leader compares HashKV with every member this often (0 or absent: off). */
  readonly corruptCheckIntervalMs?: number;
  /** This member's --name when its node id differs (a member that joined a running cluster). */
  readonly memberName?: string;
  /** Peer TLS material, for asking other members on their peer port. */
  readonly peerTls?: PeerTls | null;
  /** The cluster secret (--peer-secret-file), proven when asking other members on their peer port. */
  readonly peerSecret?: Uint8Array | null;
  /** Plain HTTP listeners for /health and /metrics (etcd --listen-metrics-urls). */
  readonly listenMetrics?: readonly { host: string; port: number }[];
  /** Called when this member applies its own removal from the cluster. */
  readonly onRemoved?: () => void;
}

/** A member that does not answer the corruption check's question within this is skipped that round. */
export const CORRUPT_CHECK_QUERY_TIMEOUT_MS = 5_000;

/** A peer's answer to the hashkv question, checked for shape (it came off the network). */
function hashAnswer(a: unknown): HashAnswer | { error: string } {
  const x = a as Partial<HashAnswer> & { error?: unknown };
  if (typeof x === 'object' && x !== null && Number.isSafeInteger(x.hash) && Number.isSafeInteger(x.compactRevision)) return { hash: x.hash!, compactRevision: x.compactRevision! };
  return { error: typeof x?.error === 'string' ? x.error : 'a malformed hashkv answer' };
}

type Unary<Req> = (call: grpc.ServerUnaryCall<Req, unknown>, callback: grpc.sendUnaryData<unknown>) => void;

export class EtcdServer {
  private readonly server: grpc.Server;
  /** Auth: the Auth service and the permission checks (for Watch: `auth.userOf(metadata)`, then `auth.watchCancelReason(user, key, rangeEnd)`). */
  readonly auth: AuthService;
  private readonly proposer: SessionProposer;
  private readonly limits: ServerLimits;
  private readonly services: MemberContext;
  private readonly quota: BackendQuota;
  private detachMembership: (() => void) | null = null;
  /** Prometheus metrics of this member (served at /metrics). */
  readonly metrics: ServerMetrics;
  private readonly listeners: { stopAccepting(): void; close(): Promise<void> }[] = [];
  private stopped = false;
  private publishTimer: NodeJS.Timeout | null = null;
  private readonly hub: WatchHub;
  private readonly leaseKeeper: LeaseKeeper;
  private autoCompactor: AutoCompactor | null = null;
  private corruptionChecker: CorruptionChecker | null = null;

  private constructor(private readonly options: EtcdServerOptions) {
    this.limits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
    this.proposer = new SessionProposer(options.node, options.self.name, options.retry);
    this.auth = new AuthService({
      kv: options.kv,
      propose: (request, user) => this.proposer.propose(request, user),
      readBarrier: () => withRetry(options.retry, (remainingMs) => options.node.readBarrier(remainingMs), () => !options.node.running),
      header: () => this.header(options.kv.store.revision),
      ...(options.authTokenTtlMs === undefined ? {} : { tokenTtlMs: options.authTokenTtlMs }),
      // The state machine sees this member's commands as ordered by its node id.
      ...(options.byzantine === true ? { proveLogins: { origin: options.self.name } } : {}),
    });
    this.services = {
      node: options.node, kv: options.kv, identity: options.identity,
      selfNodeId: options.self.name, selfMemberId: options.self.id, clientTls: options.tls !== null,
      retry: options.retry, logger: options.logger,
      header: () => this.header(this.options.kv.store.revision),
      requireAdmin: (metadata) => this.auth.requireAdmin(metadata),
      propose: (request) => this.counted(this.proposer.propose(request)),
      proposeAs: async (metadata, request) => this.counted(this.proposer.propose(request, await this.auth.callerOf(metadata))),
    };
    this.quota = new BackendQuota(this.services, options.quotaBackendBytes === undefined || options.quotaBackendBytes <= 0 ? DEFAULT_QUOTA_BACKEND_BYTES : options.quotaBackendBytes);
    this.metrics = new ServerMetrics(this.services, this.quota);
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': this.limits.maxRequestBytes + GRPC_OVERHEAD_BYTES,
      'grpc.max_send_message_length': 2 ** 31 - 1,
      // Per-call bookkeeping for a debugging service quorate does not expose.
      'grpc.enable_channelz': 0,
    });
    // Writes are limited in the bytes the client sent (see request-bytes.ts).
    this.server.addService(measuringRequests(etcdService('KV', SERVED).service), {
      Range: this.unary((req: PbRangeRequest, md) => this.read(toRange(req), req.serializable === true, md)),
      Put: this.unary((req: PbPutRequest, md) => this.write(toPut(req), md, requestBytesOf(req))),
      DeleteRange: this.unary((req: PbDeleteRangeRequest, md) => this.write(toDeleteRange(req), md, requestBytesOf(req))),
      Txn: this.unary((req: PbTxnRequest, md) => {
        const txn = toTxn(req);
        return isWrite(txn) ? this.write(txn, md, requestBytesOf(req)) : this.read(txn, false, md);
      }),
      Compact: this.unary((req: { revision?: WireInt }, md) => this.write({ op: 'compact', revision: wireNumber(req.revision) }, md, requestBytesOf(req))),
    });
    const maintenance = maintenanceServiceHandlers(this.services, this.quota);
    this.server.addService(maintenance.service, maintenance.handlers);
    const cluster = clusterServiceHandlers(this.services);
    this.server.addService(cluster.service, cluster.handlers);
    this.server.addService(etcdService('Auth', SERVED).service, this.auth.methods((handler) => this.unary(handler)));

    // ---- Watch, Lease, Lock, Election ----
    this.hub = new WatchHub(options.kv.store, options.watchLimits);
    this.metrics.setWatcherCount(() => this.hub.size);
    const ctx: ServiceContext = {
      node: options.node,
      kv: options.kv,
      hub: this.hub,
      logger: options.logger,
      maxRequestBytes: this.limits.maxRequestBytes,
      header: (revision) => this.header(revision),
      propose: (request) => this.counted(this.proposer.propose(request)),
      readBarrier: () => withRetry(options.retry, (remainingMs) => options.node.readBarrier(remainingMs), () => !options.node.running),
      isStopped: () => this.stopped,
      asCaller: async (metadata) => {
        const caller = await this.auth.caller(metadata);
        return {
          ...ctx,
          // Ordered as the caller: under a Byzantine protocol this member binds itself to the
          // caller's session first if the client authenticated at another member (see callerOf).
          propose: async (request) => this.counted(this.proposer.propose(request, await caller.acting())),
          checkRead: (key, rangeEnd) => this.auth.checkRange(caller.user, key, rangeEnd),
        };
      },
      checkRead: (key, rangeEnd) => this.auth.checkRange(null, key, rangeEnd),
      watchPermission: async (metadata) => {
        const user = await this.auth.userOf(metadata);
        return (key, rangeEnd) => this.auth.watchCancelReason(user, key, rangeEnd);
      },
    };
    this.leaseKeeper = new LeaseKeeper(ctx, { ...DEFAULT_LEASE_LIMITS, ...options.leaseLimits });
    this.server.addService(etcdService('Watch', SERVED).service, watchHandlers(ctx, options.progressNotifyIntervalMs ?? DEFAULT_PROGRESS_NOTIFY_INTERVAL_MS));
    this.server.addService(etcdService('Lease', SERVED).service, leaseHandlers(ctx, this.leaseKeeper));
    this.server.addService(lockService(SERVED).service, lockHandlers(ctx));
    this.server.addService(electionService(SERVED).service, electionHandlers(ctx));
  }

  /** The member's replicated store (for code that embeds a member, and for tests). */
  get kv(): KvStateMachine {
    return this.options.kv;
  }

  static async start(options: EtcdServerOptions): Promise<EtcdServer> {
    const s = new EtcdServer(options);
    const credentials = options.tls === null
      ? grpc.ServerCredentials.createInsecure()
      : grpc.ServerCredentials.createSsl(options.tls.ca, [{ cert_chain: options.tls.cert, private_key: options.tls.key }], options.tls.clientCertAuth);
    // One listener per client URL: gRPC, and (without TLS) /health and /metrics over HTTP/1.1.
    const handler = httpHandler(s.services, s.quota, s.metrics);
    try {
      for (const l of options.listen) {
        const injector = s.server.createConnectionInjector(credentials);
        guardDeadStreams(s.server);
        s.listeners.push(await SharedClientPort.listen(l.host, l.port, injector, handler, options.tls === null));
      }
      for (const l of options.listenMetrics ?? []) s.listeners.push(await listenHttp(l.host, l.port, handler));
    } catch (err) {
      await Promise.all(s.listeners.map((l) => l.close()));
      s.server.forceShutdown();
      throw err;
    }
    s.detachMembership = attachMembershipRuntime(s.services, s.peerCredentials(), () => options.onRemoved?.());
    s.publish();
    if (options.autoCompaction != null) s.startAutoCompaction(options.autoCompaction);
    if ((options.corruptCheckIntervalMs ?? 0) > 0) s.startCorruptionCheck(options.corruptCheckIntervalMs!);
    return s;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.autoCompactor?.stop();
    this.corruptionChecker?.stop();
    this.detachMembership?.();
    this.metrics.close();
    for (const l of this.listeners) l.stopAccepting();
    if (this.publishTimer !== null) clearTimeout(this.publishTimer);
    this.leaseKeeper.stop();
    this.hub.close();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => { this.server.forceShutdown(); resolve(); }, 2_000);
      this.server.tryShutdown(() => { clearTimeout(force); resolve(); });
    });
    await Promise.all(this.listeners.map((l) => l.close()));
  }

  /**
   * The compactor proposes as the server itself: with auth enabled a compaction needs an
   * administrator, so it names root (which etcd requires to exist, with its role, while auth is on).
   * Under a Byzantine protocol (leaseExpiryQuorum > 1) no member may act as root on its own word,
   * nor compact alone: every member's compactor proposes a `compact-vote`, and the state machine
   * compacts as far as f + 1 members voted (see KvStateMachine.applyCompactVote), as leases expire.
   */
  private startAutoCompaction(o: AutoCompactionOptions): void {
    const { kv, node, logger } = this.options;
    this.autoCompactor = new AutoCompactor(o, {
      nowMs: () => Date.now(),
      setTimer: (ms, fn) => {
        const t = setTimeout(fn, ms);
        t.unref();
        return () => clearTimeout(t);
      },
      revision: () => kv.store.revision,
      compactedRevision: () => kv.store.compactRevision,
      leading: () => node.running && (kv.leaseExpiryQuorum > 1 || node.status().leading),
      compact: async (revision) => {
        const outcome = kv.leaseExpiryQuorum > 1
          ? await this.proposer.propose({ op: 'compact-vote', revision })
          : await this.proposer.propose({ op: 'compact', revision }, kv.auth.enabled ? ROOT_USER : null);
        if (!outcome.ok) throw new QuorateError('COMPACTED', `compaction to ${revision} refused: ${outcome.error}`);
      },
      log: (message, fields) => logger('info', message, fields),
    });
    this.autoCompactor.start();
  }

  /**
   * A proposal of the services (Lock, Election, Lease, membership, alarms), counted in
   * etcd_server_proposals_failed_total when it does not commit (timed out, no leader, member
   * stopped): a cleanup whose delete does not commit shows there, besides its log line. As in
   * etcd (processInternalRaftRequestOnce), a proposal that committed and whose apply refused it
   * (a revoke or keepalive of a lease that is gone, a lease id already taken) is not a failed
   * proposal: it answers its caller, and counting it would raise etcd's HighNumberOfFailedProposals
   * alert on ordinary client behaviour.
   */
  private async counted(proposal: Promise<KvOutcome>): Promise<KvOutcome> {
    try {
      return await proposal;
    } catch (err) {
      this.metrics.proposalFailed();
      throw err;
    }
  }

  /** What this member proves when it asks another on its peer port (join.ts). */
  private peerCredentials(): PeerCredentials {
    return { tls: this.options.peerTls ?? null, secret: this.options.peerSecret ?? null };
  }

  private startCorruptionCheck(intervalMs: number): void {
    const { kv, node, logger } = this.options;
    const credentials = this.peerCredentials();
    const peers = (): PeerToCheck[] => currentMembers(this.services)
      .filter((m) => m.nodeId !== this.services.selfNodeId && m.peerUrls.length > 0)
      .map((m) => ({
        memberId: m.id,
        ask: async (revision: number) => hashAnswer(await askToJoin(parseUrl(m.peerUrls[0]!, 'peer URL'), { kind: 'hashkv', revision, memberId: m.id }, credentials, CORRUPT_CHECK_QUERY_TIMEOUT_MS, m.nodeId)),
      }));
    this.corruptionChecker = new CorruptionChecker(intervalMs, {
      setTimer: (ms, fn) => {
        const t = setTimeout(fn, ms);
        t.unref();
        return () => clearTimeout(t);
      },
      // Under a Byzantine protocol each member's CORRUPT is one vote of the f + 1 it takes: all check.
      leading: () => node.running && (kv.leaseExpiryQuorum > 1 || node.status().leading),
      revision: () => kv.store.revision,
      localHash: (revision) => hashKv(kv.store, revision),
      peers,
      selfMemberId: () => currentMembers(this.services).find((m) => m.nodeId === this.services.selfNodeId)?.id ?? '0',
      alarmed: () => new Set(kv.cluster.alarmList().filter((a) => a.alarm === 'CORRUPT').map((a) => a.memberId)),
      raise: async (memberId) => {
        const outcome = await this.proposer.propose({ op: 'alarm', action: 'activate', memberId, alarm: 'CORRUPT' });
        if (!outcome.ok) throw new QuorateError('UNAVAILABLE', `the CORRUPT alarm was refused: ${outcome.error}`);
      },
      ...(kv.leaseExpiryQuorum > 1 ? {
        voted: () => new Set(currentMembers(this.services)
          .map((m) => m.id).filter((id) => kv.alarmVotersOf('activate', id, 'CORRUPT').includes(this.services.selfNodeId))),
        withdraw: async (memberId: string) => {
          const outcome = await this.proposer.propose({ op: 'alarm', action: 'withdraw', memberId, alarm: 'CORRUPT' });
          if (!outcome.ok) throw new QuorateError('UNAVAILABLE', `withdrawing the CORRUPT vote was refused: ${outcome.error}`);
        },
      } : {}),
      log: (level, message, fields) => logger(level, message, fields),
    });
    this.corruptionChecker.start();
  }

  // ---- requests -------------------------------------------------------------------------

  private unary<Req>(handler: (req: Req, metadata: grpc.Metadata) => Promise<Record<string, unknown>>): Unary<Req> {
    return unaryHandler(handler, (err) => (isServiceError(err) ? err : toGrpcError(err)));
  }


  /** `wireBytes`: the request's size as the client sent it. */
  private async write(request: KvRequest, metadata: grpc.Metadata, wireBytes: number | null): Promise<Record<string, unknown>> {
    // The cheap refusals first (size, fields, learner, permissions), so a request refused for
    // any of them never costs the txn write check, the most expensive (O(n log n)) one.
    if (wireBytes !== null && wireBytes > this.limits.maxRequestBytes) throw kvError('request-too-large');
    this.refuseInvalid(() => validateFields(request, this.limits));
    this.refuseOnLearner();
    const user = await this.auth.callerOf(metadata);
    // Checked again at apply, where it counts (permissions may change before then).
    this.auth.checkRequest(user, request);
    this.refuseInvalid(() => validateWrites(request));
    let outcome: KvOutcome;
    try {
      await this.quota.beforeWrite(request);
      outcome = await this.proposer.propose(request, user);
    } catch (err) {
      this.metrics.proposalFailed();
      throw err;
    }
    if (!outcome.ok) this.metrics.proposalFailed();
    return this.respond(outcome);
  }

  private async read(request: KvRequest, serializable: boolean, metadata: grpc.Metadata): Promise<Record<string, unknown>> {
    // A read-only txn has no writes: its write check is trivial.
    this.refuseInvalid(() => {
      validateFields(request, this.limits);
      validateWrites(request);
    });
    if (!serializable) this.refuseOnLearner();
    if (!serializable && this.options.mutant !== 'stale-read') {
      await withRetry(this.options.retry, (remainingMs) => this.options.node.readBarrier(remainingMs), () => !this.options.node.running);
    }
    this.auth.checkRequest(await this.auth.userOf(metadata), request);
    return this.respond(this.options.kv.execute(request));
  }

  /** A learner serves serializable reads only (as etcd's learners do). */
  private refuseOnLearner(): void {
    if (this.options.node.status().membership.learners.includes(this.options.node.id)) {
      throw grpcError(grpc.status.UNAVAILABLE, 'etcdserver: rpc not supported for learner');
    }
  }

  private refuseInvalid(check: () => void): void {
    // Refused before the log, so a malformed request costs nothing and cannot commit.
    try {
      check();
    } catch (err) {
      throw err instanceof KvError ? kvError(err.kind) : err;
    }
  }

  private respond(outcome: KvOutcome): Record<string, unknown> {
    if (!outcome.ok) throw kvError(outcome.error);
    if (outcome.result.op === 'publish-member' || outcome.result.op === 'auth' || outcome.result.op === 'cluster' || isLeaseResult(outcome.result)) return { header: this.header(outcome.result.revision) };
    return pbResult(outcome.result, this.header(outcome.result.revision));
  }

  private header(revision: number): PbHeader {
    return {
      cluster_id: this.options.identity.clusterId,
      member_id: this.options.self.id,
      revision,
      raft_term: this.options.node.status().term,
    };
  }

  /** Announce this member's client URLs through the log, retrying until it lands (as etcd does). */
  private publish(): void {
    const attempt = (): void => {
      if (this.stopped) return;
      const current = this.options.kv.clientUrlsOf(this.options.self.name);
      if (sameUrls(current, this.options.advertiseClientUrls)) return;
      const memberName = this.options.memberName ?? this.options.self.name;
      this.proposer.propose({ op: 'publish-member', name: this.options.self.name, clientUrls: this.options.advertiseClientUrls, memberName }).then(
        () => this.options.logger('info', 'published client URLs to the cluster', { clientUrls: this.options.advertiseClientUrls }),
        (err: unknown) => {
          this.options.logger('debug', 'publishing client URLs failed; will retry', { error: (err as Error).message });
          this.publishTimer = setTimeout(attempt, 1_000);
        },
      );
    };
    attempt();
  }
}

function sameUrls(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((u, i) => u === b[i]);
}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number' && (err as Partial<grpc.ServiceError>).metadata !== undefined;
}

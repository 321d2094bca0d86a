/**
 * The etcd v3 gRPC front end of a replicated node: KV (Range, Put, DeleteRange, Txn, Compact),
 * Maintenance.Status and Cluster.MemberList, on etcd's own wire definitions so etcdctl and
 * the etcd client libraries work unchanged.
 *
 * Writes go through the log under this server's client session; reads are linearizable (a
 * ReadIndex barrier, then the local store) unless the request asks for `serializable`.
 * A request that reaches a follower is served there: writes are forwarded to the leader by
 * the node runtime, and the read barrier asks the leader for its commit index.
 */
import * as grpc from '@grpc/grpc-js';
import type { ReplicatedNode } from '../node/index.js';

/** What the etcd server needs of the node under it (Raft's ReplicatedNode, or PBFT's BftNode). */
export type ServingNode = Pick<ReplicatedNode<KvOutcome>, 'propose' | 'readBarrier' | 'running' | 'status'>;
import type { Logger } from '../node/config.js';
import { isWrite, KvError, validateRequest, type KvLimits, type KvOutcome, type KvRequest, type KvStateMachine } from '../statemachine/mvcc/index.js';
import type { ClusterIdentity, MemberConfig } from './cluster-config.js';
import {
  pbResult, toDeleteRange, toPut, toRange, toTxn,
  type PbDeleteRangeRequest, type PbHeader, type PbPutRequest, type PbRangeRequest, type PbTxnRequest,
} from './convert.js';
import { kvError, toGrpcError } from './grpc-errors.js';
import { etcdService } from './proto.js';
import { withRetry, type RetryPolicy } from './retry.js';
import { SessionProposer } from './session-proposer.js';

/** The etcd API version quorate speaks (reported by Maintenance.Status). */
export const ETCD_API_VERSION = '3.5.0';

export interface ServerLimits extends KvLimits {
  /** Largest request accepted, in bytes (etcd --max-request-bytes, default 1.5 MiB). */
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
  readonly kv: KvStateMachine;
  readonly identity: ClusterIdentity;
  readonly self: MemberConfig;
  /** host:port pairs to listen on for clients. */
  readonly listen: readonly { host: string; port: number }[];
  readonly advertiseClientUrls: readonly string[];
  readonly tls: ClientTls | null;
  readonly limits?: Partial<ServerLimits>;
  readonly retry: RetryPolicy;
  readonly logger: Logger;
}

type Unary<Req> = (call: grpc.ServerUnaryCall<Req, unknown>, callback: grpc.sendUnaryData<unknown>) => void;

export class EtcdServer {
  private readonly server: grpc.Server;
  private readonly proposer: SessionProposer;
  private readonly limits: ServerLimits;
  private readonly memberIdByName: Map<string, string>;
  private stopped = false;
  private publishTimer: NodeJS.Timeout | null = null;

  private constructor(private readonly options: EtcdServerOptions) {
    this.limits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
    this.proposer = new SessionProposer(options.node, options.self.name, options.retry, this.limits.maxRequestBytes);
    this.memberIdByName = new Map(options.identity.members.map((m) => [m.name, m.id]));
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': this.limits.maxRequestBytes + GRPC_OVERHEAD_BYTES,
      'grpc.max_send_message_length': 2 ** 31 - 1,
      // Per-call bookkeeping for a debugging service quorate does not expose.
      'grpc.enable_channelz': 0,
    });
    this.server.addService(etcdService('KV').service, {
      Range: this.unary((req: PbRangeRequest) => this.read(toRange(req), req.serializable === true)),
      Put: this.unary((req: PbPutRequest) => this.write(toPut(req))),
      DeleteRange: this.unary((req: PbDeleteRangeRequest) => this.write(toDeleteRange(req))),
      Txn: this.unary((req: PbTxnRequest) => {
        const txn = toTxn(req);
        return isWrite(txn) ? this.write(txn) : this.read(txn, false);
      }),
      Compact: this.unary((req: { revision?: number }) => this.write({ op: 'compact', revision: req.revision ?? 0 })),
    });
    this.server.addService(etcdService('Maintenance').service, { Status: this.unary(() => Promise.resolve(this.status())) });
    this.server.addService(etcdService('Cluster').service, { MemberList: this.unary(() => Promise.resolve(this.memberList())) });
  }

  static async start(options: EtcdServerOptions): Promise<EtcdServer> {
    const s = new EtcdServer(options);
    const credentials = options.tls === null
      ? grpc.ServerCredentials.createInsecure()
      : grpc.ServerCredentials.createSsl(options.tls.ca, [{ cert_chain: options.tls.cert, private_key: options.tls.key }], options.tls.clientCertAuth);
    for (const l of options.listen) {
      const host = l.host.includes(':') ? `[${l.host}]` : l.host;
      await new Promise<number>((resolve, reject) => {
        s.server.bindAsync(`${host}:${l.port}`, credentials, (err, port) => (err ? reject(err) : resolve(port)));
      });
    }
    s.publish();
    return s;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.publishTimer !== null) clearTimeout(this.publishTimer);
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => { this.server.forceShutdown(); resolve(); }, 2_000);
      this.server.tryShutdown(() => { clearTimeout(force); resolve(); });
    });
  }

  // ---- requests -------------------------------------------------------------------------

  private unary<Req>(handler: (req: Req) => Promise<Record<string, unknown>>): Unary<Req> {
    return (call, callback) => {
      let pending: Promise<Record<string, unknown>>;
      try {
        pending = handler(call.request);
      } catch (err) {
        pending = Promise.reject(err);
      }
      pending.then(
        (response) => callback(null, response),
        (err: unknown) => callback(isServiceError(err) ? err : toGrpcError(err)),
      );
    };
  }

  private async write(request: KvRequest): Promise<Record<string, unknown>> {
    this.refuseInvalid(request);
    const outcome = await this.proposer.propose(request);
    return this.respond(outcome);
  }

  private async read(request: KvRequest, serializable: boolean): Promise<Record<string, unknown>> {
    this.refuseInvalid(request);
    if (!serializable) {
      await withRetry(this.options.retry, () => this.options.node.readBarrier(), () => !this.options.node.running);
    }
    return this.respond(this.options.kv.execute(request));
  }

  private refuseInvalid(request: KvRequest): void {
    // Refused before the log, so a malformed request costs nothing and cannot commit.
    try {
      validateRequest(request, this.limits);
    } catch (err) {
      throw err instanceof KvError ? kvError(err.kind) : err;
    }
  }

  private respond(outcome: KvOutcome): Record<string, unknown> {
    if (!outcome.ok) throw kvError(outcome.error);
    if (outcome.result.op === 'publish-member') return { header: this.header(outcome.result.revision) };
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

  private status(): Record<string, unknown> {
    const s = this.options.node.status();
    const bytes = this.options.kv.store.approximateBytes();
    return {
      header: this.header(this.options.kv.store.revision),
      version: ETCD_API_VERSION,
      dbSize: bytes,
      dbSizeInUse: bytes,
      leader: s.leader === null ? 0 : this.memberIdByName.get(s.leader) ?? 0,
      raftIndex: s.commitIndex,
      raftTerm: s.term,
      raftAppliedIndex: s.appliedIndex,
      errors: [],
      isLearner: s.role === 'learner',
    };
  }

  private memberList(): Record<string, unknown> {
    const learners = new Set<string>(this.options.node.status().membership.learners);
    return {
      header: this.header(this.options.kv.store.revision),
      members: this.options.identity.members.map((m) => ({
        ID: m.id,
        name: m.name,
        peerURLs: m.peerUrls,
        clientURLs: this.options.kv.clientUrlsOf(m.name),
        isLearner: learners.has(m.name),
      })),
    };
  }

  /** Announce this member's client URLs through the log, retrying until it lands (as etcd does). */
  private publish(): void {
    const attempt = (): void => {
      if (this.stopped) return;
      const current = this.options.kv.clientUrlsOf(this.options.self.name);
      if (sameUrls(current, this.options.advertiseClientUrls)) return;
      this.proposer.propose({ op: 'publish-member', name: this.options.self.name, clientUrls: this.options.advertiseClientUrls }).then(
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

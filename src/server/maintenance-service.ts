/**
 * etcd's Maintenance service: Status, Alarm, Defragment, Hash, HashKV, Snapshot, MoveLeader.
 *
 * - Status: version, db size (see quota.ts), leader, raft index/term/applied index, alarms as errors.
 * - HashKV and Hash: see state-hashes.ts.
 * - Snapshot: the state machine's client snapshot (no token key: KvStateMachine.clientSnapshot) in
 *   a quorate envelope, streamed in chunks, followed by the SHA-256 of everything before it (as
 *   etcd appends to its snapshot stream). Restorable with
 *   `quorate snapshot restore`. It is not a bbolt file: `etcdctl snapshot status/restore` cannot read it.
 * - MoveLeader: leadership transfer to a voter; answered once the target leads.
 * - Defragment: takes a snapshot now and compacts the WAL behind it; the reported size drops to
 *   what is in use.
 *
 * With auth enabled, only an administrator (a user with the role root) may call Snapshot,
 * Defragment, Hash and HashKV (etcd 3.4/3.5's authMaintenanceServer), MoveLeader (etcd 3.6 checks
 * it too) and Alarm ACTIVATE/DEACTIVATE (etcd checks no caller there; quorate does, since raising
 * NOSPACE refuses every write in the cluster; under a Byzantine protocol without auth, an alarm
 * call is the member's vote, see alarm()). Status and Alarm GET are open to anyone, as in etcd.
 */
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { pack, unpack } from '../core/codec.js';
import { nodeId } from '../core/ids.js';
import { QuorateError } from '../core/errors.js';
import type { AlarmKind } from '../statemachine/mvcc/index.js';
import { adminService } from './admin-proto.js';
import { unaryHandler } from './unary.js';
import { ETCD_API_VERSION } from './etcd-server.js';
import { grpcError, kvError, toGrpcError } from './grpc-errors.js';
import type { BackendQuota } from './quota.js';
import { currentMembers, memberIdOf, type MemberContext } from './member-context.js';
import { CLUSTER_ERRORS } from './cluster-service.js';
import { hashAll, hashKv } from './state-hashes.js';

/** Bytes per Snapshot stream message (etcd sends 32 KiB). */
export const SNAPSHOT_CHUNK_BYTES = 32 * 1024;
/** MoveLeader waits this long for the target to take over. */
export const MOVE_LEADER_TIMEOUT_MS = 5_000;
/** Marks a quorate snapshot file. */
export const SNAPSHOT_FILE_MAGIC = 'quorate-snapshot';
export const SNAPSHOT_FILE_VERSION = 1;
const SHA256_BYTES = 32;
/**
 * The body is padded to a multiple of this many bytes: etcdctl's `snapshot save` accepts a stream
 * only if its length is a multiple of 512 plus the 32-byte SHA-256 (a bbolt file is whole pages).
 */
export const SNAPSHOT_BODY_ALIGN_BYTES = 512;
/** Body layout: magic, u32 length of the encoded envelope, the envelope, zero padding. */
const BODY_MAGIC = Buffer.from('QRTSNAP1', 'latin1');

export const MAINTENANCE_ERRORS = {
  notLeader: () => grpcError(grpc.status.FAILED_PRECONDITION, 'etcdserver: not leader'),
  badLeaderTransferee: () => grpcError(grpc.status.FAILED_PRECONDITION, 'etcdserver: bad leader transferee'),
  leaderTransferTimeout: () => grpcError(grpc.status.UNAVAILABLE, 'etcdserver: request timed out, leader transfer took too long'),
};

interface PbAlarmRequest { action?: string; memberID?: string; alarm?: string }

export function maintenanceServiceHandlers(ctx: MemberContext, quota: BackendQuota): { service: grpc.ServiceDefinition; handlers: grpc.UntypedServiceImplementation } {
  const toError = (err: unknown): grpc.ServiceError => (isServiceError(err) ? err : toGrpcError(err));
  const h = <Req>(fn: (req: Req, md: grpc.Metadata) => Promise<Record<string, unknown>>) => unaryHandler(fn, toError);
  /** The same, for an administrator only (while auth is enabled). */
  const admin = <Req>(fn: (req: Req) => Promise<Record<string, unknown>> | Record<string, unknown>) =>
    h(async (req: Req, md: grpc.Metadata) => {
      await ctx.requireAdmin(md);
      return fn(req);
    });
  return {
    service: adminService('Maintenance').service,
    handlers: {
      Status: h(() => Promise.resolve(status(ctx, quota))),
      Alarm: h(async (req: PbAlarmRequest, md) => {
        if ((req.action ?? 'GET') !== 'GET') await ctx.requireAdmin(md);
        return alarm(ctx, quota, req, md);
      }),
      Defragment: admin(async () => {
        await ctx.node.snapshotNow();
        quota.defragmented();
        ctx.logger('info', 'defragmented: snapshot taken and log compacted', { inUse: quota.inUse() });
        return { header: ctx.header() };
      }),
      Hash: admin(() => ({ header: ctx.header(), hash: hashAll(ctx.kv) })),
      HashKV: admin((req: { revision?: string }) => {
        const r = hashKv(ctx.kv.store, Number(req.revision ?? 0));
        return { header: ctx.header(), hash: r.hash, compact_revision: r.compactRevision };
      }),
      MoveLeader: admin((req: { targetID?: string }) => moveLeader(ctx, String(req.targetID ?? '0'))),
      Snapshot: (call: grpc.ServerWritableStream<unknown, unknown>) => {
        ctx.requireAdmin(call.metadata).then(() => streamSnapshot(ctx, call), (err: unknown) => failStream(call, toError(err)));
      },
    },
  };
}

function status(ctx: MemberContext, quota: BackendQuota): Record<string, unknown> {
  const s = ctx.node.status();
  return {
    header: ctx.header(),
    version: ETCD_API_VERSION,
    dbSize: quota.size(),
    dbSizeInUse: quota.inUse(),
    leader: memberIdOf(ctx, s.leader),
    raftIndex: s.commitIndex,
    raftTerm: s.term,
    raftAppliedIndex: s.appliedIndex,
    errors: quota.alarms().map((a) => `memberID:${a.memberId} alarm:${a.alarm} `),
    isLearner: s.membership.learners.includes(nodeId(ctx.selfNodeId)),
  };
}

/**
 * Under a Byzantine protocol an ACTIVATE or DEACTIVATE by an administrator (auth on) is the user's
 * act and takes effect at once, as in etcd; without one (auth off) nobody vouches for the call, and
 * a lying member could order the same on its own, so it is this member's vote, and the alarm is
 * raised or cleared once f + 1 members voted alike (KvStateMachine.applyCluster): with auth off,
 * disarm at f + 1 members. The answer lists what the call changed: nothing while votes fall short.
 */
async function alarm(ctx: MemberContext, quota: BackendQuota, req: PbAlarmRequest, md: grpc.Metadata): Promise<Record<string, unknown>> {
  const pb = (list: readonly { memberId: string; alarm: string }[]) => ({ header: ctx.header(), alarms: list.map((a) => ({ memberID: a.memberId, alarm: a.alarm })) });
  const action = req.action ?? 'GET';
  if (action === 'GET') {
    const wanted = req.alarm ?? 'NONE';
    return pb(quota.alarms().filter((a) => wanted === 'NONE' || a.alarm === wanted));
  }
  const kind = req.alarm;
  if (kind !== 'NOSPACE' && kind !== 'CORRUPT') return pb([]);
  const memberId = String(req.memberID ?? '0');
  const existed = quota.alarms().some((a) => a.memberId === memberId && a.alarm === kind);
  // An alarm names a member: one the caller made up would be an alarm nobody can trace. Disarming
  // one that is not raised changes nothing and answers an empty list, as etcd does (a removed
  // member's alarm that is still raised may be disarmed).
  if (action === 'DEACTIVATE' && !existed) return pb([]);
  if (!currentMembers(ctx).some((m) => m.id === memberId) && action !== 'DEACTIVATE') throw CLUSTER_ERRORS.notFound();
  const outcome = await ctx.proposeAs(md, { op: 'alarm', action: action === 'ACTIVATE' ? 'activate' : 'deactivate', memberId, alarm: kind as AlarmKind });
  if (!outcome.ok) throw kvError(outcome.error);
  const raised = ctx.kv.cluster.hasAlarmOn(memberId, kind);
  if (raised !== (action === 'ACTIVATE')) {
    ctx.logger('info', `alarm ${action === 'ACTIVATE' ? 'raised' : 'disarmed'} as this member's vote; it takes effect once f + 1 members voted alike (or an administrator asks, with auth on)`,
      { memberId, alarm: kind, quorum: ctx.kv.leaseExpiryQuorum });
    return pb([]);
  }
  if (action === 'ACTIVATE') return pb([{ memberId, alarm: kind }]);
  if (existed) ctx.logger('info', 'alarm disarmed', { memberId, alarm: kind });
  return pb(existed ? [{ memberId, alarm: kind }] : []);
}

/** The snapshot file's body: an envelope around the state machine snapshot. */
export function encodeSnapshotBody(stateMachineSnapshot: Uint8Array, revision: number): Buffer {
  const envelope = pack({ magic: SNAPSHOT_FILE_MAGIC, version: SNAPSHOT_FILE_VERSION, revision, stateMachine: stateMachineSnapshot });
  const used = BODY_MAGIC.length + 4 + envelope.byteLength;
  const body = Buffer.alloc(Math.ceil(used / SNAPSHOT_BODY_ALIGN_BYTES) * SNAPSHOT_BODY_ALIGN_BYTES);
  BODY_MAGIC.copy(body, 0);
  body.writeUInt32BE(envelope.byteLength, BODY_MAGIC.length);
  body.set(envelope, BODY_MAGIC.length + 4);
  return body;
}

/** Check a snapshot file's trailing SHA-256 and return the state machine snapshot inside. */
export function decodeSnapshotFile(file: Buffer): { stateMachine: Uint8Array; revision: number } {
  if (file.length <= SHA256_BYTES) throw new QuorateError('CORRUPT', 'snapshot file is too short');
  const body = file.subarray(0, file.length - SHA256_BYTES);
  const expected = file.subarray(file.length - SHA256_BYTES);
  if (!createHash('sha256').update(body).digest().equals(expected)) {
    throw new QuorateError('CORRUPT', 'snapshot file checksum mismatch (the file is damaged or not a quorate snapshot)');
  }
  let env: { magic?: unknown; version?: unknown; revision?: unknown; stateMachine?: unknown };
  try {
    if (!body.subarray(0, BODY_MAGIC.length).equals(BODY_MAGIC)) throw new Error('no magic');
    const length = body.readUInt32BE(BODY_MAGIC.length);
    env = unpack(body.subarray(BODY_MAGIC.length + 4, BODY_MAGIC.length + 4 + length)) as typeof env;
  } catch {
    throw new QuorateError('CORRUPT', 'snapshot file body cannot be decoded');
  }
  if (env.magic !== SNAPSHOT_FILE_MAGIC || env.version !== SNAPSHOT_FILE_VERSION || !(env.stateMachine instanceof Uint8Array)) {
    throw new QuorateError('CORRUPT', `not a quorate snapshot (version ${SNAPSHOT_FILE_VERSION})`);
  }
  return { stateMachine: env.stateMachine, revision: Number(env.revision) };
}

function streamSnapshot(ctx: MemberContext, call: grpc.ServerWritableStream<unknown, unknown>): void {
  let body: Buffer;
  try {
    body = encodeSnapshotBody(ctx.kv.clientSnapshot(), ctx.kv.store.revision);
  } catch (err) {
    failStream(call, toGrpcError(err));
    return;
  }
  const file = Buffer.concat([body, createHash('sha256').update(body).digest()]);
  const header = ctx.header();
  ctx.logger('info', 'sending snapshot to a client', { bytes: file.length });
  let offset = 0;
  const writeMore = (): void => {
    while (offset < file.length) {
      const chunk = file.subarray(offset, Math.min(offset + SNAPSHOT_CHUNK_BYTES, file.length));
      offset += chunk.length;
      const ok = call.write({ header, remaining_bytes: file.length - offset, blob: chunk });
      if (!ok) {
        call.once('drain', writeMore);
        return;
      }
    }
    call.end();
  };
  call.on('cancelled', () => { offset = file.length; });
  writeMore();
}

async function moveLeader(ctx: MemberContext, targetId: string): Promise<Record<string, unknown>> {
  if (!ctx.node.isLeader()) throw MAINTENANCE_ERRORS.notLeader();
  const target = currentMembers(ctx).find((m) => m.id === targetId);
  if (target === undefined || target.isLearner) throw MAINTENANCE_ERRORS.badLeaderTransferee();
  if (target.nodeId === ctx.selfNodeId) return { header: ctx.header() };
  ctx.node.transferLeadership(nodeId(target.nodeId));
  const deadline = Date.now() + MOVE_LEADER_TIMEOUT_MS;
  while (ctx.node.status().leader !== target.nodeId) {
    if (Date.now() > deadline || !ctx.node.running) throw MAINTENANCE_ERRORS.leaderTransferTimeout();
    await new Promise((r) => setTimeout(r, 20));
  }
  ctx.logger('info', 'moved leadership', { to: target.nodeId });
  return { header: ctx.header() };
}

/**
 * End a server stream with an error status. (grpc-js sends the status from the stream's 'error'
 * handler; destroy() would close the stream without one, and the client would wait for its deadline.)
 */
function failStream(call: grpc.ServerWritableStream<unknown, unknown>, err: grpc.ServiceError): void {
  call.emit('error', err);
}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number' && (err as Partial<grpc.ServiceError>).metadata !== undefined;
}

/**
 * etcd's server-side lock (v3lock) and the key-waiting both it and elections rest on.
 *
 * A holder is a key `<name>/<lease in hex>` attached to the holder's lease; whoever's key has
 * the lowest create revision under the name holds the lock, and that create revision is the
 * fencing token (see docs/locks.md: a lease-based lock alone is unsafe under pauses; a resource
 * that checks the token is not). A waiter waits for the deletion of every key created before
 * its own, one at a time (etcd's waitDeletes), watching this member's applied state.
 */
import * as grpc from '@grpc/grpc-js';
import { leaseIdHex, NO_LEASE, type LeaseId, type MvccEvent, type RangeResult, type TxnRequest, type TxnResult } from '../statemachine/mvcc/index.js';
import { grpcError, kvError, toGrpcError } from './grpc-errors.js';
import { kvRead, kvWrite, op, prefixEnd, type ServiceContext } from './service-context.js';
import { unaryHandler } from './unary.js';
import { wireLeaseId, type WireInt } from './wire-ints.js';

const EMPTY = Buffer.alloc(0);

/** The key of a holder/candidate: `<name>/<lease id in lower-case hex>` (as etcd's concurrency package). */
export function ownerKey(name: Buffer, lease: LeaseId): Buffer {
  return Buffer.concat([name, Buffer.from(`/${leaseIdHex(lease)}`)]);
}

/** Put `key` under `lease` unless it exists; answers the key's create revision and whether it was created now. */
export async function claimKey(ctx: ServiceContext, key: Buffer, value: Buffer, lease: LeaseId): Promise<{ createRevision: number; created: boolean; value: Buffer }> {
  const txn: TxnRequest = {
    op: 'txn',
    compare: [{ result: 'EQUAL', target: 'CREATE', key, rangeEnd: EMPTY, operand: 0 }],
    success: [op.put(key, value, lease)],
    failure: [op.get(key)],
  };
  const r = (await kvWrite(ctx, txn)) as TxnResult;
  if (r.succeeded) return { createRevision: r.revision, created: true, value };
  const existing = (r.responses[0] as RangeResult).kvs[0];
  if (existing === undefined) throw grpcError(grpc.status.UNAVAILABLE, 'etcdserver: lock key vanished during claim; retry');
  return { createRevision: existing.createRevision, created: false, value: Buffer.from(existing.value) };
}

/** The next events after `afterRevision` for keys in [key, rangeEnd) on this member (empty if history was compacted). */
export function nextEvents(ctx: ServiceContext, key: Buffer, rangeEnd: Buffer, afterRevision: number, signal: AbortSignal): Promise<readonly MvccEvent[]> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(cancelledError());
      return;
    }
    let done = false;
    const finish = (): void => {
      done = true;
      watcher.cancel();
      signal.removeEventListener('abort', onAbort);
    };
    const drain = (): void => {
      if (done) return;
      for (;;) {
        const d = watcher.take();
        if (d === null) return;
        if (d.kind === 'compacted' || d.events.length > 0) {
          finish();
          resolve(d.kind === 'compacted' ? [] : d.events);
          return;
        }
      }
    };
    const onAbort = (): void => {
      if (done) return;
      finish();
      reject(cancelledError());
    };
    const watcher = ctx.hub.watch({ key, rangeEnd, startRevision: afterRevision + 1, noPut: false, noDelete: false }, () => setImmediate(drain));
    signal.addEventListener('abort', onAbort);
    setImmediate(drain);
  });
}

/**
 * Wait until no key under `prefix` has a create revision below `myRevision`. Throws
 * `sessionExpired` if the waiter's own key disappears meanwhile (its lease ran out).
 */
export async function waitDeletes(ctx: ServiceContext, prefix: Buffer, ownKey: Buffer, myRevision: number, signal: AbortSignal, sessionExpired: () => Error): Promise<void> {
  await ctx.readBarrier();
  const end = prefixEnd(prefix);
  for (;;) {
    if (signal.aborted) throw cancelledError();
    const revision = ctx.kv.store.revision;
    const own = localRange(ctx, op.get(ownKey));
    if (own.kvs[0]?.createRevision !== myRevision) throw sessionExpired();
    const older = localRange(ctx, op.get(prefix, { rangeEnd: end, maxCreateRevision: myRevision - 1, sortTarget: 'CREATE', sortOrder: 'DESCEND', limit: 1 }));
    if (older.kvs.length === 0) return;
    await nextEvents(ctx, prefix, end, revision, signal);
  }
}

export function localRange(ctx: ServiceContext, request: ReturnType<typeof op.get>): RangeResult {
  const outcome = ctx.kv.execute(request);
  if (!outcome.ok) throw kvError(outcome.error);
  return outcome.result as RangeResult;
}

export function cancelledError(): grpc.ServiceError {
  return grpcError(grpc.status.CANCELLED, 'context canceled');
}

/** An AbortSignal that fires when the client goes away. */
export function callSignal(call: { on(event: 'cancelled', listener: () => void): unknown }): AbortSignal {
  const controller = new AbortController();
  call.on('cancelled', () => controller.abort());
  return controller.signal;
}

/**
 * A unary handler that runs as the caller: `handler` gets the service context acting for the
 * user the call's token names (so its writes are checked against that user's permissions).
 */
export function respondAs<Req>(
  ctx: ServiceContext,
  handler: (caller: ServiceContext, req: Req, signal: AbortSignal) => Promise<Record<string, unknown>>,
) {
  return unaryHandler<Req>((req, metadata, call) => {
    const signal = callSignal(call); // now, so that a cancel while the caller is resolved is not missed
    return ctx.asCaller(metadata).then((caller) => handler(caller, req, signal));
  }, serviceError);
}

export function serviceError(err: unknown): grpc.ServiceError {
  if (err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number' && (err as Partial<grpc.ServiceError>).metadata !== undefined) {
    return err as grpc.ServiceError;
  }
  return toGrpcError(err);
}

export function lockHandlers(service: ServiceContext): grpc.UntypedServiceImplementation {
  return {
    Lock: respondAs(service, async (ctx, req: { name?: Buffer; lease?: WireInt }, signal) => {
      const name = req.name ?? EMPTY;
      const lease = wireLeaseId(req.lease);
      if (lease === NO_LEASE) throw kvError('lease-not-found');
      const key = ownerKey(name, lease);
      const claim = await claimKey(ctx, key, EMPTY, lease);
      await awaitTurn(ctx, Buffer.concat([name, Buffer.from('/')]), key, lease, claim, signal,
        () => grpcError(grpc.status.UNKNOWN, 'mutex: session is expired'));
      return { header: ctx.header(ctx.kv.store.revision), key };
    }),
    Unlock: respondAs(service, async (ctx, req: { key?: Buffer }) => {
      const r = await kvWrite(ctx, op.del(req.key ?? EMPTY));
      return { header: ctx.header(r.revision) };
    }),
  };
}

export { kvRead };

/** Trailing metadata of a Lock or Campaign whose key was left behind (see awaitTurn): the key's bytes. */
export const LEFT_BEHIND_KEY_METADATA = 'quorate-left-behind-key-bin';
/** ... and its lease, in hex. */
export const LEFT_BEHIND_LEASE_METADATA = 'quorate-left-behind-lease';

/**
 * Wait until `key` (claimed under `lease`, see claimKey) is the oldest under `prefix`. If the wait
 * fails (the caller went away, its lease ran out, the member stopped) a key this call created is
 * deleted, so that it blocks nobody.
 *
 * If that delete does not commit either, the key stays until its lease ends, as in etcd (its
 * v3lock and v3election run the concurrency package, which deletes the key on a failed wait and
 * ignores the delete's error; the server never revokes the caller's lease, whose keepalives are
 * the caller's). While the lease is kept alive the key keeps its place in line and will hold the
 * lock or the leadership when its turn comes, so the failure is never silent here: it is logged
 * with the key and lease (releaseClaim), counted in etcd_server_proposals_failed_total (the
 * server counts every failed proposal), and a caller still waiting for its answer gets its error,
 * in etcd's exact words, with the key it must Unlock (or whose lease it must revoke) in the
 * trailing metadata (LEFT_BEHIND_KEY_METADATA, LEFT_BEHIND_LEASE_METADATA).
 */
export async function awaitTurn(
  ctx: ServiceContext, prefix: Buffer, key: Buffer, lease: LeaseId, claim: { readonly createRevision: number; readonly created: boolean },
  signal: AbortSignal, sessionExpired: () => Error,
): Promise<void> {
  try {
    await waitDeletes(ctx, prefix, key, claim.createRevision, signal, sessionExpired);
  } catch (err) {
    if (!claim.created) throw err;
    const left = await releaseClaim(ctx, key, lease, err);
    if (left === null || signal.aborted) throw err;
    // etcd's own message, unchanged: clients classify errors by its exact text (Go clientv3's
    // rpctypes.Error maps "etcdserver: server stopped" and the like only on an exact match). The
    // key left behind goes in the trailing metadata, besides the log line.
    const answer = serviceError(err);
    const told = grpcError(answer.code, answer.details);
    told.metadata.merge(answer.metadata);
    told.metadata.set(LEFT_BEHIND_KEY_METADATA, Buffer.from(key));
    told.metadata.set(LEFT_BEHIND_LEASE_METADATA, leaseIdHex(lease));
    throw told;
  }
}

/**
 * Delete a claim its caller gave up on (`why`). Answers null once deleted, else the delete's
 * error, logged: the key stays until its lease ends (it is always attached to one).
 */
async function releaseClaim(ctx: ServiceContext, key: Buffer, lease: LeaseId, why: unknown): Promise<Error | null> {
  try {
    await kvWrite(ctx, op.del(key));
    return null;
  } catch (err) {
    ctx.logger('warn', 'an abandoned lock or election key was not deleted; it stays until it is unlocked or its lease ends', {
      key: key.toString('utf8'), lease: leaseIdHex(lease), gaveUpOn: (why as Error).message, error: (err as Error).message,
    });
    return err as Error;
  }
}

/**
 * etcd's server-side election (v3election): candidates are keys `<name>/<lease in hex>`; the
 * one with the lowest create revision leads. Campaign waits for leadership, Proclaim changes
 * the leader's value (only while the caller still leads: compared on the key's create
 * revision), Leader reads the current leader, Observe streams each new leader and value, and
 * Resign gives leadership up.
 */
import * as grpc from '@grpc/grpc-js';
import { NO_LEASE, type KeyValue, type TxnResult } from '../statemachine/mvcc/index.js';
import { pbKeyValue } from './convert.js';
import { grpcError, kvError } from './grpc-errors.js';
import { awaitTurn, callSignal, claimKey, localRange, nextEvents, ownerKey, respondAs, serviceError } from './lock-service.js';
import { kvWrite, op, prefixEnd, type ServiceContext } from './service-context.js';
import { wireLeaseId, wireNumber, type WireInt } from './wire-ints.js';

const EMPTY = Buffer.alloc(0);

interface PbLeaderKey { name?: Buffer; key?: Buffer; rev?: WireInt; lease?: WireInt }

const notLeader = () => grpcError(grpc.status.UNKNOWN, 'election: not leader');
const noLeader = () => grpcError(grpc.status.UNKNOWN, 'election: no leader');
const missingLeader = () => grpcError(grpc.status.UNKNOWN, '"leader" field must be provided');

function electionPrefix(name: Buffer): Buffer {
  return Buffer.concat([name, Buffer.from('/')]);
}

/** The current leader's key of an election on this member's state, or null. */
function currentLeader(ctx: ServiceContext, prefix: Buffer): KeyValue | null {
  return localRange(ctx, op.get(prefix, { rangeEnd: prefixEnd(prefix), sortTarget: 'CREATE', sortOrder: 'ASCEND', limit: 1 })).kvs[0] ?? null;
}

async function proclaim(ctx: ServiceContext, leader: PbLeaderKey, value: Buffer): Promise<number> {
  const key = leader.key ?? EMPTY;
  const r = (await kvWrite(ctx, {
    op: 'txn',
    compare: [{ result: 'EQUAL', target: 'CREATE', key, rangeEnd: EMPTY, operand: wireNumber(leader.rev) }],
    success: [op.put(key, value, wireLeaseId(leader.lease))],
    failure: [],
  })) as TxnResult;
  if (!r.succeeded) throw notLeader();
  return r.revision;
}

export function electionHandlers(service: ServiceContext): grpc.UntypedServiceImplementation {
  return {
    Campaign: respondAs(service, async (ctx, req: { name?: Buffer; lease?: WireInt; value?: Buffer }, signal) => {
      const name = req.name ?? EMPTY;
      const lease = wireLeaseId(req.lease);
      const value = req.value ?? EMPTY;
      if (lease === NO_LEASE) throw kvError('lease-not-found');
      const key = ownerKey(name, lease);
      const claim = await claimKey(ctx, key, value, lease);
      const leader = { name, key, rev: claim.createRevision, lease };
      // Campaigning again under the same lease keeps the candidacy and updates its value.
      if (!claim.created && !claim.value.equals(value)) await proclaim(ctx, leader, value);
      await awaitTurn(ctx, electionPrefix(name), key, lease, claim, signal, () => kvError('lease-not-found'));
      return { header: ctx.header(ctx.kv.store.revision), leader };
    }),

    Proclaim: respondAs(service, async (ctx, req: { leader?: PbLeaderKey | null; value?: Buffer }) => {
      if (req.leader == null) throw missingLeader();
      const revision = await proclaim(ctx, req.leader, req.value ?? EMPTY);
      return { header: ctx.header(revision) };
    }),

    Leader: respondAs(service, async (ctx, req: { name?: Buffer }) => {
      await ctx.readBarrier();
      const prefix = electionPrefix(req.name ?? EMPTY);
      // The leader's key and value are a read of the election's keys: the caller must be allowed it.
      const denied = ctx.checkRead(prefix, prefixEnd(prefix));
      if (denied !== null) throw denied;
      const leader = currentLeader(ctx, prefix);
      if (leader === null) throw noLeader();
      return { header: ctx.header(ctx.kv.store.revision), kv: pbKeyValue(leader) };
    }),

    Resign: respondAs(service, async (ctx, req: { leader?: PbLeaderKey | null }) => {
      if (req.leader == null) throw missingLeader();
      const key = req.leader.key ?? EMPTY;
      const r = await kvWrite(ctx, {
        op: 'txn',
        compare: [{ result: 'EQUAL', target: 'CREATE', key, rangeEnd: EMPTY, operand: wireNumber(req.leader.rev) }],
        success: [op.del(key)],
        failure: [],
      });
      return { header: ctx.header(r.revision) };
    }),

    Observe: (call: grpc.ServerWritableStream<{ name?: Buffer }, unknown>) => {
      const ctx = service;
      const signal = callSignal(call);
      const prefix = electionPrefix(call.request.name ?? EMPTY);
      const end = prefixEnd(prefix);
      const run = async (): Promise<void> => {
        const denied = (await ctx.asCaller(call.metadata)).checkRead(prefix, end);
        if (denied !== null) throw denied;
        await ctx.readBarrier();
        let lastKey: Buffer | null = null;
        let lastMod = 0;
        while (!signal.aborted) {
          const revision = ctx.kv.store.revision;
          const leader = currentLeader(ctx, prefix);
          if (leader !== null && (lastKey === null || !lastKey.equals(leader.key) || leader.modRevision !== lastMod)) {
            lastKey = Buffer.from(leader.key);
            lastMod = leader.modRevision;
            if (!call.write({ header: ctx.header(revision), kv: pbKeyValue(leader) })) {
              await new Promise<void>((resolve) => {
                call.once('drain', resolve);
                signal.addEventListener('abort', () => resolve(), { once: true });
              });
            }
          }
          await nextEvents(ctx, prefix, end, revision, signal);
        }
      };
      run().then(() => call.end(), (err: unknown) => {
        if (!signal.aborted) call.emit('error', serviceError(err));
      });
    },
  };
}

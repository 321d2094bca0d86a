/**
 * etcd's Lease service, and the clock that times leases on this member.
 *
 * Time is never part of the replicated state. Each member keeps a deadline per lease from its
 * own monotonic clock, restarted whenever it applies a grant or a keep-alive (a keep-alive is
 * a command in the log, so every member restarts the clock). Only the leader acts on its
 * deadlines: it proposes `lease-expire` with the renewal count it saw, and the command is void
 * if a keep-alive was applied in between. (Under a Byzantine protocol every member acts on its
 * deadlines, and a lease expires once f + 1 members proposed it: one liar cannot break a lock.)
 * A member that becomes leader first gives every lease
 * a full TTL from that moment (as etcd's lessor does on promotion), so a failover never expires
 * a live lease early; it can only make a lease last longer (by up to one TTL plus the election).
 */
import { randomInt } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { MAX_LEASE_TTL_SECONDS, NO_LEASE, type LeaseEvent, type LeaseId, type LeaseRequest, type LeaseResult } from '../statemachine/mvcc/index.js';
import { kvError, toGrpcError } from './grpc-errors.js';
import type { ServiceContext } from './service-context.js';
import { unaryHandler } from './unary.js';
import { wireLeaseId, wireNumber, type WireInt } from './wire-ints.js';

export interface LeaseLimits {
  /** Shortest TTL granted, in seconds; shorter requests get this (etcd: 1.5 election timeouts, rounded up). */
  readonly minTtlSeconds: number;
  /** How often the leader looks for leases whose time is up. */
  readonly checkIntervalMs: number;
  /** Expiry proposals the leader has in flight at once; the rest wait for the next check. */
  readonly maxExpiriesInFlight: number;
  /** Keep-alives one stream may have waiting for the log; the stream stops reading beyond it. */
  readonly maxKeepAlivesInFlightPerStream: number;
}

export const DEFAULT_LEASE_LIMITS: LeaseLimits = {
  minTtlSeconds: 2,
  checkIntervalMs: 250,
  maxExpiriesInFlight: 64,
  maxKeepAlivesInFlightPerStream: 64,
};

/**
 * Ids the server chooses are below this. A client may choose any non-zero int64 (as etcd, whose
 * own ids use 63 bits); quorate's stay where a client that reads int64 as a double is exact too.
 */
const CHOSEN_ID_BOUND = 2 ** 48;
const GRANT_ATTEMPTS = 5;
/** A range end that names one key. */
const EMPTY_KEY = new Uint8Array(0);

interface Deadline {
  deadlineMs: number;
  ttlSeconds: number;
  renewals: number;
}

/** The member-local clock of leases, and (on the leader) the expiry loop. */
export class LeaseKeeper {
  private readonly deadlines = new Map<LeaseId, Deadline>();
  private readonly expiring = new Set<LeaseId>();
  /**
   * Keep-alives per lease: at most one in the log and one queued behind it. A keep-alive that
   * arrives while one is in flight waits for the queued one (which starts after the in-flight
   * one is answered) rather than sharing the in-flight answer: the lease clock must restart no
   * earlier than the keep-alive was received.
   */
  private readonly renewing = new Map<LeaseId, { inFlight: Promise<number>; queued: Promise<number> | null }>();
  private wasLeader = false;
  private readonly timer: NodeJS.Timeout;
  private readonly unsubscribeRestore: () => void;
  /** Leases this member's leader loop expired (for tests and status). */
  expired = 0;

  constructor(private readonly ctx: ServiceContext, readonly limits: LeaseLimits) {
    ctx.kv.leases.setListener((e) => this.onLeaseEvent(e));
    // After the state machine has restored its leases too (it restores the store first).
    this.unsubscribeRestore = ctx.kv.store.onRestore(() => setImmediate(() => this.reconcile()));
    this.reconcile();
    this.timer = setInterval(() => this.check(), limits.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.unsubscribeRestore();
    this.ctx.kv.leases.setListener(null);
  }

  /** Seconds left on this member's clock (rounded up), or null for an unknown lease. */
  remainingSeconds(id: LeaseId): number | null {
    const d = this.deadlines.get(id);
    if (d === undefined) return null;
    return Math.max(0, Math.ceil((d.deadlineMs - performance.now()) / 1000));
  }

  /** A keep-alive: the lease's TTL, or 0 when it does not exist. */
  renew(id: LeaseId): Promise<number> {
    const state = this.renewing.get(id);
    if (state === undefined) {
      const fresh = { inFlight: Promise.resolve(0), queued: null as Promise<number> | null };
      this.renewing.set(id, fresh);
      fresh.inFlight = this.track(id, fresh, this.proposeRenew(id));
      return fresh.inFlight;
    }
    if (state.queued === null) {
      const ignore = (): void => undefined;
      state.queued = state.inFlight.then(ignore, ignore).then(() => this.proposeRenew(id));
    }
    return state.queued;
  }

  private track(id: LeaseId, state: { inFlight: Promise<number>; queued: Promise<number> | null }, p: Promise<number>): Promise<number> {
    const done = (): void => {
      if (state.queued !== null) {
        const queued = state.queued;
        state.queued = null;
        state.inFlight = this.track(id, state, queued);
      } else if (this.renewing.get(id) === state) {
        this.renewing.delete(id);
      }
    };
    p.then(done, done);
    return p;
  }

  private async proposeRenew(id: LeaseId): Promise<number> {
    const outcome = await this.ctx.propose({ op: 'lease-renew', id });
    if (outcome.ok) return (outcome.result as LeaseResult).ttlSeconds;
    if (outcome.error === 'lease-not-found') return 0;
    throw kvError(outcome.error);
  }

  private onLeaseEvent(e: LeaseEvent): void {
    if (e.kind === 'removed') {
      this.deadlines.delete(e.id);
      return;
    }
    this.deadlines.set(e.id, { deadlineMs: performance.now() + e.ttlSeconds * 1000, ttlSeconds: e.ttlSeconds, renewals: e.renewals });
  }

  /** Make the clock list exactly the leases of the state machine (after a snapshot restore). */
  private reconcile(): void {
    const now = performance.now();
    const live = new Set<LeaseId>();
    for (const l of this.ctx.kv.leases.entries()) {
      live.add(l.id);
      const d = this.deadlines.get(l.id);
      if (d === undefined || d.renewals !== l.renewals) {
        this.deadlines.set(l.id, { deadlineMs: now + l.ttlSeconds * 1000, ttlSeconds: l.ttlSeconds, renewals: l.renewals });
      }
    }
    for (const id of this.deadlines.keys()) if (!live.has(id)) this.deadlines.delete(id);
  }

  private check(): void {
    if (this.ctx.isStopped()) return;
    // Under a Byzantine protocol every member times leases: f + 1 must propose an expiry.
    const leading = this.ctx.kv.leaseExpiryQuorum > 1 || this.ctx.node.isLeader();
    if (leading && !this.wasLeader) {
      // Promotion: this member's deadlines were never authoritative; give every lease a full TTL.
      this.reconcile();
      const now = performance.now();
      for (const d of this.deadlines.values()) d.deadlineMs = now + d.ttlSeconds * 1000;
      this.ctx.logger('info', 'leader: lease clocks restarted', { leases: this.deadlines.size });
    }
    this.wasLeader = leading;
    if (!leading) return;
    if (this.deadlines.size !== this.ctx.kv.leases.size) this.reconcile();
    const now = performance.now();
    for (const [id, d] of this.deadlines) {
      if (this.expiring.size >= this.limits.maxExpiriesInFlight) break;
      if (d.deadlineMs > now || this.expiring.has(id)) continue;
      this.expiring.add(id);
      const request: LeaseRequest = { op: 'lease-expire', id, renewals: d.renewals };
      this.ctx.propose(request).then(
        (outcome) => {
          if (outcome.ok && (outcome.result as LeaseResult).applied) {
            this.expired++;
            this.ctx.logger('info', 'lease expired', { lease: id, ttlSeconds: d.ttlSeconds });
          }
        },
        (err: unknown) => this.ctx.logger('debug', 'lease expiry not committed; will retry', { lease: id, error: (err as Error).message }),
      ).finally(() => this.expiring.delete(id));
    }
  }
}

interface PbGrant { TTL?: WireInt; ID?: WireInt }

export function leaseHandlers(ctx: ServiceContext, keeper: LeaseKeeper): grpc.UntypedServiceImplementation {
  const unary = <Req>(handler: (req: Req, metadata: grpc.Metadata) => Promise<Record<string, unknown>>) =>
    unaryHandler(handler, asServiceError);

  return {
    LeaseGrant: unary(async (req: PbGrant) => {
      const requested = Math.trunc(wireNumber(req.TTL));
      if (requested > MAX_LEASE_TTL_SECONDS) throw kvError('lease-ttl-too-large');
      const ttlSeconds = Math.max(requested, keeper.limits.minTtlSeconds);
      // As etcd: any int64 but 0 (which asks the server to choose); a taken one is 'lease already exists'.
      const chosen = wireLeaseId(req.ID);
      for (let attempt = 1; ; attempt++) {
        const id = chosen !== NO_LEASE ? chosen : String(randomInt(1, CHOSEN_ID_BOUND));
        const outcome = await ctx.propose({ op: 'lease-grant', id, ttlSeconds });
        if (outcome.ok) {
          const r = outcome.result as LeaseResult;
          return { header: ctx.header(r.revision), ID: id, TTL: ttlSeconds, error: '' };
        }
        // A server-chosen id that happens to be taken: choose again.
        if (outcome.error === 'lease-exists' && chosen === NO_LEASE && attempt < GRANT_ATTEMPTS) continue;
        throw kvError(outcome.error);
      }
    }),

    LeaseRevoke: unary(async (req: { ID?: WireInt }, metadata) => {
      // Revoking deletes the attached keys: it runs as the caller, who needs write permission on them.
      const caller = await ctx.asCaller(metadata);
      const outcome = await caller.propose({ op: 'lease-revoke', id: wireLeaseId(req.ID) });
      if (!outcome.ok) throw kvError(outcome.error);
      return { header: ctx.header((outcome.result as LeaseResult).revision) };
    }),

    LeaseTimeToLive: unary(async (req: { ID?: WireInt; keys?: boolean }, metadata) => {
      const caller = req.keys === true ? await ctx.asCaller(metadata) : ctx;
      await ctx.readBarrier();
      const id = wireLeaseId(req.ID);
      const lease = ctx.kv.leases.get(id);
      const header = ctx.header(ctx.kv.store.revision);
      // As etcd: an unknown lease is not an error here, it has TTL -1.
      if (lease === null) return { header, ID: id, TTL: -1, grantedTTL: 0, keys: [] };
      // Key names are a read: with auth on, the caller must be allowed to read every attached key
      // (etcd 3.4.26 / 3.5.9, CVE-2023-32082).
      if (req.keys === true) {
        for (const key of lease.keys) {
          const denied = caller.checkRead(key, EMPTY_KEY);
          if (denied !== null) throw denied;
        }
      }
      return { header, ID: id, TTL: keeper.remainingSeconds(id) ?? lease.ttlSeconds, grantedTTL: lease.ttlSeconds, keys: req.keys === true ? lease.keys : [] };
    }),

    LeaseLeases: unary(async () => {
      await ctx.readBarrier();
      return { header: ctx.header(ctx.kv.store.revision), leases: ctx.kv.leases.ids().map((ID) => ({ ID })) };
    }),

    LeaseKeepAlive: (call: grpc.ServerDuplexStream<{ ID?: WireInt }, unknown>) => {
      let inFlight = 0;
      let paused = false;
      let closed = false;
      let ended = false;
      const finishIfDone = () => {
        if (ended && inFlight === 0 && !closed) {
          closed = true;
          call.end();
        }
      };
      call.on('data', (req: { ID?: WireInt }) => {
        if (closed) return;
        let id: LeaseId;
        try {
          id = wireLeaseId(req.ID);
        } catch (err) {
          closed = true;
          call.emit('error', asServiceError(err));
          return;
        }
        inFlight++;
        if (inFlight >= keeper.limits.maxKeepAlivesInFlightPerStream && !paused) {
          paused = true;
          call.pause();
        }
        keeper.renew(id).then(
          (ttl) => {
            if (!closed) call.write({ header: ctx.header(ctx.kv.store.revision), ID: id, TTL: ttl });
          },
          (err: unknown) => {
            if (closed) return;
            closed = true;
            call.emit('error', asServiceError(err));
          },
        ).finally(() => {
          inFlight--;
          if (paused && inFlight < keeper.limits.maxKeepAlivesInFlightPerStream) {
            paused = false;
            call.resume();
          }
          finishIfDone();
        });
      });
      call.on('end', () => { ended = true; finishIfDone(); });
      call.on('cancelled', () => { closed = true; });
      call.on('error', () => { closed = true; });
    },
  };
}

function asServiceError(err: unknown): grpc.ServiceError {
  if (err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number' && (err as Partial<grpc.ServiceError>).metadata !== undefined) {
    return err as grpc.ServiceError;
  }
  return toGrpcError(err);
}

/**
 * Leases, as replicated state: which leases exist, their granted TTL, and the keys attached to
 * each. There is no clock here. When a lease runs out is decided by the leader alone (see
 * server/lease-service.ts), which proposes an `lease-expire` command; every replica applies it
 * the same way. A lease renewed after the leader decided to expire it survives: the expire
 * command names how many renewals the leader had seen, and is void if there were more since.
 */
import { assert } from '../../core/assert.js';
import { keyBytes } from './key-index.js';
import { KvError } from './kv-errors.js';
import { isLeaseId, NO_LEASE, type LeaseId } from './lease-id.js';
import type { LeaseAttachments, MvccStore } from './store.js';

/** Most leases that may exist at once; a grant beyond it is refused (deterministically). */
export const MAX_LEASES = 100_000;
/** Longest TTL a lease may be granted, in seconds (etcd's MaxLeaseTTL). */
export const MAX_LEASE_TTL_SECONDS = 9_000_000_000;

export interface LeaseGrant { readonly op: 'lease-grant'; readonly id: LeaseId; readonly ttlSeconds: number }
export interface LeaseRevoke { readonly op: 'lease-revoke'; readonly id: LeaseId }
/** A keep-alive: the lease's clock restarts on the leader when this is applied there. */
export interface LeaseRenew { readonly op: 'lease-renew'; readonly id: LeaseId }
/** The leader's decision that a lease ran out; void if the lease was renewed `renewals` times no more. */
export interface LeaseExpire { readonly op: 'lease-expire'; readonly id: LeaseId; readonly renewals: number }

export type LeaseRequest = LeaseGrant | LeaseRevoke | LeaseRenew | LeaseExpire;

export interface LeaseResult {
  readonly op: LeaseRequest['op'];
  readonly revision: number;
  readonly id: LeaseId;
  readonly ttlSeconds: number;
  /** For `lease-expire`: false when a renewal came first and the lease lives on. */
  readonly applied: boolean;
}

/** What changed, for the member-local clock that times leases (not replicated). */
export interface LeaseEvent {
  readonly kind: 'granted' | 'renewed' | 'removed';
  readonly id: LeaseId;
  readonly ttlSeconds: number;
  readonly renewals: number;
}

export function isLeaseRequest(req: { readonly op: string }): req is LeaseRequest {
  return req.op === 'lease-grant' || req.op === 'lease-revoke' || req.op === 'lease-renew' || req.op === 'lease-expire';
}

export function isLeaseResult(res: { readonly op: string }): res is LeaseResult {
  return isLeaseRequest(res);
}

interface Lease {
  readonly id: LeaseId;
  readonly ttlSeconds: number;
  readonly keys: Set<string>;
  renewals: number;
}

export class LeaseTable implements LeaseAttachments {
  private leases = new Map<LeaseId, Lease>();
  private listener: ((e: LeaseEvent) => void) | null = null;

  get size(): number {
    return this.leases.size;
  }

  /** The member-local lease clock listens here. */
  setListener(listener: ((e: LeaseEvent) => void) | null): void {
    this.listener = listener;
  }

  has(id: LeaseId): boolean {
    return this.leases.has(id);
  }

  attach(id: LeaseId, key: string): void {
    const lease = this.leases.get(id);
    assert(lease !== undefined, () => `attach to lease ${id}, which the store checked exists`);
    lease.keys.add(key);
  }

  detach(id: LeaseId, key: string): void {
    this.leases.get(id)?.keys.delete(key);
  }

  /** Granted TTL and attached keys of a lease, or null. */
  get(id: LeaseId): { ttlSeconds: number; keys: Buffer[]; renewals: number } | null {
    const l = this.leases.get(id);
    return l === undefined ? null : { ttlSeconds: l.ttlSeconds, keys: [...l.keys].sort().map(keyBytes), renewals: l.renewals };
  }

  ids(): LeaseId[] {
    return [...this.leases.keys()];
  }

  /** Every lease with its TTL and renewal count, for the member-local clock. */
  entries(): { id: LeaseId; ttlSeconds: number; renewals: number }[] {
    return [...this.leases.values()].map((l) => ({ id: l.id, ttlSeconds: l.ttlSeconds, renewals: l.renewals }));
  }

  /** Apply a replicated lease command. Throws KvError for a refused one; nothing changes then. */
  apply(req: LeaseRequest, store: MvccStore): LeaseResult {
    switch (req.op) {
      case 'lease-grant': {
        if (req.ttlSeconds > MAX_LEASE_TTL_SECONDS) throw new KvError('lease-ttl-too-large');
        if (this.leases.has(req.id)) throw new KvError('lease-exists');
        if (this.leases.size >= MAX_LEASES) throw new KvError('too-many-leases');
        assert(req.id !== NO_LEASE && isLeaseId(req.id), 'a granted lease id is a non-zero int64 (checked when the command was decoded)');
        this.leases.set(req.id, { id: req.id, ttlSeconds: req.ttlSeconds, keys: new Set(), renewals: 0 });
        this.listener?.({ kind: 'granted', id: req.id, ttlSeconds: req.ttlSeconds, renewals: 0 });
        return { op: req.op, revision: store.revision, id: req.id, ttlSeconds: req.ttlSeconds, applied: true };
      }
      case 'lease-renew': {
        const lease = this.leases.get(req.id);
        if (lease === undefined) throw new KvError('lease-not-found');
        lease.renewals++;
        this.listener?.({ kind: 'renewed', id: lease.id, ttlSeconds: lease.ttlSeconds, renewals: lease.renewals });
        return { op: req.op, revision: store.revision, id: req.id, ttlSeconds: lease.ttlSeconds, applied: true };
      }
      case 'lease-revoke':
      case 'lease-expire': {
        const lease = this.leases.get(req.id);
        if (lease === undefined) throw new KvError('lease-not-found');
        if (req.op === 'lease-expire' && lease.renewals !== req.renewals) {
          return { op: req.op, revision: store.revision, id: req.id, ttlSeconds: lease.ttlSeconds, applied: false };
        }
        // Every attached key goes in one revision, so watchers see the revocation atomically.
        const revision = store.deleteKeys([...lease.keys].sort());
        assert(lease.keys.size === 0, 'revoking a lease detaches all its keys');
        this.leases.delete(req.id);
        this.listener?.({ kind: 'removed', id: lease.id, ttlSeconds: lease.ttlSeconds, renewals: lease.renewals });
        return { op: req.op, revision, id: req.id, ttlSeconds: lease.ttlSeconds, applied: true };
      }
    }
  }

  snapshot(): [LeaseId, number, number][] {
    return [...this.leases.values()].map((l) => [l.id, l.ttlSeconds, l.renewals]);
  }

  /** Restore leases; attached keys are rebuilt from the store's latest values. */
  restore(leases: readonly [LeaseId, number, number][], store: MvccStore): void {
    this.restoreAttached(leases, store.leasedKeys());
  }

  /** restore(), given the keys attached to each lease (collected as a snapshot was decoded). */
  restoreAttached(leases: readonly [LeaseId, number, number][], leasedKeys: Iterable<readonly [string, LeaseId]>): void {
    this.leases = new Map(leases.map(([id, ttlSeconds, renewals]) => [id, { id, ttlSeconds, renewals, keys: new Set<string>() }]));
    for (const [key, lease] of leasedKeys) {
      const l = this.leases.get(lease);
      assert(l !== undefined, () => `restored key is attached to lease ${lease}, which the snapshot lists`);
      l.keys.add(key);
    }
  }
}

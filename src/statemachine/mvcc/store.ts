/**
 * The MVCC key-value store with etcd's semantics: one global revision that every write
 * advances by one (a txn's writes share one revision); per key a create revision, a mod
 * revision and a version; reads at any revision back to the last compaction.
 *
 * The store is deterministic and synchronous: replicas that execute the same writes in the
 * same order hold identical stores. Reads may run on any replica; writes only from the log.
 */
import { assert } from '../../core/assert.js';
import { KeyIndex, keyBytes, keyString, type KeyRevision } from './key-index.js';
import { KvError } from './kv-errors.js';
import { compareLeaseIds, NO_LEASE, type LeaseId } from './lease-id.js';
import type {
  Bytes, Compare, CompactRequest, CompactResult, DeleteRangeRequest, DeleteRangeResult, KeyValue, KvRequest, KvResult,
  PutRequest, PutResult, RangeRequest, RangeResult, TxnOp, TxnOpResult, TxnRequest, TxnResult,
} from './requests.js';
import { DEFAULT_KV_LIMITS, validateRequest, type KvLimits } from './validate.js';

/** A write in progress: everything it writes carries revision `main`, numbered by `sub`. */
interface WriteContext {
  readonly main: number;
  sub: number;
  /** What the write changed, in order, for watchers (only while someone listens). */
  readonly events: MvccEvent[];
  /** Every key the write changed, in order, for the change log. */
  readonly keys: string[];
}

/** One change to one key, as watchers see it (etcd's mvccpb.Event). */
export interface MvccEvent {
  readonly type: 'PUT' | 'DELETE';
  /** For a delete: the key with mod revision = the deleting revision, everything else zero. */
  readonly kv: KeyValue;
  readonly prevKv: KeyValue | null;
}

/** The leases keys may be attached to (kept beside the store; see leases.ts). */
export interface LeaseAttachments {
  has(lease: LeaseId): boolean;
  attach(lease: LeaseId, key: string): void;
  detach(lease: LeaseId, key: string): void;
}

/** Called after every write that changed something, with all the changes of that revision. */
export type RevisionListener = (revision: number, events: readonly MvccEvent[]) => void;

export interface StoreState {
  readonly revision: number;
  readonly compactRevision: number;
  readonly keys: Iterable<[string, KeyRevision[]]>;
}

export class MvccStore {
  private index = new KeyIndex();
  /** etcd starts an empty store at revision 1; the first write makes it 2. */
  private currentRevision = 1;
  private compacted = 0;
  /** Leases known to the state machine; without one, any lease a put names does not exist. */
  leases: LeaseAttachments | null = null;
  private readonly listeners = new Set<RevisionListener>();
  private readonly restoreListeners = new Set<() => void>();
  private readonly compactListeners = new Set<() => void>();
  /**
   * The change log: one entry per key changed by each revision since the compaction revision,
   * in revision order (parallel arrays: revision, key). Watchers that fall behind or start in
   * the past replay a range from here at a cost proportional to what they read.
   */
  private changeMain: number[] = [];
  private changeKey: string[] = [];

  constructor(private readonly limits: KvLimits = DEFAULT_KV_LIMITS) {}

  /**
   * Be told of every revision a write creates (watchers). Returns the unsubscribe function.
   * Events are only built while someone listens, so a store nobody watches pays nothing.
   */
  onRevision(listener: RevisionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Delete `keys` (latin1 strings, as the key index holds them) in one revision; used when a
   * lease is revoked or expires. Keys that no longer exist are skipped. Returns the store revision.
   */
  deleteKeys(keys: readonly string[]): number {
    const ctx: WriteContext = { main: this.currentRevision + 1, sub: 0, events: [], keys: [] };
    for (const key of keys) this.deleteOne(key, ctx);
    this.commit(ctx);
    return this.currentRevision;
  }

  /**
   * The events of the revisions in [fromRevision, toRevision] for keys in the range, rebuilt
   * from history, in revision order. Stops after the revision at which `maxEvents` is reached
   * (a revision is never split), or after looking at `CATCH_UP_SCAN_FACTOR * maxEvents` changes
   * of other keys, so one call costs about as much as the events it returns. `nextRevision` is
   * the first revision not covered. The caller checks compaction first: history below the
   * compaction revision is gone.
   */
  eventsBetween(key: Bytes, rangeEnd: Bytes, fromRevision: number, toRevision: number, maxEvents: number): { events: MvccEvent[]; nextRevision: number } {
    const from = keyString(key);
    const to = keyString(rangeEnd);
    const events: MvccEvent[] = [];
    if (to === '') {
      // One key: walk its own history.
      const revs = this.index.historyOf(from);
      for (let i = firstAtOrAfter(revs.length, (j) => revs[j]!.main, fromRevision); i < revs.length; i++) {
        const main = revs[i]!.main;
        if (main > toRevision) break;
        events.push(eventOf(from, revs, i));
        if (events.length >= maxEvents) return { events, nextRevision: main + 1 };
      }
      return { events, nextRevision: toRevision + 1 };
    }
    // A range: walk the change log, which lists every key each revision changed.
    let scanned = 0;
    let i = firstAtOrAfter(this.changeMain.length, (j) => this.changeMain[j]!, fromRevision);
    while (i < this.changeMain.length) {
      const main = this.changeMain[i]!;
      if (main > toRevision) break;
      // Everything this revision changed, together.
      for (; i < this.changeMain.length && this.changeMain[i] === main; i++) {
        scanned++;
        const k = this.changeKey[i]!;
        if (!inRange(k, from, to)) continue;
        const revs = this.index.historyOf(k);
        const at = firstAtOrAfter(revs.length, (j) => revs[j]!.main, main);
        assert(revs[at]?.main === main, () => `the change log and the history of a key agree (revision ${main})`);
        events.push(eventOf(k, revs, at));
      }
      if (events.length >= maxEvents || scanned >= CATCH_UP_SCAN_FACTOR * maxEvents) return { events, nextRevision: main + 1 };
    }
    return { events, nextRevision: toRevision + 1 };
  }

  get revision(): number {
    return this.currentRevision;
  }

  get compactRevision(): number {
    return this.compacted;
  }

  get keyCount(): number {
    return this.index.keyCount;
  }

  /** What the keys and their histories take in a snapshot (see KeyIndex.snapshotBytes). */
  get snapshotBytes(): number {
    return this.index.snapshotBytes;
  }

  /** Execute any request. Throws KvError for a request etcd would refuse; nothing changes then. */
  execute(req: KvRequest): KvResult {
    validateRequest(req, this.limits);
    switch (req.op) {
      case 'range':
        this.checkReadRevision(req.revision);
        return this.range(req, req.revision > 0 ? req.revision : this.currentRevision);
      case 'compact':
        return this.compact(req);
      default:
        return this.write(req);
    }
  }

  /** Every live key with a lease attached, and that lease (for rebuilding lease attachments). */
  *leasedKeys(): IterableIterator<[string, LeaseId]> {
    for (const [key] of this.index.entries()) {
      const latest = this.index.latest(key);
      if (latest !== null && latest.lease !== NO_LEASE) yield [key, latest.lease];
    }
  }

  /** Roughly the bytes of keys and values held (every kept version), for status reports; O(1). */
  approximateBytes(): number {
    return this.index.bytes;
  }

  /** The most approximateBytes() has been since the last resetPeakBytes() or restore (etcd's db size). */
  peakBytes(): number {
    return this.index.peak;
  }

  /** A defragment: the reported peak drops to what is held now. */
  resetPeakBytes(): void {
    this.index.resetPeak();
  }

  state(): StoreState {
    return { revision: this.currentRevision, compactRevision: this.compacted, keys: this.index.entries() };
  }

  restore(state: StoreState): void {
    this.index = KeyIndex.fromEntries(state.keys);
    this.currentRevision = state.revision;
    this.compacted = state.compactRevision;
    this.rebuildChangeLog();
    for (const listener of this.restoreListeners) listener();
  }

  /**
   * restore(), from an index and change log built ahead (a snapshot restored in slices): the swap
   * itself. `changes`: every kept version at or after `compactRevision`, in (main, sub) order.
   */
  restoreBuilt(index: KeyIndex, revision: number, compactRevision: number, changes: { readonly main: number[]; readonly key: string[] }): void {
    this.index = index;
    this.currentRevision = revision;
    this.compacted = compactRevision;
    this.changeMain = changes.main;
    this.changeKey = changes.key;
    for (const listener of this.restoreListeners) listener();
  }

  private rebuildChangeLog(): void {
    const changes: { main: number; sub: number; key: string }[] = [];
    for (const [key, revs] of this.index.entries()) {
      for (const r of revs) if (r.main >= this.compacted) changes.push({ main: r.main, sub: r.sub, key });
    }
    changes.sort((a, b) => a.main - b.main || a.sub - b.sub);
    this.changeMain = changes.map((c) => c.main);
    this.changeKey = changes.map((c) => c.key);
  }

  /** Be told when the whole store was replaced from a snapshot (watchers resynchronise). */
  onRestore(listener: () => void): () => void {
    this.restoreListeners.add(listener);
    return () => this.restoreListeners.delete(listener);
  }

  /** Be told just before a compaction forgets history (a snapshot still reading it holds on to it). */
  onBeforeCompact(listener: () => void): () => void {
    this.compactListeners.add(listener);
    return () => this.compactListeners.delete(listener);
  }

  /** Every key with its history, live: a key written later comes after those there now (see KvSnapshotEncoding). */
  histories(): IterableIterator<[string, KeyRevision[]]> {
    return this.index.entries();
  }

  // ---- writes ---------------------------------------------------------------------------

  private write(req: PutRequest | DeleteRangeRequest | TxnRequest): KvResult {
    // Decide everything that can fail before the first change, so a refused request is a no-op.
    const path = req.op === 'txn' ? this.txnPath(req) : [req];
    this.precheck(path);
    const ctx: WriteContext = { main: this.currentRevision + 1, sub: 0, events: [], keys: [] };
    const result = this.run(req, ctx);
    this.commit(ctx);
    return withRevision(result, this.currentRevision);
  }

  private commit(ctx: WriteContext): void {
    if (ctx.sub === 0) return;
    this.currentRevision = ctx.main;
    for (const key of ctx.keys) {
      this.changeMain.push(ctx.main);
      this.changeKey.push(key);
    }
    for (const listener of this.listeners) listener(ctx.main, ctx.events);
  }

  private run(op: TxnOp, ctx: WriteContext): TxnOpResult {
    switch (op.op) {
      case 'range':
        return this.range(op, op.revision > 0 ? op.revision : ctx.main);
      case 'put':
        return this.put(op, ctx);
      case 'delete':
        return this.deleteRange(op, ctx);
      case 'txn':
        return this.txn(op, ctx);
    }
  }

  private put(req: PutRequest, ctx: WriteContext): PutResult {
    const key = keyString(req.key);
    const prev = this.index.latest(key);
    assert(prev !== null || (!req.ignoreValue && !req.ignoreLease), 'prechecked: the key exists');
    const next: KeyRevision = {
      main: ctx.main,
      sub: ctx.sub++,
      createRevision: prev?.createRevision ?? ctx.main,
      version: (prev?.version ?? 0) + 1,
      // A copy of its own (new Uint8Array, not slice: on a Buffer, slice is a view of the frame or WAL segment the command came in).
      value: req.ignoreValue ? prev!.value : new Uint8Array(req.value),
      lease: req.ignoreLease ? prev!.lease : req.lease,
    };
    this.index.append(key, next);
    ctx.keys.push(key);
    if (prev !== null && prev.lease !== NO_LEASE && prev.lease !== next.lease) this.leases?.detach(prev.lease, key);
    if (next.lease !== NO_LEASE && prev?.lease !== next.lease) this.leases?.attach(next.lease, key);
    if (this.listeners.size > 0) ctx.events.push({ type: 'PUT', kv: toKeyValue(key, next), prevKv: prev === null ? null : toKeyValue(key, prev) });
    return { op: 'put', revision: ctx.main, prevKv: req.prevKv && prev !== null ? toKeyValue(key, prev) : null };
  }

  private deleteRange(req: DeleteRangeRequest, ctx: WriteContext): DeleteRangeResult {
    const prevKvs: KeyValue[] = [];
    let deleted = 0;
    for (const key of this.index.keysInRange(keyString(req.key), keyString(req.rangeEnd))) {
      const prev = this.deleteOne(key, ctx);
      if (prev === null) continue;
      deleted++;
      if (req.prevKv) prevKvs.push(toKeyValue(key, prev));
    }
    return { op: 'delete', revision: ctx.main, deleted, prevKvs };
  }

  /** Delete one key if it exists; returns the version it had. */
  private deleteOne(key: string, ctx: WriteContext): KeyRevision | null {
    const prev = this.index.latest(key);
    if (prev === null) return null;
    this.index.append(key, { main: ctx.main, sub: ctx.sub++, createRevision: 0, version: 0, value: null, lease: NO_LEASE });
    ctx.keys.push(key);
    if (prev.lease !== NO_LEASE) this.leases?.detach(prev.lease, key);
    if (this.listeners.size > 0) ctx.events.push({ type: 'DELETE', kv: tombstone(key, ctx.main), prevKv: toKeyValue(key, prev) });
    return prev;
  }

  private txn(req: TxnRequest, ctx: WriteContext): TxnResult {
    // Compares see the store as it was before this request's first write (as etcd's do,
    // nested ones included): evaluate them against the last committed revision.
    const succeeded = req.compare.every((c) => this.compare(c, this.currentRevision));
    const ops = succeeded ? req.success : req.failure;
    const responses = ops.map((op) => this.run(op, ctx));
    return { op: 'txn', revision: ctx.main, succeeded, responses };
  }

  /** The operations a txn will execute, nested txns flattened, decided before any write. */
  private txnPath(req: TxnRequest): TxnOp[] {
    const succeeded = req.compare.every((c) => this.compare(c, this.currentRevision));
    const path: TxnOp[] = [];
    for (const op of succeeded ? req.success : req.failure) {
      if (op.op === 'txn') path.push(...this.txnPath(op));
      else path.push(op);
    }
    return path;
  }

  private precheck(path: readonly TxnOp[]): void {
    for (const op of path) {
      if (op.op === 'range') this.checkReadRevision(op.revision);
      if (op.op !== 'put') continue;
      const exists = this.index.latest(keyString(op.key)) !== null;
      if ((op.ignoreValue || op.ignoreLease) && !exists) throw new KvError('key-not-found');
      if (!op.ignoreLease && op.lease !== NO_LEASE && !(this.leases?.has(op.lease) ?? false)) throw new KvError('lease-not-found');
    }
  }

  private compact(req: CompactRequest): CompactResult {
    if (req.revision <= this.compacted) throw new KvError('compacted');
    if (req.revision > this.currentRevision) throw new KvError('future-rev');
    for (const listener of [...this.compactListeners]) listener();
    this.index.compact(req.revision);
    this.compacted = req.revision;
    // Changes below the compaction revision can no longer be watched.
    const keep = firstAtOrAfter(this.changeMain.length, (j) => this.changeMain[j]!, req.revision);
    this.changeMain.splice(0, keep);
    this.changeKey.splice(0, keep);
    return { op: 'compact', revision: this.currentRevision };
  }

  // ---- reads ----------------------------------------------------------------------------

  private checkReadRevision(revision: number): void {
    if (revision <= 0) return;
    if (revision > this.currentRevision) throw new KvError('future-rev');
    if (revision < this.compacted) throw new KvError('compacted');
  }

  private range(req: RangeRequest, at: number): RangeResult {
    const keys = this.index.keysIn(keyString(req.key), keyString(req.rangeEnd));
    if (!needsSort(req)) return this.rangeInKeyOrder(req, at, keys);
    let found: KeyValue[] = [];
    for (const key of keys) {
      const rev = this.index.at(key, at);
      if (rev !== null) found.push(toKeyValue(key, rev));
    }
    const count = found.length;
    if (req.countOnly) return { op: 'range', revision: this.currentRevision, kvs: [], more: false, count };
    found = found.filter((kv) => passesFilters(kv.createRevision, kv.modRevision, req));
    sortKvs(found, req);
    let more = false;
    if (req.limit > 0 && found.length > req.limit) {
      found.length = req.limit;
      more = true;
    }
    return { op: 'range', revision: this.currentRevision, kvs: req.keysOnly ? found.map(withoutValue) : found, more, count };
  }

  /**
   * A range answered in key order (the index's): every live key is counted, but only those
   * returned become KeyValues, so a small `limit` over a large range builds no more than it sends.
   */
  private rangeInKeyOrder(req: RangeRequest, at: number, keys: Iterable<string>): RangeResult {
    const kvs: KeyValue[] = [];
    let count = 0;
    let more = false;
    for (const key of keys) {
      const rev = this.index.at(key, at);
      if (rev === null) continue;
      count++;
      if (req.countOnly || !passesFilters(rev.createRevision, rev.main, req)) continue;
      if (req.limit > 0 && kvs.length === req.limit) more = true;
      else kvs.push(req.keysOnly ? withoutValue(toKeyValue(key, rev)) : toKeyValue(key, rev));
    }
    return { op: 'range', revision: this.currentRevision, kvs, more, count };
  }

  private compare(c: Compare, at: number): boolean {
    const keys = this.index.keysInRange(keyString(c.key), keyString(c.rangeEnd));
    const live = keys.map((k) => this.index.at(k, at)).filter((r): r is KeyRevision => r !== null);
    if (live.length === 0) {
      // A missing key compares as all zeros, except that its value compares as nothing at all.
      if (c.target === 'VALUE') return false;
      return compareTarget(c, ZERO_REVISION);
    }
    return live.every((r) => compareTarget(c, r));
  }
}

const EMPTY: Bytes = new Uint8Array(0);
const ZERO_REVISION: KeyRevision = { main: 0, sub: 0, createRevision: 0, version: 0, value: EMPTY, lease: NO_LEASE };

function toKeyValue(key: string, r: KeyRevision): KeyValue {
  assert(r.value !== null, 'a tombstone is not a key value');
  return { key: keyBytes(key), createRevision: r.createRevision, modRevision: r.main, version: r.version, value: r.value, lease: r.lease };
}

/** Changes of other keys a catch-up step may look at per event it may return. */
export const CATCH_UP_SCAN_FACTOR = 16;

/** The first index in [0, length) whose revision is >= `revision` (revisions ascend). */
function firstAtOrAfter(length: number, revisionAt: (i: number) => number, revision: number): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (revisionAt(mid) < revision) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Whether `key` is in a range (conventions of requests.ts). */
function inRange(key: string, from: string, to: string): boolean {
  if (to === '') return key === from;
  if (key < from) return false;
  return to === '\u0000' || key < to;
}

/** The event of version `i` of a key's history, with the version before it as prev_kv. */
function eventOf(key: string, revs: readonly KeyRevision[], i: number): MvccEvent {
  const r = revs[i]!;
  const before = i > 0 ? revs[i - 1]! : null;
  const prevKv = before !== null && before.value !== null ? toKeyValue(key, before) : null;
  return r.value === null ? { type: 'DELETE', kv: tombstone(key, r.main), prevKv } : { type: 'PUT', kv: toKeyValue(key, r), prevKv };
}

function tombstone(key: string, revision: number): KeyValue {
  return { key: keyBytes(key), createRevision: 0, modRevision: revision, version: 0, value: EMPTY, lease: NO_LEASE };
}

function withRevision(result: TxnOpResult, revision: number): KvResult {
  return { ...result, revision };
}

function compareTarget(c: Compare, r: KeyRevision): boolean {
  let order: number;
  if (c.target === 'VALUE') {
    const operand = c.operand instanceof Uint8Array ? c.operand : EMPTY;
    order = Buffer.compare(r.value ?? EMPTY, operand);
  } else if (c.target === 'LEASE') {
    order = compareLeaseIds(r.lease, typeof c.operand === 'string' ? c.operand : NO_LEASE);
  } else {
    const actual = c.target === 'VERSION' ? r.version : c.target === 'CREATE' ? r.createRevision : r.main;
    const operand = typeof c.operand === 'number' ? c.operand : 0;
    order = Math.sign(actual - operand);
  }
  switch (c.result) {
    case 'EQUAL': return order === 0;
    case 'NOT_EQUAL': return order !== 0;
    case 'GREATER': return order > 0;
    case 'LESS': return order < 0;
  }
}

function passesFilters(createRevision: number, modRevision: number, req: RangeRequest): boolean {
  if (req.minModRevision > 0 && modRevision < req.minModRevision) return false;
  if (req.maxModRevision > 0 && modRevision > req.maxModRevision) return false;
  if (req.minCreateRevision > 0 && createRevision < req.minCreateRevision) return false;
  if (req.maxCreateRevision > 0 && createRevision > req.maxCreateRevision) return false;
  return true;
}

function withoutValue(kv: KeyValue): KeyValue {
  return { ...kv, value: EMPTY };
}

/**
 * Whether a range's answer needs sorting: keys come out of the index ascending; etcd sorts
 * ascending by default when a target other than the key is named without an order.
 */
function needsSort(req: RangeRequest): boolean {
  const order = req.sortOrder === 'NONE' && req.sortTarget !== 'KEY' ? 'ASCEND' : req.sortOrder;
  return !(order === 'NONE' || (order === 'ASCEND' && req.sortTarget === 'KEY'));
}

/** Sort a range's answer as needsSort(req) said it must be. */
function sortKvs(kvs: KeyValue[], req: RangeRequest): void {
  const field = (kv: KeyValue): number | Bytes => {
    switch (req.sortTarget) {
      case 'KEY': return kv.key;
      case 'VERSION': return kv.version;
      case 'CREATE': return kv.createRevision;
      case 'MOD': return kv.modRevision;
      case 'VALUE': return kv.value;
    }
  };
  const sign = req.sortOrder === 'DESCEND' ? -1 : 1;
  kvs.sort((a, b) => {
    const fa = field(a);
    const fb = field(b);
    const c = typeof fa === 'number' ? fa - (fb as number) : Buffer.compare(fa, fb as Bytes);
    return sign * c;
  });
}

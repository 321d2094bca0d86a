/**
 * The backend quota (etcd's --quota-backend-bytes) and the database size a member reports.
 *
 * quorate keeps the store in memory and its durable form in the WAL and snapshots, so "db size"
 * is modelled the way etcd's file behaves: `inUse` is the bytes the store holds now (every kept
 * version of every key), and `size` is the most it held since the last defragment (etcd's file
 * does not shrink after a compaction until it is defragmented). A write that would take `size`
 * over the quota raises the NOSPACE alarm through the log and is refused; while the alarm is
 * active every member refuses puts (deletes, compaction and reads still work). Freeing space is
 * compaction, then defragment, then `alarm disarm`.
 */
import type { AlarmRecord, KvRequest } from '../statemachine/mvcc/index.js';
import { kvError } from './grpc-errors.js';
import type { MemberContext } from './member-context.js';

/** etcd's default quota when the flag is 0 or absent: 2 GiB. */
export const DEFAULT_QUOTA_BACKEND_BYTES = 2 * 1024 * 1024 * 1024;
/** The store's size is recomputed at most this often (it walks every key)... */
export const DB_SIZE_REFRESH_MS = 200;
/** ...and at most this fraction of the time: a measurement that took 5 ms waits 500 ms. */
export const DB_SIZE_MEASURE_TIME_FRACTION = 0.01;

export class BackendQuota {
  private highWaterBytes = 0;
  private inUseBytes = 0;
  private nextMeasureAtMs = -Infinity;
  /** Bytes of writes admitted here since the last measurement (an upper bound on the growth). */
  private admittedSinceMeasureBytes = 0;
  private raising: Promise<unknown> | null = null;

  constructor(private readonly ctx: MemberContext, readonly quotaBytes: number) {}

  /** Bytes held now. */
  inUse(): number {
    this.measure(false);
    return this.inUseBytes;
  }

  /** etcd's dbSize: the most held since the last defragment. */
  size(): number {
    this.measure(false);
    return this.highWaterBytes;
  }

  /** Measure now (status reports are exact; write checks use a recent measurement). */
  refresh(): void {
    this.measure(true);
  }

  /** After a defragment the reported size drops to what is in use. */
  defragmented(): void {
    this.measure(true);
    this.highWaterBytes = this.inUseBytes;
  }

  /** Refuse a write that does not fit (raising NOSPACE once), as etcd's quota check does. */
  async beforeWrite(request: KvRequest): Promise<void> {
    if (!addsData(request)) return;
    if (this.ctx.kv.cluster.hasAlarm('NOSPACE')) throw kvError('no-space');
    const bytes = requestBytes(request);
    // The last measurement plus what was admitted since bounds the size from above; only a write
    // that this bound does not admit pays for an exact measurement.
    if (this.size() + this.admittedSinceMeasureBytes + bytes > this.quotaBytes) this.measure(true);
    if (this.size() + this.admittedSinceMeasureBytes + bytes <= this.quotaBytes) {
      this.admittedSinceMeasureBytes += bytes;
      return;
    }
    this.ctx.logger('warn', 'database space exceeded: raising the NOSPACE alarm', { size: this.size(), quotaBackendBytes: this.quotaBytes });
    this.raising ??= this.ctx.propose({ op: 'alarm', action: 'activate', memberId: this.ctx.selfMemberId, alarm: 'NOSPACE' })
      .finally(() => { this.raising = null; });
    await this.raising.catch(() => {});
    throw kvError('no-space');
  }

  alarms(): readonly AlarmRecord[] {
    return this.ctx.kv.cluster.alarmList();
  }

  private measure(force: boolean): void {
    const now = Date.now();
    if (!force && now < this.nextMeasureAtMs) return;
    const t0 = performance.now();
    this.inUseBytes = this.ctx.kv.store.approximateBytes();
    const costMs = performance.now() - t0;
    this.nextMeasureAtMs = now + Math.max(DB_SIZE_REFRESH_MS, costMs / DB_SIZE_MEASURE_TIME_FRACTION);
    this.admittedSinceMeasureBytes = 0;
    if (this.inUseBytes > this.highWaterBytes) this.highWaterBytes = this.inUseBytes;
  }
}

function addsData(req: KvRequest): boolean {
  if (req.op === 'put') return true;
  if (req.op === 'txn') return [...req.success, ...req.failure].some((op) => addsData(op));
  return false;
}

function requestBytes(req: KvRequest): number {
  switch (req.op) {
    case 'put': return req.key.byteLength + req.value.byteLength + 32;
    case 'txn': return [...req.success, ...req.failure].reduce((sum, op) => sum + requestBytes(op), 0);
    default: return 0;
  }
}

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
import { KEY_OVERHEAD_BYTES, VERSION_OVERHEAD_BYTES, type AlarmRecord, type KvRequest } from '../statemachine/mvcc/index.js';
import { kvError } from './grpc-errors.js';
import type { MemberContext } from './member-context.js';

/**
 * Under a Byzantine protocol a member withdraws its NOSPACE vote once its db size is at most this
 * fraction of the quota (after a defragment, as a rule: the size does not shrink before one). A
 * member just under the quota keeps its vote, so that a nearly full member's vote does not come and
 * go with the size of each write it is sent.
 */
export const NOSPACE_VOTE_WITHDRAW_FRACTION = 0.9;

/** etcd's default quota when the flag is 0 or absent: 2 GiB. */
export const DEFAULT_QUOTA_BACKEND_BYTES = 2 * 1024 * 1024 * 1024;

/**
 * Both sizes are kept by the store as versions are added and compacted away (see KeyIndex.bytes),
 * so Status, /metrics and every write's quota check read them in O(1) instead of walking the store.
 */
export class BackendQuota {
  /** The NOSPACE alarm being proposed (writes over quota meanwhile wait for the same one). */
  private raising: Promise<void> | null = null;
  /** This member's NOSPACE vote being withdrawn (Byzantine protocols; see withdrawVote). */
  private withdrawing: Promise<void> | null = null;

  constructor(private readonly ctx: MemberContext, readonly quotaBytes: number) {}

  /** Bytes held now. */
  inUse(): number {
    return this.ctx.kv.store.approximateBytes();
  }

  /** etcd's dbSize: the most held since the last defragment (or since this member restored a snapshot). */
  size(): number {
    return this.ctx.kv.store.peakBytes();
  }

  /** After a defragment the reported size drops to what is in use. */
  defragmented(): void {
    this.ctx.kv.store.resetPeakBytes();
    this.withdrawVote();
  }

  /**
   * Under a Byzantine protocol: once this member has space again (NOSPACE_VOTE_WITHDRAW_FRACTION),
   * its NOSPACE vote, if one stands, is taken back. A vote left standing after the member freed space would let one liar's vote, at
   * any later time, make up the f + 1 and refuse writes on every member.
   */
  private withdrawVote(): void {
    if (this.withdrawing !== null || this.size() > NOSPACE_VOTE_WITHDRAW_FRACTION * this.quotaBytes || !this.voteStands()) return;
    this.ctx.logger('info', 'database space is within the quota again: withdrawing this member\'s NOSPACE vote', { size: this.size(), quotaBackendBytes: this.quotaBytes });
    this.withdrawing = this.ctx.propose({ op: 'alarm', action: 'withdraw', memberId: this.ctx.selfMemberId, alarm: 'NOSPACE' })
      .then((outcome) => { if (!outcome.ok) this.ctx.logger('warn', 'withdrawing the NOSPACE vote was refused', { error: outcome.error }); },
        (err: unknown) => this.ctx.logger('warn', 'withdrawing the NOSPACE vote did not commit; the next write that fits tries again', { error: (err as Error).message }))
      .finally(() => { this.withdrawing = null; });
  }

  private voteStands(): boolean {
    return this.ctx.kv.alarmVotersOf('activate', this.ctx.selfMemberId, 'NOSPACE').includes(this.ctx.selfNodeId);
  }

  /** Refuse a write that does not fit (raising NOSPACE once), as etcd's quota check does. */
  async beforeWrite(request: KvRequest): Promise<void> {
    if (!addsData(request)) return;
    if (this.ctx.kv.cluster.hasAlarm('NOSPACE')) throw kvError('no-space');
    if (this.size() + requestBytes(request) <= this.quotaBytes) {
      this.withdrawVote();
      return;
    }
    // Under a Byzantine protocol this member's NOSPACE is its vote, raised once f + 1 members are
    // out of space (KvStateMachine.applyCluster); while its vote stands it is not ordered again
    // for every write this member refuses.
    if (this.voteStands()) throw kvError('no-space');
    this.ctx.logger('warn', 'database space exceeded: raising the NOSPACE alarm', { size: this.size(), quotaBackendBytes: this.quotaBytes });
    // The write is refused with etcd's "database space exceeded" either way, as etcd's quota check
    // answers whatever its alarm request returned; an alarm that did not commit (or was refused) is
    // logged (once), counted in etcd_server_proposals_failed_total if it did not commit (see
    // EtcdServer.counted), and raised by the next write over quota.
    const notRaised = (why: string): void => this.ctx.logger('warn', 'the NOSPACE alarm did not commit; the next write over quota raises it again', { error: why });
    this.raising ??= this.ctx.propose({ op: 'alarm', action: 'activate', memberId: this.ctx.selfMemberId, alarm: 'NOSPACE' })
      .then((outcome) => { if (!outcome.ok) notRaised(`refused: ${outcome.error}`); }, (err: unknown) => notRaised((err as Error).message))
      .finally(() => { this.raising = null; });
    await this.raising;
    throw kvError('no-space');
  }

  alarms(): readonly AlarmRecord[] {
    return this.ctx.kv.cluster.alarmList();
  }
}

function addsData(req: KvRequest): boolean {
  if (req.op === 'put') return true;
  if (req.op === 'txn') return [...req.success, ...req.failure].some((op) => addsData(op));
  return false;
}

function requestBytes(req: KvRequest): number {
  switch (req.op) {
    // As if the key were new: the check is an upper bound.
    case 'put': return req.key.byteLength + KEY_OVERHEAD_BYTES + req.value.byteLength + VERSION_OVERHEAD_BYTES;
    case 'txn': return [...req.success, ...req.failure].reduce((sum, op) => sum + requestBytes(op), 0);
    default: return 0;
  }
}

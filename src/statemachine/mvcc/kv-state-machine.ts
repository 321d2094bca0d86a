/**
 * The replicated KV state machine: the MVCC store plus client sessions.
 *
 * Every write reaches the log as a command tagged with the proposer's session (client id and
 * sequence number). A proposal retried after a timeout or a leader change carries the same
 * tag, so it takes effect once and is answered with the first result (Raft dissertation §6.3).
 * The proposer also names the lowest sequence number it still waits for; results below it
 * are dropped, which bounds what a session keeps.
 */
import { pack } from '../../core/codec.js';
import type { SnapshotEncoding, SnapshotRestoring } from '../../core/replica.js';
import { KvSnapshotEncoding } from './snapshot-encoding.js';
import { KvSnapshotDecoding, restoredLeaseId } from './snapshot-decoding.js';
import { assert } from '../../core/assert.js';
import type { Index, StateMachine } from '../../core/index.js';
import { KvError, type KvErrorKind } from './kv-errors.js';
import { AuthStore, isAuthRequest, type AuthErrorKind, type AuthRequest, type AuthResult, type AuthUser } from './auth-store.js';
import type { KvRequest, KvResult } from './requests.js';
import { MvccStore } from './store.js';
import { isLeaseRequest, LeaseTable, type LeaseRequest, type LeaseResult } from './leases.js';
import { leaseIdOf, type LeaseId } from './lease-id.js';
import { ClusterState, isClusterRequest, type AlarmKind, type ClusterRequest, type ClusterResult } from './cluster-state.js';
import type { KvLimits } from './validate.js';
import { decodeKvCommand } from './command-decoding.js';

/**
 * A member announcing where clients reach it (etcd's "publish"): kept in the replicated state
 * so every member can list every other member's client URLs.
 */
export interface PublishMember {
  readonly op: 'publish-member';
  readonly name: string;
  readonly clientUrls: readonly string[];
  /** The member's --name when it differs from its node id (members added at runtime). */
  readonly memberName?: string;
}

/**
 * A member's own compaction (its auto-compactor's), not a user's request. Under a crash-fault
 * protocol it compacts as a root compaction would; under a Byzantine one it is the ordering
 * member's vote, and the store compacts only as far as leaseExpiryQuorum members voted for (see
 * KvStateMachine.applyCompactVote). No user is named: it is the member's, not a client's.
 */
export interface CompactVote {
  readonly op: 'compact-vote';
  readonly revision: number;
}

export interface PublishResult {
  readonly op: 'publish-member';
  readonly revision: number;
}

export interface KvCommand {
  /** Session: the proposer's client id, unique per process incarnation. */
  readonly client: string;
  readonly seq: number;
  /** The lowest sequence number the client still waits for an answer to. */
  readonly lowestPending: number;
  readonly request: KvRequest | PublishMember | CompactVote | AuthRequest | LeaseRequest | ClusterRequest;
  /**
   * Auth: the user whose token the request carried (absent: no token). Under a Byzantine protocol
   * this is the ordering member's claim, honoured only after a proved login (see actingUser).
   */
  readonly user?: string;
}

/** What applying a command answers: the result, or the etcd error it was refused with. */
export type KvOutcome =
  | { readonly ok: true; readonly result: KvResult | PublishResult | AuthResult | LeaseResult | ClusterResult }
  | { readonly ok: false; readonly error: KvErrorKind | AuthErrorKind | 'stale-duplicate' };

/** Sessions kept at most; the least recently active one is evicted first (deterministically). */
export const MAX_KV_SESSIONS = 4096;
/** Answers kept per session (a client never has more pending writes than its node allows). */
export const MAX_RESULTS_PER_SESSION = 16_384;

interface Session {
  results: Map<number, KvOutcome>;
  /** Every seq below this has been answered and forgotten. */
  lowestPending: number;
}

/**
 * The format this build writes. 2: lease ids are int64 decimal text (1 wrote JavaScript numbers,
 * and a build of format 1 restoring a format-2 snapshot would misread every lease; bumped so that
 * it refuses one by its format instead). Format 1 is still read (restoredLeaseId takes numbers).
 */
const SNAPSHOT_FORMAT = 2;
/** Formats this build restores. */
const READABLE_SNAPSHOT_FORMATS: readonly number[] = [1, SNAPSHOT_FORMAT];

/**
 * Alarm votes (Byzantine protocols) one member may have standing at once, over every alarm and
 * member they name. Members are few and an honest one votes only on what its own quota or
 * corruption check saw (a handful); a liar naming made-up members past this drops only its own
 * oldest vote, so the table stays at most members × this, whatever a liar orders.
 */
export const MAX_ALARM_VOTES_PER_MEMBER = 16;

/**
 * A peer URL every member's dialer takes (as the server's parseUrl: http or https, with a port).
 * Checked at apply, so alike on every member.
 */
function isDialablePeerUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  return (u.protocol === 'http:' || u.protocol === 'https:') && u.port !== '' && u.hostname !== '';
}

/** actingUser's answer for a user the ordering member never proved a login of. */
const FORGED_USER = Symbol('forged user');

export function encodeKvCommand(cmd: KvCommand): Uint8Array {
  return pack(cmd);
}

export class KvStateMachine implements StateMachine<KvOutcome> {
  readonly store: MvccStore;
  /** Users, roles and permissions (replicated and snapshotted with the keys). */
  readonly auth: AuthStore;
  /** Leases and the keys attached to them (replicated; timed by the leader, see leases.ts). */
  readonly leases = new LeaseTable();
  private sessions = new Map<string, Session>();
  /** Client URLs each member published, by member name. */
  private memberClientUrls = new Map<string, readonly string[]>();
  /** Members changed at runtime, removed member ids, alarms (see cluster-state.ts). */
  readonly cluster = new ClusterState();
  /** Names members published for themselves, by node id (members added at runtime). */
  private memberNames = new Map<string, string>();

  /**
   * Distinct members whose `lease-expire` for the same lease and renewal count it takes to expire
   * it: 1 under crash-fault protocols (the leader's clock decides); f + 1 under Byzantine ones, so
   * that one lying member cannot expire a live lease (and break the locks on it). Then every
   * member proposes the expiries its own clock sees (see lease-service.ts). The same quorum
   * decides how far members' own compactions go (applyCompactVote).
   */
  readonly leaseExpiryQuorum: number;
  /** Expiry votes not yet at the quorum: lease id → the renewal count voted on and who voted. */
  private expiryVotes = new Map<LeaseId, { renewals: number; voters: Set<string> }>();
  /**
   * Compaction votes (Byzantine protocols): member → the latest revision it voted to compact to,
   * at most one per member; votes at or below the compacted revision are dropped.
   */
  private compactVotes = new Map<string, number>();
  /**
   * Alarm votes (Byzantine protocols) short of the quorum: tally → voter → the member its vote
   * names. Tallies: `activate/CORRUPT/<member>` (members judge one member's keys and must agree on
   * which), `activate/NOSPACE` (each member speaks only for its own space: f + 1 members out of
   * space means an honest one is), `deactivate/<alarm>/<member>` (clearing a raised alarm). A
   * member's latest vote on an alarm replaces its earlier one; see applyAlarmVote.
   */
  private alarmVotes = new Map<string, Map<string, string>>();

  /** Test-only: a state machine mutant (see STATE_MACHINE_MUTANTS), or undefined. */
  private readonly mutant: string | undefined;
  /**
   * The initial members' etcd member ids by node id (the same flags on every member). Under a
   * Byzantine protocol a member's own member-update must keep its id: see applyCluster.
   */
  private readonly initialMemberIds: ReadonlyMap<string, string>;

  constructor(limits?: KvLimits, options: { readonly leaseExpiryQuorum?: number; readonly mutant?: string; readonly memberIds?: ReadonlyMap<string, string> } = {}) {
    this.store = new MvccStore(limits);
    this.store.leases = this.leases;
    this.leaseExpiryQuorum = options.leaseExpiryQuorum ?? 1;
    this.mutant = options.mutant;
    this.initialMemberIds = new Map(options.memberIds ?? []);
    this.auth = new AuthStore(this.mutant === 'trust-login-use' ? { mutant: this.mutant } : {});
    assert(Number.isSafeInteger(this.leaseExpiryQuorum) && this.leaseExpiryQuorum >= 1, 'the lease expiry quorum is a positive integer');
  }

  /** Whether apply would take `command` as a command (see StateMachine.isCommand). */
  isCommand(command: Uint8Array): boolean {
    return decodeKvCommand(command) !== null;
  }

  /**
   * Total: bytes that are no well-formed command (a faulty or lying member can order any) are
   * answered with `malformed-command` and change nothing, on every member alike.
   */
  apply(command: Uint8Array, _index: Index, origin?: string): KvOutcome {
    const cmd = decodeKvCommand(command);
    if (cmd === null) return { ok: false, error: 'malformed-command' };
    // Under a Byzantine protocol a member names its sessions as it likes: they live under the
    // member that ordered the command, so a liar cannot pre-seed or close another member's.
    const session = this.session(origin === undefined ? cmd.client : `${origin}|${cmd.client}`);
    if (cmd.seq < session.lowestPending) {
      // The client already had its answer and said so: this is a very late duplicate.
      // Nobody waits for it; it must not take effect a second time.
      return { ok: false, error: 'stale-duplicate' };
    }
    const earlier = session.results.get(cmd.seq);
    if (earlier !== undefined) return earlier;
    const user = this.actingUser(cmd, origin);
    const outcome = user === FORGED_USER ? { ok: false as const, error: 'invalid-auth-token' as const }
      : cmd.request.op === 'publish-member' ? this.publish(cmd.request, origin)
      : cmd.request.op === 'compact-vote' ? this.applyCompactVote(cmd.request, origin)
      : isClusterRequest(cmd.request) ? this.applyCluster(user, cmd.request, origin)
      : isLeaseRequest(cmd.request) ? this.applyLease(user, cmd.request, origin)
      : this.applyChecked(user, cmd.request, origin);
    session.results.set(cmd.seq, outcome);
    this.forgetAnswered(session, cmd.lowestPending);
    return outcome;
  }

  /**
   * Who a command acts as. Under a crash-fault protocol (no origin) the member's word: members are
   * trusted. Under a Byzantine one the `user` is the ordering member's claim, and a liar could
   * claim root; so while auth is enabled a member acts only as the users it is bound to, by a
   * login proved through it or a token of the user's session shown to it (AuthStore.actsAs,
   * login-proof.ts). Any other claim is FORGED_USER: the command is refused with etcd's "invalid
   * auth token" on every member alike (an honest member never sends one: it orders a command as a
   * user only after its own login or binding for that user was applied).
   */
  private actingUser(cmd: KvCommand, origin: string | undefined): AuthUser | typeof FORGED_USER {
    const user = cmd.user ?? null;
    if (origin === undefined || user === null || !this.auth.enabled || this.mutant === 'trust-command-user') return user;
    return this.auth.actsAs(origin, user) ? user : FORGED_USER;
  }

  /** Execute without the log: reads (after a read barrier) and serializable reads. */
  execute(request: KvRequest): KvOutcome {
    try {
      return { ok: true, result: this.store.execute(request) };
    } catch (err) {
      if (err instanceof KvError) return { ok: false, error: err.kind };
      throw err;
    }
  }

  /** Auth: a change of users/roles, or a KV write checked against the permissions at this point of the log. */
  private applyChecked(user: AuthUser, request: KvRequest | AuthRequest, origin: string | undefined): KvOutcome {
    if (isAuthRequest(request)) {
      const error = this.auth.apply(user, request, origin);
      return error === null ? { ok: true, result: { op: 'auth', revision: this.store.revision } } : { ok: false, error };
    }
    const denied = this.auth.checkRequest(user, request);
    if (denied !== null) return { ok: false, error: denied };
    // While a CORRUPT alarm stops writes, nothing more is written (etcd's corrupt applier): the
    // members disagree about what they hold, and every write would build on that.
    if (this.corruptionStopsWrites() && request.op !== 'range' && !(request.op === 'txn' && isReadOnlyTxn(request))) return { ok: false, error: 'corrupt' };
    // While the NOSPACE alarm is raised, writes that add data are refused (deletes free space).
    if (this.cluster.hasAlarm('NOSPACE') && writesData(request)) return { ok: false, error: 'no-space' };
    return this.execute(request);
  }

  /**
   * Whether raised CORRUPT alarms stop writes. With a quorum of 1 (crash-fault protocols, as etcd)
   * any one does: the members disagree about what they hold. Under a Byzantine protocol, up to f
   * members holding another state is the very fault the protocol masks, and a liar can make itself
   * look corrupt at will (a wrong hash to every question), upon which f + 1 honest members rightly
   * name it: if that stopped writes, one liar would stop the cluster. So there the alarm stays
   * listed for the operator, and writes stop only once more than f (leaseExpiryQuorum - 1)
   * distinct members are named, more than the protocol masks.
   */
  private corruptionStopsWrites(): boolean {
    return this.cluster.membersAlarmed('CORRUPT') > this.leaseExpiryQuorum - 1;
  }

  private applyLease(user: AuthUser, request: LeaseRequest, origin: string | undefined): KvOutcome {
    // etcd's corrupt applier refuses grants and revokes (expiry and keep-alive go on).
    if ((request.op === 'lease-grant' || request.op === 'lease-revoke') && this.corruptionStopsWrites()) return { ok: false, error: 'corrupt' };
    if (request.op === 'lease-expire' && this.leaseExpiryQuorum > 1) {
      const lease = this.leases.get(request.id);
      if (lease === null) return { ok: false, error: 'lease-not-found' };
      let votes = this.expiryVotes.get(request.id);
      if (votes === undefined || votes.renewals !== request.renewals) {
        votes = { renewals: request.renewals, voters: new Set() };
        this.expiryVotes.set(request.id, votes);
      }
      votes.voters.add(origin ?? '');
      if (votes.voters.size < this.leaseExpiryQuorum) {
        return { ok: true, result: { op: request.op, revision: this.store.revision, id: request.id, ttlSeconds: lease.ttlSeconds, applied: false } };
      }
    }
    if (request.op === 'lease-expire' || request.op === 'lease-revoke' || request.op === 'lease-renew') this.expiryVotes.delete(request.id);
    // As etcd: revoking a lease deletes its keys, so the caller needs write permission on each.
    // (Grants, renewals and the leader's expiries need none.)
    if (request.op === 'lease-revoke' && this.auth.enabled) {
      for (const key of this.leases.get(request.id)?.keys ?? []) {
        const denied = this.auth.checkRequest(user, { op: 'delete', key, rangeEnd: new Uint8Array(0), prevKv: false });
        if (denied !== null) return { ok: false, error: denied };
      }
    }
    try {
      return { ok: true, result: this.leases.apply(request, this.store) };
    } catch (err) {
      if (err instanceof KvError) return { ok: false, error: err.kind };
      throw err;
    }
  }

  /**
   * A member's compaction. With a quorum of 1 (crash-fault protocols) it compacts to its revision
   * at once. Otherwise it is a vote by `origin` (its latest replaces its earlier one), and the
   * store compacts to the highest revision at or below which leaseExpiryQuorum (f + 1) distinct
   * members voted: at least one of them honest, so one lying member cannot compact at will, nor
   * further than an honest member wanted. Refused while CORRUPT is raised, as a compaction is.
   */
  private applyCompactVote(request: CompactVote, origin: string | undefined): KvOutcome {
    if (this.corruptionStopsWrites()) return { ok: false, error: 'corrupt' };
    if (this.leaseExpiryQuorum === 1) return this.execute({ op: 'compact', revision: request.revision });
    this.compactVotes.set(origin ?? '', request.revision);
    const target = this.compactQuorumRevision();
    const outcome = target <= this.store.compactRevision
      ? { ok: true as const, result: { op: 'compact' as const, revision: this.store.revision } }
      : this.execute({ op: 'compact', revision: target });
    // Votes the store has compacted to or past count no more (and the table stays small).
    for (const [member, revision] of this.compactVotes) {
      if (revision <= this.store.compactRevision) this.compactVotes.delete(member);
    }
    return outcome;
  }

  /**
   * Alarms and member updates. Under a crash-fault protocol (quorum 1) as etcd: the member's word.
   * Under a Byzantine one the ordering member may be the liar, so
   * - an alarm raised or cleared by an authenticated administrator (auth on, a user this member is
   *   bound to, with the role root) is that user's act and takes effect at once, as in etcd;
   * - any other (a member's quota or corruption check, or an Alarm call while auth is off, when
   *   nobody vouches for it) is the ordering member's vote (applyAlarmVote);
   * - a member changes only its own peer URLs, unless an administrator orders the change: another
   *   member's would let a liar point every member's dialer for it elsewhere and cut it off.
   */
  private applyCluster(user: AuthUser, request: ClusterRequest, origin: string | undefined): KvOutcome {
    const byzantine = origin !== undefined && this.leaseExpiryQuorum > 1;
    if (!byzantine || (request.op === 'alarm' && this.mutant === 'alarm-on-one-word')) {
      return { ok: true, result: this.cluster.apply(request, this.store.revision) };
    }
    const admin = user !== null && this.auth.enabled;
    if (admin) {
      const denied = this.auth.checkAdmin(user);
      if (denied !== null) return { ok: false, error: denied };
    }
    if (request.op === 'member-update') {
      if (!admin && request.nodeId !== origin) return { ok: false, error: 'permission-denied' };
      // An update changes peer URLs, never the member id (as etcd's): a liar that took another
      // member's id would have every member's corruption check ask it for that member's hash, and
      // f + 1 honest members name the honest member CORRUPT (two such: writes stop); an id that is
      // no decimal number breaks every member's member list. Peer URLs every member's dialer
      // parses: a bad one would throw in each member's peer update after this apply.
      const known = this.cluster.member(request.nodeId)?.id ?? this.initialMemberIds.get(request.nodeId);
      if (known === undefined ? !admin || !/^[0-9]{1,20}$/.test(request.id) : request.id !== known) return { ok: false, error: 'permission-denied' };
      if (request.peerUrls.length === 0 || !request.peerUrls.every(isDialablePeerUrl)) return { ok: false, error: 'malformed-command' };
      return { ok: true, result: this.cluster.apply(request, this.store.revision) };
    }
    if (admin && request.action !== 'withdraw') {
      // The user's act: votes on what it changed are settled by it.
      this.alarmVotes.delete(`${request.action === 'activate' ? 'deactivate' : 'activate'}/${request.alarm}/${request.memberId}`);
      this.alarmVotes.delete(`${request.action}/${request.alarm}/${request.memberId}`);
      if (request.alarm === 'NOSPACE' && request.action === 'activate') this.alarmVotes.delete('activate/NOSPACE');
      return { ok: true, result: this.cluster.apply(request, this.store.revision) };
    }
    // A vote to raise names a member (the server asks no other): a made-up id would leave, once f + 1
    // votes raise NOSPACE (which names every voter's subject), an alarm no Alarm call can name to
    // disarm (ids travel as uint64: '' fails to encode, 'x' reads as 0), refusing writes for good.
    if (request.action === 'activate' && !this.isMemberId(request.memberId)) return { ok: false, error: 'malformed-command' };
    this.applyAlarmVote(request, origin);
    return { ok: true, result: { op: 'cluster', revision: this.store.revision, alarms: this.cluster.alarmList() } };
  }

  /**
   * Whether `id` is a member's etcd id: in canonical decimal form within uint64 and, when this state
   * machine was told the initial members, one of theirs or of a member recorded since.
   */
  private isMemberId(id: string): boolean {
    if (!/^(0|[1-9][0-9]{0,19})$/.test(id) || BigInt(id) >= 2n ** 64n) return false;
    if (this.initialMemberIds.size === 0) return true;
    for (const known of this.initialMemberIds.values()) if (known === id) return true;
    return this.cluster.allMembers().some((m) => m.id === id);
  }

  /**
   * `voter`'s vote to raise or clear `request`'s alarm. A vote that would change nothing withdraws
   * the voter's vote the other way (an activate on a raised alarm its deactivate, a deactivate on
   * one not raised its activate). An alarm is raised or cleared, on every member alike, once
   * leaseExpiryQuorum (f + 1) distinct members' votes agree, at least one of them honest; then the
   * tally is dropped, so a vote from before counts for nothing later. A NOSPACE vote is dropped
   * while some NOSPACE alarm is raised already (writes are refused either way).
   */
  private applyAlarmVote(request: Extract<ClusterRequest, { op: 'alarm' }>, voter: string): void {
    const raised = this.cluster.hasAlarmOn(request.memberId, request.alarm);
    const activateTally = request.alarm === 'NOSPACE' ? 'activate/NOSPACE' : `activate/CORRUPT/${request.memberId}`;
    const deactivateTally = `deactivate/${request.alarm}/${request.memberId}`;
    const withdraw = (tally: string): void => {
      const votes = this.alarmVotes.get(tally);
      if (votes === undefined || votes.get(voter) !== request.memberId) return;
      votes.delete(voter);
      if (votes.size === 0) this.alarmVotes.delete(tally);
    };
    // A withdraw (see ClusterRequest) takes back the voter's vote either way and changes no alarm.
    if (request.action === 'withdraw') {
      withdraw(activateTally);
      withdraw(deactivateTally);
      return;
    }
    if (request.action === 'activate' ? raised : !raised) {
      withdraw(request.action === 'activate' ? deactivateTally : activateTally);
      return;
    }
    if (request.action === 'activate' && request.alarm === 'NOSPACE' && this.cluster.hasAlarm('NOSPACE')) return;
    const tally = request.action === 'activate' ? activateTally : deactivateTally;
    let votes = this.alarmVotes.get(tally);
    if (votes === undefined) this.alarmVotes.set(tally, votes = new Map());
    votes.set(voter, request.memberId);
    this.boundVotesOf(voter, tally);
    if (votes.size < this.leaseExpiryQuorum) return;
    this.alarmVotes.delete(tally);
    // NOSPACE: every member that said it is out of space is named, as each would have raised it.
    const subjects = request.action === 'activate' && request.alarm === 'NOSPACE' ? [...new Set(votes.values())].sort() : [request.memberId];
    for (const memberId of subjects) this.cluster.apply({ ...request, memberId }, this.store.revision);
    assert(request.action === 'activate' ? this.cluster.hasAlarmOn(request.memberId, request.alarm) : !this.cluster.hasAlarmOn(request.memberId, request.alarm),
      'a quorum of alarm votes takes effect');
  }

  /**
   * Drop `voter`'s earliest standing alarm votes (map order: deterministic) past
   * MAX_ALARM_VOTES_PER_MEMBER, never the one just cast (in `cast`).
   */
  private boundVotesOf(voter: string, cast: string): void {
    let standing = 0;
    for (const votes of this.alarmVotes.values()) if (votes.has(voter)) standing++;
    for (const [tally, votes] of this.alarmVotes) {
      if (standing <= MAX_ALARM_VOTES_PER_MEMBER) break;
      if (tally === cast || !votes.delete(voter)) continue;
      standing--;
      if (votes.size === 0) this.alarmVotes.delete(tally);
    }
  }

  /** Members whose vote to raise or clear `alarm` on `memberId` stands (short of the quorum), sorted. */
  alarmVotersOf(action: 'activate' | 'deactivate', memberId: string, alarm: AlarmKind): string[] {
    const votes = this.alarmVotes.get(action === 'deactivate' ? `deactivate/${alarm}/${memberId}` : alarm === 'NOSPACE' ? 'activate/NOSPACE' : `activate/CORRUPT/${memberId}`);
    return [...votes ?? []].filter(([, about]) => about === memberId).map(([voter]) => voter).sort();
  }

  /** The leaseExpiryQuorum-th highest vote (0 when fewer members voted). */
  private compactQuorumRevision(): number {
    const votes = [...this.compactVotes.values()].sort((a, b) => b - a);
    return votes[this.leaseExpiryQuorum - 1] ?? 0;
  }

  clientUrlsOf(member: string): readonly string[] {
    return this.memberClientUrls.get(member) ?? [];
  }

  /** A committed membership change (the protocol's config entry): keeps the member table. */
  applyConfig(data: Uint8Array, _index: Index): void {
    this.cluster.applyMembershipChange(data);
  }

  /** The name a member published for itself (members added at runtime), if any. */
  publishedNameOf(nodeId: string): string | undefined {
    return this.memberNames.get(nodeId);
  }

  /** Drop what belongs to the old cluster (a snapshot restored as the start of a new one). */
  resetForNewCluster(): void {
    this.cluster.clear();
    this.alarmVotes.clear();
    this.memberClientUrls.clear();
    this.memberNames.clear();
    this.sessions.clear();
    this.auth.newCluster();
  }

  /**
   * Under a Byzantine protocol a member publishes only its own URLs and name: another member's
   * (the primary's, whose client URL membership calls were forwarded to with the caller's token)
   * would let a liar redirect clients, and their tokens, to itself. Refused alike on every member.
   */
  private publish(req: PublishMember, origin: string | undefined): KvOutcome {
    if (origin !== undefined && req.name !== origin) return { ok: false, error: 'malformed-command' };
    this.memberClientUrls.set(req.name, [...req.clientUrls]);
    if (req.memberName !== undefined) this.memberNames.set(req.name, req.memberName);
    return { ok: true, result: { op: 'publish-member', revision: this.store.revision } };
  }

  /** The whole replicated state, for the log's snapshots (members install it from one another). */
  snapshot(): Uint8Array {
    return encodeWhole(this.beginEncoding(true));
  }

  /**
   * The state a client may download (Maintenance.Snapshot) and `quorate snapshot restore` reads:
   * everything but the token key (see AuthStore.snapshot) and client sessions (this cluster's
   * bookkeeping of its own proposers; a restored cluster starts without them).
   */
  clientSnapshot(): Uint8Array {
    return encodeWhole(this.beginEncoding(false));
  }

  /** snapshot(), as of now, encoded in slices while later commands apply (see KvSnapshotEncoding). */
  beginSnapshot(): SnapshotEncoding {
    return this.beginEncoding(true);
  }

  private beginEncoding(whole: boolean): KvSnapshotEncoding {
    const sessions = whole ? [...this.sessions].map(([client, s]) => [client, s.lowestPending, [...s.results]]) : [];
    const rest = {
      sessions, members: [...this.memberClientUrls], auth: this.auth.snapshot(whole), leases: this.leases.snapshot(),
      ...(whole && this.expiryVotes.size > 0 ? { expiryVotes: [...this.expiryVotes].map(([id, v]) => [id, v.renewals, [...v.voters]]) } : {}),
      ...(whole && this.compactVotes.size > 0 ? { compactVotes: [...this.compactVotes] } : {}),
      ...(whole && this.alarmVotes.size > 0 ? { alarmVotes: [...this.alarmVotes].map(([tally, votes]) => [tally, [...votes]]) } : {}),
      cluster: this.cluster.toSnapshot(), memberNames: [...this.memberNames],
    };
    // History is rewritten only by a compaction (the encoding holds on to what it still needs) or a restore (it is abandoned).
    const stopListening = [
      this.store.onBeforeCompact(() => encoding.detach()),
      this.store.onRestore(() => encoding.abandon()),
    ];
    const encoding: KvSnapshotEncoding = new KvSnapshotEncoding({
      format: SNAPSHOT_FORMAT, revision: this.store.revision, compactRevision: this.store.compactRevision,
      histories: () => this.store.histories(), keyCount: this.store.keyCount, keysBytes: this.store.snapshotBytes, rest,
    }, () => { for (const stop of stopListening) stop(); }, this.mutant);
    return encoding;
  }

  /** Replace the whole state with a snapshot's: beginRestore stepped to its end, at once. */
  restore(data: Uint8Array): void {
    const restoring = this.beginRestore(data);
    while (!restoring.step(Number.POSITIVE_INFINITY));
    restoring.install();
  }

  /**
   * restore(), decoded in slices (see KvSnapshotDecoding) into new structures while this state
   * stays as it is; install() then swaps them in. A snapshot it cannot read throws at some step,
   * and this state is untouched.
   */
  beginRestore(data: Uint8Array): SnapshotRestoring {
    const decoding = new KvSnapshotDecoding(data, READABLE_SNAPSHOT_FORMATS);
    let prepared: (() => void) | null = null;
    let installed = false;
    return {
      step: (budgetBytes) => {
        if (prepared !== null) return true;
        if (!decoding.step(budgetBytes)) return false;
        prepared = this.prepareRestore(decoding);
        return true;
      },
      install: () => {
        assert(prepared !== null && !installed, () => (installed ? 'a restore is installed once' : 'a restore is decoded before it is installed'));
        installed = true;
        prepared();
      },
    };
  }

  /** Everything besides the keys, converted (small), and a check of what install would assert; returns the swap. */
  private prepareRestore(decoding: KvSnapshotDecoding): () => void {
    const snap = decoding.rest() as {
      sessions: [string, number, [number, KvOutcome][]][];
      members: [string, string[]][];
      auth?: unknown;
      /** [id, ttlSeconds, renewals]; absent in snapshots taken before leases existed. Ids are numbers in format 1. */
      leases?: [LeaseId | number, number, number][];
      cluster?: unknown;
      memberNames?: [string, string][];
      /** [lease id, renewals, voters]: expiry votes short of the quorum (Byzantine protocols only). */
      expiryVotes?: [LeaseId | number, number, string[]][];
      /** [member, revision]: compaction votes short of the quorum (Byzantine protocols only). */
      compactVotes?: [string, number][];
      /** [tally, [voter, member named][]]: alarm votes short of the quorum (Byzantine protocols only). */
      alarmVotes?: [string, [string, string][]][];
    };
    const keys = decoding.decodedKeys();
    const leases = (snap.leases ?? []).map(([id, ttlSeconds, renewals]): [LeaseId, number, number] => [restoredLeaseId(id), ttlSeconds, renewals]);
    const leaseIds = new Set(leases.map(([id]) => id));
    for (const [key, lease] of keys.leasedKeys) {
      assert(leaseIds.has(lease), () => `restored key ${JSON.stringify(key)} is attached to lease ${lease}, which the snapshot lists`);
    }
    const memberClientUrls = new Map(snap.members);
    const memberNames = new Map(snap.memberNames ?? []);
    const expiryVotes = new Map((snap.expiryVotes ?? []).map(([id, renewals, voters]) => [restoredLeaseId(id), { renewals, voters: new Set(voters) }]));
    const compactVotes = new Map(snap.compactVotes ?? []);
    const alarmVotes = new Map((snap.alarmVotes ?? []).map(([tally, votes]) => [tally, new Map(votes)]));
    const sessions = new Map(snap.sessions.map(([client, lowestPending, results]): [string, Session] => [
      client, { lowestPending, results: new Map(results.map(([seq, outcome]) => [seq, withTextLeaseIds(outcome) as KvOutcome])) },
    ]));
    // A trial of the auth and cluster tables (small) on fresh ones: what they refuse, they refuse now, before the swap begins.
    new AuthStore().restore(snap.auth);
    new ClusterState().fromSnapshot(snap.cluster);
    return () => {
      this.store.restoreBuilt(keys.index, keys.revision, keys.compactRevision, keys.changes);
      this.leases.restoreAttached(leases, keys.leasedKeys);
      this.memberClientUrls = memberClientUrls;
      this.auth.restore(snap.auth);
      this.cluster.fromSnapshot(snap.cluster);
      this.memberNames = memberNames;
      this.expiryVotes = expiryVotes;
      this.compactVotes = compactVotes;
      this.alarmVotes = alarmVotes;
      this.sessions = sessions;
    };
  }

  private session(client: string): Session {
    let s = this.sessions.get(client);
    if (s !== undefined) {
      this.sessions.delete(client); // re-insert: Map order is least recently active first
    } else {
      s = { results: new Map(), lowestPending: 0 };
    }
    this.sessions.set(client, s);
    if (this.sessions.size > MAX_KV_SESSIONS) {
      const oldest = this.sessions.keys().next();
      assert(!oldest.done, 'a session to evict');
      this.sessions.delete(oldest.value);
    }
    return s;
  }

  private forgetAnswered(session: Session, lowestPending: number): void {
    if (lowestPending > session.lowestPending) {
      session.lowestPending = lowestPending;
      for (const seq of session.results.keys()) {
        if (seq < lowestPending) session.results.delete(seq);
      }
    }
    // A client that never reports progress cannot grow its session without bound.
    while (session.results.size > MAX_RESULTS_PER_SESSION) {
      const oldest = session.results.keys().next();
      assert(!oldest.done, 'a result to drop');
      session.results.delete(oldest.value);
    }
  }
}

/** A txn none of whose branches writes. */
function isReadOnlyTxn(req: Extract<KvRequest, { op: 'txn' }>): boolean {
  return [...req.success, ...req.failure].every((op) => op.op === 'range' || (op.op === 'txn' && isReadOnlyTxn(op)));
}

/** Refused while a NOSPACE alarm is active (etcd's capped applier): puts, and txns holding a put. */
function writesData(req: KvRequest): boolean {
  switch (req.op) {
    case 'put': return true;
    case 'txn': return [...req.success, ...req.failure].some((op) => op.op === 'put' || (op.op === 'txn' && writesData(op)));
    default: return false;
  }
}


/**
 * An answer kept for retries, from a snapshot taken before lease ids were text, with its lease ids
 * as text (a key value's `lease`, a lease result's `id`): the answer the new code would have kept
 * for the same command, so a member that restored the snapshot holds the same state as one that
 * replayed the command. Answers already in text come back as they are.
 */
function withTextLeaseIds(v: unknown, field?: string): unknown {
  if (typeof v === 'number') return field === 'lease' || field === 'lease-id' ? leaseIdOf(v) ?? v : v;
  if (Array.isArray(v)) return v.some((x) => typeof x === 'object' && x !== null) ? v.map((x) => withTextLeaseIds(x)) : v;
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return v;
  const o = v as Record<string, unknown>;
  const leaseResult = typeof o['op'] === 'string' && o['op'].startsWith('lease-');
  let copy: Record<string, unknown> | null = null;
  for (const [k, x] of Object.entries(o)) {
    const y = withTextLeaseIds(x, leaseResult && k === 'id' ? 'lease-id' : k);
    if (y !== x) (copy ??= { ...o })[k] = y;
  }
  return copy ?? o;
}

/** All of an encoding at once. */
function encodeWhole(encoding: SnapshotEncoding): Uint8Array {
  const bytes = encoding.step(Number.POSITIVE_INFINITY);
  assert(bytes !== null, 'an unbounded step finishes a snapshot');
  return bytes;
}

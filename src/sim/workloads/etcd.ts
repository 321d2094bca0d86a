/**
 * The etcd workload: the MVCC store the server ships (KvStateMachine), driven through client
 * sessions the way the server drives it: range, put, delete, a compare-and-swap txn, and leases
 * (grant, put a key with the lease, revoke: which deletes the key). Values are strings, so the
 * checker compares what a range returned with what puts wrote, key by key.
 *
 * Each client owns one lease key (`L<client>`): only it puts that key with its lease and revokes
 * the lease, everyone reads it; so a revoke is a delete of that key (if the key still carries the
 * lease), and each key's history stays checkable on its own.
 */
import type { Operation } from '../../check/history.js';
import { pack, unpack } from '../../core/codec.js';
import type { Random } from '../../core/prng.js';
import type { StateMachine } from '../../core/replica.js';
import { encodeKvCommand, KvStateMachine, NO_LEASE, type KvCommand, type KvOutcome, type LeaseRequest } from '../../statemachine/mvcc/index.js';
import type { KvRequest, RangeRequest, TxnRequest } from '../../statemachine/mvcc/requests.js';
import { AUTH_KEY, EtcdAuth, type AuthStep } from './etcd-auth.js';
import type { ClientKind, OrderingMember, Workload, WorkloadOp } from './workload.js';

/**
 * A register no simulated member writes: nothing in a simulated run raises an alarm honestly (the
 * quota and the corruption check are the server's), so an operation refused for one ('corrupt',
 * 'no-space') read it as raised, which the checker judges impossible (see alarmSeen).
 */
export const ALARM_KEY = '@alarm';
/** The session the liar's alarms are ordered under (see liarCommand). */
const LIAR_ALARM_CLIENT = 'liar-alarms';

/** Share of reads served by a read barrier and a local read (the rest go through the log). */
export const LOCAL_READ_SHARE = 0.8;
/** Share of operations on a client's own lease key (grant, put with the lease, revoke). */
export const LEASE_OP_SHARE = 0.15;
/** TTL of the workload's leases: longer than a run, since only the server's leader would expire them. */
export const LEASE_TTL_SECONDS = 3_600;
/** Lease ids: client * this + a counter, far below 2^48. */
const LEASE_IDS_PER_CLIENT = 1_000_000;

const enc = new TextEncoder();
const dec = new TextDecoder();
const EMPTY = new Uint8Array(0);

type EtcdOpKind = 'get' | 'put' | 'delete' | 'cas' | 'lease-grant' | 'lease-put' | 'lease-revoke' | 'auth';

export interface EtcdOp extends WorkloadOp {
  readonly f: EtcdOpKind;
  readonly key: string;
  readonly value?: string;
  /** cas: the value expected (null: the key must not exist). */
  readonly expected?: string | null;
  readonly lease?: number;
  /** lease-revoke: whether the lease key surely, maybe or surely not carries this lease. */
  readonly attached?: 'yes' | 'maybe' | 'no';
  /** auth: the login or administrator's change (key: AUTH_KEY). */
  readonly step?: AuthStep;
  /** Auth runs: the user the client's commands name (absent: none). */
  readonly user?: string;
}

/** What a client knows of its own lease and lease key. */
interface ClientLease {
  next: number;
  /** The lease granted (or maybe granted) and not yet revoked; 0: none. */
  current: number;
  /** Whether the lease key carries `current`. */
  attached: 'yes' | 'maybe' | 'no';
}

export class EtcdWorkload implements Workload<EtcdOp, KvOutcome> {
  readonly name = 'etcd';
  private readonly leases = new Map<number, ClientLease>();
  private values = 0;
  /** Auth runs: users, roles, logins (see etcd-auth.ts); null in the others. */
  private readonly auth: EtcdAuth | null;

  /**
   * `mutant`: the run's mutant, passed on to the state machine (which knows its own,
   * STATE_MACHINE_MUTANTS). `auth`: in a run with auth, its own random stream (salts, token keys).
   * `alarmQuorum`: f + 1 under a Byzantine protocol, as the server builds its state machine
   * (leaseExpiryQuorum: members' alarms, lease expiries and compactions are votes); 1 otherwise.
   */
  constructor(private readonly keys: number, private readonly mutant?: string, auth?: Random, private readonly alarmQuorum = 1) {
    this.auth = auth === undefined ? null : new EtcdAuth(auth);
  }

  useClient(client: number, kind: ClientKind): void {
    this.auth?.useClient(client, kind);
  }

  /**
   * With auth: the auth lie (etcd-auth.ts). Without: a member's alarm, CORRUPT or NOSPACE in turn,
   * naming some member, as a liar's server could order on its own word; one liar's vote must
   * raise nothing (see ALARM_KEY).
   */
  liarCommand(random: Random, seq: number): Uint8Array | null {
    if (this.auth !== null) return this.auth.liarCommand(random, seq);
    const request = { op: 'alarm' as const, action: 'activate' as const, memberId: String(1 + (seq % 4)), alarm: seq % 2 === 0 ? 'CORRUPT' as const : 'NOSPACE' as const };
    return encodeKvCommand({ client: LIAR_ALARM_CLIENT, seq, lowestPending: seq, request });
  }

  createStateMachine(): StateMachine<KvOutcome> {
    return new KvStateMachine(undefined, {
      ...(this.mutant === undefined ? {} : { mutant: this.mutant }),
      ...(this.alarmQuorum > 1 ? { leaseExpiryQuorum: this.alarmQuorum } : {}),
    });
  }

  encodeResult(r: KvOutcome): Uint8Array {
    return pack(r);
  }

  decodeResult(bytes: Uint8Array): KvOutcome {
    return unpack(bytes) as KvOutcome;
  }

  next(random: Random, client: number, readsOnly: boolean, finalReads = readsOnly): EtcdOp {
    if (this.auth === null) return this.nextOp(random, client, readsOnly);
    const user = this.auth.userOf(client);
    // A reader client's administrator still sets auth up and logs in (only the final reads are reads alone).
    const choice = this.auth.next(random, client, finalReads);
    const op = choice.kind === 'auth'
      ? { f: 'auth' as const, key: AUTH_KEY, step: choice.step, label: choice.label, localRead: false, readOnly: false, afterBarrier: choice.step.kind === 'login' }
      : this.nextOp(random, client, readsOnly || choice.kind === 'read');
    return user === null ? op : { ...op, user, label: `${op.label} as ${user}` };
  }

  private nextOp(random: Random, client: number, readsOnly: boolean): EtcdOp {
    if (readsOnly) {
      const key = this.readKey(random);
      return { f: 'get', key, label: `get ${key}`, localRead: true, readOnly: true };
    }
    if (random.chance(LEASE_OP_SHARE)) return this.leaseOp(random, client);
    const roll = random.float();
    if (roll < 0.4) {
      const key = this.readKey(random);
      return { f: 'get', key, label: `get ${key}`, localRead: random.chance(LOCAL_READ_SHARE), readOnly: random.chance(0.5) };
    }
    // Only a lease key's owner writes it (through its lease operations): other writes go to the shared keys.
    const key = `k${random.int(1, this.keys)}`;
    const value = `v${++this.values}`;
    if (roll < 0.65) return { f: 'put', key, value, label: `put ${key}=${value}`, localRead: false, readOnly: false };
    if (roll < 0.9) {
      const expected = random.chance(0.2) ? null : `v${random.int(Math.max(1, this.values - 6), this.values)}`;
      return { f: 'cas', key, value, expected, label: `cas ${key} ${expected}→${value}`, localRead: false, readOnly: false };
    }
    return { f: 'delete', key, label: `delete ${key}`, localRead: false, readOnly: false };
  }

  command(op: EtcdOp, s: { client: number; seq: number; lowestPending: number }, at?: OrderingMember<KvOutcome>): Uint8Array {
    const request = op.step === undefined ? this.request(op) : this.auth!.request(op.step, s.client, (at?.sm ?? null) as KvStateMachine | null, at?.origin ?? '');
    // A login carries no user (it proves one, as the server's Authenticate, which has no token yet).
    const user = op.step?.kind === 'login' ? undefined : op.user;
    const cmd: KvCommand = { client: `c${s.client}`, seq: s.seq, lowestPending: s.lowestPending, request, ...(user === undefined ? {} : { user }) };
    return encodeKvCommand(cmd);
  }

  /** A read after the member's read barrier; with auth on, checked against the user's permissions first (as the server does). */
  readLocal(sm: StateMachine<KvOutcome>, op: EtcdOp): KvOutcome {
    const kv = sm as KvStateMachine;
    const request = range(op.key);
    const denied = this.auth === null ? null : kv.auth.checkRange(op.user ?? null, request.key, request.rangeEnd);
    return denied === null ? kv.execute(request) : { ok: false, error: denied };
  }

  record(op: EtcdOp, client: number, outcome: 'ok' | 'unknown', result: KvOutcome | undefined, invokedAt: number, completedAt: number, nextId: () => number): Operation[] {
    const alarm = alarmSeen(client, outcome, result, invokedAt, completedAt, nextId);
    if (op.f === 'auth') return [...this.auth!.record(client, op.step, false, false, outcome, result, invokedAt, completedAt, nextId), ...alarm];
    const ops = [...this.recordKv(op, client, outcome, result, invokedAt, completedAt, nextId), ...alarm];
    if (this.auth === null) return ops;
    const kvOp = op.f === 'get' || op.f === 'put' || op.f === 'delete' || op.f === 'cas' || op.f === 'lease-put';
    return [...ops, ...this.auth.record(client, undefined, kvOp, op.f !== 'get', outcome, result, invokedAt, completedAt, nextId)];
  }

  private recordKv(op: EtcdOp, client: number, outcome: 'ok' | 'unknown', result: KvOutcome | undefined, invokedAt: number, completedAt: number, nextId: () => number): Operation[] {
    const done = outcome === 'unknown' ? Number.POSITIVE_INFINITY : completedAt;
    const base = { client, key: op.key, invokedAt, completedAt: done };
    const failed = outcome === 'ok' && result !== undefined && !result.ok;
    const status: Operation['outcome'] = outcome === 'unknown' ? 'unknown' : failed ? 'fail' : 'ok';
    this.learn(op, client, status);
    switch (op.f) {
      case 'get': {
        if (status !== 'ok' || result === undefined || !result.ok) return [{ id: nextId(), ...base, kind: 'read', outcome: status === 'ok' ? 'fail' : status }];
        const r = result.result;
        const value = r.op === 'range' && r.kvs.length > 0 ? dec.decode(r.kvs[0]!.value) : null;
        return [{ id: nextId(), ...base, kind: 'read', outcome: 'ok', result: value }];
      }
      case 'put':
      case 'lease-put':
        return [{ id: nextId(), ...base, kind: 'write', value: op.value ?? null, outcome: status }];
      case 'delete':
        return [{ id: nextId(), ...base, kind: 'delete', outcome: status }];
      case 'cas': {
        // A refused txn (auth) compared nothing: it is no failed compare, and says nothing of the key.
        if (failed) return [];
        const succeeded = status === 'ok' && result !== undefined && result.ok && result.result.op === 'txn' && result.result.succeeded;
        const casOutcome = status === 'unknown' ? 'unknown' : succeeded ? 'ok' : 'fail';
        return [{ id: nextId(), ...base, kind: 'cas', expected: op.expected ?? null, value: op.value ?? null, outcome: casOutcome }];
      }
      case 'lease-grant':
      case 'auth':
        return []; // touches no key (auth: see EtcdAuth.record)
      case 'lease-revoke': {
        // Revoking deletes the lease key if it still carries the lease; if that is uncertain, so is the delete.
        if (op.attached === 'no' || status === 'fail') return [];
        const certain = status === 'ok' && op.attached === 'yes';
        return [{ id: nextId(), ...base, kind: 'delete', outcome: certain ? 'ok' : 'unknown', completedAt: certain ? completedAt : Number.POSITIVE_INFINITY }];
      }
    }
  }

  /** A key to read: a shared key, or now and then a client's lease key (read by everyone, written by its owner). */
  private readKey(random: Random): string {
    if (this.leases.size > 0 && random.chance(0.2)) return `L${random.pick([...this.leases.keys()])}`;
    return `k${random.int(1, this.keys)}`;
  }

  private leaseOp(random: Random, client: number): EtcdOp {
    let l = this.leases.get(client);
    if (l === undefined) {
      l = { next: 1, current: 0, attached: 'no' };
      this.leases.set(client, l);
    }
    const key = `L${client}`;
    if (l.current === 0) {
      const id = client * LEASE_IDS_PER_CLIENT + l.next++;
      return { f: 'lease-grant', key, lease: id, label: `lease-grant ${id}`, localRead: false, readOnly: false };
    }
    if (l.attached !== 'yes' && random.chance(0.7)) {
      const value = `v${++this.values}`;
      return { f: 'lease-put', key, value, lease: l.current, label: `put ${key}=${value} lease ${l.current}`, localRead: false, readOnly: false };
    }
    return { f: 'lease-revoke', key, lease: l.current, attached: l.attached, label: `lease-revoke ${l.current}`, localRead: false, readOnly: false };
  }

  /** What the client now knows of its lease after `op` ended with `status`. */
  private learn(op: EtcdOp, client: number, status: Operation['outcome']): void {
    const l = this.leases.get(client);
    if (l === undefined) return;
    switch (op.f) {
      case 'lease-grant':
        // An unknown grant may exist: use it anyway (a put with a lease that does not exist fails, which the history says).
        if (status !== 'fail') l.current = op.lease ?? 0;
        l.attached = 'no';
        return;
      case 'lease-put':
        l.attached = status === 'ok' ? 'yes' : status === 'unknown' ? (l.attached === 'yes' ? 'yes' : 'maybe') : l.attached;
        return;
      case 'lease-revoke':
        // Whether or not it took effect, the client moves on to a new lease (an unknown revoke may happen later).
        l.current = 0;
        l.attached = 'no';
        return;
      default:
        // A plain put or delete of the lease key by its owner never happens (only lease ops write it).
        return;
    }
  }

  private request(op: EtcdOp): KvRequest | Extract<LeaseRequest, { op: 'lease-grant' | 'lease-revoke' }> {
    const key = enc.encode(op.key);
    // The state machine holds lease ids as text (statemachine/mvcc/lease-id.ts).
    const lease = String(op.lease ?? 0);
    switch (op.f) {
      case 'get': return range(op.key);
      case 'put': return { op: 'put', key, value: enc.encode(op.value ?? ''), lease: NO_LEASE, prevKv: false, ignoreValue: false, ignoreLease: false };
      case 'lease-put': return { op: 'put', key, value: enc.encode(op.value ?? ''), lease, prevKv: false, ignoreValue: false, ignoreLease: false };
      case 'delete': return { op: 'delete', key, rangeEnd: EMPTY, prevKv: false };
      case 'cas': {
        const compare: TxnRequest['compare'] = op.expected === null || op.expected === undefined
          ? [{ result: 'EQUAL', target: 'VERSION', key, rangeEnd: EMPTY, operand: 0 }]
          : [{ result: 'EQUAL', target: 'VALUE', key, rangeEnd: EMPTY, operand: enc.encode(op.expected) }];
        return { op: 'txn', compare, success: [{ op: 'put', key, value: enc.encode(op.value ?? ''), lease: NO_LEASE, prevKv: false, ignoreValue: false, ignoreLease: false }], failure: [] };
      }
      case 'lease-grant': return { op: 'lease-grant', id: lease, ttlSeconds: LEASE_TTL_SECONDS };
      case 'lease-revoke': return { op: 'lease-revoke', id: lease };
      case 'auth': throw new Error('an auth operation is made by EtcdAuth.request');
    }
  }
}

/** An operation refused for an alarm read ALARM_KEY as raised, which no simulated member writes. */
function alarmSeen(client: number, outcome: 'ok' | 'unknown', result: KvOutcome | undefined, invokedAt: number, completedAt: number, nextId: () => number): Operation[] {
  if (outcome !== 'ok' || result === undefined || result.ok || (result.error !== 'corrupt' && result.error !== 'no-space')) return [];
  return [{ id: nextId(), client, key: ALARM_KEY, invokedAt, completedAt, kind: 'read', outcome: 'ok', result: `raised (${result.error})` }];
}

function range(key: string): RangeRequest {
  return {
    op: 'range', key: enc.encode(key), rangeEnd: EMPTY, limit: 0, revision: 0, sortOrder: 'NONE', sortTarget: 'KEY',
    keysOnly: false, countOnly: false, minModRevision: 0, maxModRevision: 0, minCreateRevision: 0, maxCreateRevision: 0,
  };
}

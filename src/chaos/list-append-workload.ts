/**
 * The list-append workload (Elle's, as Jepsen's etcd test runs it): clients run transactions of
 * one to four micro-ops, appends and reads over a few keys, each bound to one member, through the
 * etcd v3 API, and record every transaction as the list-append checker reads it
 * (src/check/elle/). A key holds its list as comma-joined values.
 *
 * One transaction, optimistically:
 * 1. read the keys it touches in one Txn of Ranges (no compares: one snapshot);
 * 2. a read-only transaction is then done (ok); otherwise one Txn whose compares require each
 *    touched key's mod_revision to be what step 1 saw (create_revision 0: still absent), whose
 *    success branch returns the touched keys (Ranges, before the Puts) and puts each appended-to
 *    key's new list. A failed compare commits nothing: the transaction `fail`s.
 *
 * Outcomes, as the register workload records them: a read step that failed committed nothing
 * (`fail`); a commit never sent (no connection to the member) is left out of the history; a commit
 * that failed or timed out after it may have been sent is `unknown` (it may yet commit), and its
 * client is retired for a fresh one. Keys retire after MAX_APPENDS_PER_KEY appends, so lists
 * stay short (Jepsen's max-writes-per-key).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkListAppend, formatListAppendResult } from '../check/elle/check.js';
import type { ListValue, MicroOp, Txn, TxnOutcome } from '../check/elle/history.js';
import { toListAppendJsonLines } from '../check/elle/jsonl.js';
import { etcdService } from '../server/proto.js';
import { call, channels, countOutcomes, neverSent, type CallResult, type Stub } from './etcd-clients.js';
import { BACKOFF_MS, MAX_OPERATIONS, THINK_MS } from './register-workload.js';
import type { ChaosWorkload, Outcomes, WorkloadCheck, WorkloadContext } from './workload.js';

/** Keys in use at once (Jepsen's etcd append test: a handful, so transactions conflict). */
export const DEFAULT_LIST_KEYS = 8;
/** Appends after which a key is retired for a fresh one. */
export const MAX_APPENDS_PER_KEY = 64;
/** Micro-ops per transaction: 1 to this many. */
export const MAX_MICRO_OPS = 4;

export class ListAppendWorkload implements ChaosWorkload {
  readonly history: Txn[] = [];
  readonly maxOperations = MAX_OPERATIONS;
  private stopping = false;
  private nextId = 0;
  private nextValue = 1;
  private nextKey = 0;
  private readonly active: string[] = [];
  private readonly appends = new Map<string, number>();
  private readonly kvs: Stub[];
  private loops: Promise<void>[] = [];
  /** Commits never sent (no connection to their member): not in the history. */
  private unsent = 0;
  /** When the clients stopped because the history reached MAX_OPERATIONS (run clock), or null. */
  cappedAt: number | null = null;

  constructor(private readonly o: WorkloadContext) {
    this.kvs = channels(etcdService('KV', 'string'), o.endpoints);
    for (let i = 0; i < Math.max(1, o.keys); i++) this.active.push(this.freshKey());
  }

  start(): void {
    for (let c = 0; c < this.o.clients; c++) this.loops.push(this.loop(c));
  }

  /** Let the transactions in flight end (each call has a deadline), then close the channels. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
    for (const kv of this.kvs) kv.close();
  }

  timed(): readonly Txn[] {
    return this.history;
  }

  save(dir: string): string[] {
    writeFileSync(join(dir, 'history.jsonl'), toListAppendJsonLines(this.history));
    return ['`history.jsonl` (check again with `quorate check --format jsonl --model list-append`)'];
  }

  /** Strict serializability (etcd's transactions claim it): real-time order counts. */
  check(timeoutMs: number): WorkloadCheck {
    const r = checkListAppend(this.history, { timeoutMs });
    const types = Object.keys(r.counts);
    const summary = r.verdict === 'valid' ? 'valid (no anomaly)' : r.verdict === 'invalid' ? types.join(', ') : 'unknown';
    const text = formatListAppendResult(r);
    const details = text.length === 0 ? '' : ['```', ...text, '```'].join('\n');
    return { verdict: r.verdict, summary, operations: r.transactions, details };
  }

  legend(): string {
    const c = this.counts();
    return [
      `Outcomes: "ok" is ${c.ok} transactions that committed (or read-only ones that read);`,
      `"fail" is ${c.fail} whose compare on a key's revision was false (another transaction wrote a key it touched; nothing committed) or whose read step failed;`,
      `"unknown" is ${c.unknown} whose commit failed or timed out after it was sent (it may commit at any later time; its client was replaced);`,
      `"not sent" is ${c.notSent} commits the client's channel had no connection for (not in the history).`,
    ].join(' ');
  }

  counts(): Outcomes {
    return countOutcomes(this.history, this.unsent);
  }

  private freshKey(): string {
    return `a${this.nextKey++}`;
  }

  private async loop(slot: number): Promise<void> {
    let client = slot;
    const kv = this.kvs[slot % this.kvs.length]!;
    while (!this.stopping) {
      if (this.history.length >= MAX_OPERATIONS) {
        this.cappedAt ??= this.o.now();
        return;
      }
      const outcome = await this.transaction(kv, client);
      if (outcome === 'unknown') client += this.o.clients;
      await sleep(outcome === 'ok' ? THINK_MS : BACKOFF_MS);
    }
  }

  /** A transaction's micro-ops, reads unfilled; appends of values unique in the whole run. */
  private generate(): MicroOp[] {
    const random = this.o.random;
    const ops: MicroOp[] = [];
    const n = random.int(1, MAX_MICRO_OPS);
    for (let i = 0; i < n; i++) {
      const slot = random.int(0, this.active.length - 1);
      const key = this.active[slot]!;
      if (random.chance(0.5)) {
        ops.push(['r', key, null]);
        continue;
      }
      ops.push(['append', key, this.nextValue++]);
      const count = (this.appends.get(key) ?? 0) + 1;
      if (count >= MAX_APPENDS_PER_KEY) {
        this.appends.delete(key);
        this.active[slot] = this.freshKey();
      } else {
        this.appends.set(key, count);
      }
    }
    return ops;
  }

  private async transaction(kv: Stub, client: number): Promise<TxnOutcome | 'not-sent'> {
    const ops = this.generate();
    const id = this.nextId++;
    const keys = touchedKeys(ops);
    const invokedAt = this.o.now();
    const read = await call(kv, 'Txn', readRequest(keys));
    const readOnly = ops.every((op) => op[0] === 'r');
    const commit = read.err !== null || readOnly ? null : await call(kv, 'Txn', commitRequest(ops, keys, readStates(keys, read.value)));
    const completedAt = this.o.now();
    const recorded = recordTxn({ id, client, ops }, read, commit, invokedAt, completedAt);
    if (recorded === 'not-sent') {
      this.unsent++;
      return 'not-sent';
    }
    this.history.push(recorded);
    return recorded.outcome;
  }
}

/** A transaction as the workload generated it: reads not yet filled. */
export interface TxnInvocation {
  readonly id: number;
  readonly client: number;
  readonly ops: readonly MicroOp[];
}

/** What the read step saw of a key: its list (null: absent) and its mod_revision ("0": absent). */
export interface KeyState {
  readonly list: readonly ListValue[] | null;
  readonly modRevision: string;
}

/** The keys the micro-ops touch, each once, in order of first touch. */
export function touchedKeys(ops: readonly MicroOp[]): string[] {
  return [...new Set(ops.map((op) => op[1]))];
}

/** Step 1: a Txn with no compares that ranges every touched key (one snapshot). */
export function readRequest(keys: readonly string[]): unknown {
  return { compare: [], success: keys.map((k) => ({ request_range: { key: Buffer.from(k) } })), failure: [] };
}

/** A stored list: comma-joined values, integers where they read as such; empty or absent: null. */
export function parseList(bytes: Buffer | undefined): ListValue[] | null {
  if (bytes === undefined || bytes.length === 0) return null;
  return bytes.toString('utf8').split(',').map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

interface RangeAnswer { kvs?: { value: Buffer; mod_revision?: string | number }[] }
interface TxnAnswer { succeeded?: boolean; responses?: { response_range?: RangeAnswer }[] }

/** The touched keys' states from a Txn answer whose first responses are their Ranges, in order. */
export function readStates(keys: readonly string[], answer: unknown): Map<string, KeyState> {
  const responses = (answer as TxnAnswer | null)?.responses ?? [];
  const states = new Map<string, KeyState>();
  keys.forEach((k, i) => {
    const kv = responses[i]?.response_range?.kvs?.[0];
    states.set(k, kv === undefined ? { list: null, modRevision: '0' } : { list: parseList(kv.value), modRevision: String(kv.mod_revision ?? '0') });
  });
  return states;
}

/**
 * Step 2: compares that each touched key is as step 1 read it (mod_revision, or create_revision
 * 0 for a key that was absent); on success, Ranges of the touched keys (what the transaction
 * read, at its commit), then a Put of each appended-to key's new list.
 */
export function commitRequest(ops: readonly MicroOp[], keys: readonly string[], states: ReadonlyMap<string, KeyState>): unknown {
  const compare = keys.map((k) => {
    const s = states.get(k);
    const key = Buffer.from(k);
    return s === undefined || s.modRevision === '0'
      ? { key, target: 'CREATE', result: 'EQUAL', create_revision: '0' }
      : { key, target: 'MOD', result: 'EQUAL', mod_revision: s.modRevision };
  });
  const lists = new Map<string, ListValue[]>();
  for (const op of ops) {
    if (op[0] !== 'append') continue;
    const list = lists.get(op[1]) ?? [...(states.get(op[1])?.list ?? [])];
    list.push(op[2]);
    lists.set(op[1], list);
  }
  const ranges = keys.map((k) => ({ request_range: { key: Buffer.from(k) } }));
  const puts = [...lists].map(([k, list]) => ({ request_put: { key: Buffer.from(k), value: Buffer.from(list.join(',')) } }));
  return { compare, success: [...ranges, ...puts], failure: [] };
}

/** The micro-ops with each read filled: the key's state at the start plus the transaction's own appends before it. */
export function completeOps(ops: readonly MicroOp[], states: ReadonlyMap<string, KeyState>): MicroOp[] {
  const lists = new Map<string, ListValue[] | null>();
  for (const [k, s] of states) lists.set(k, s.list === null ? null : [...s.list]);
  return ops.map((op) => {
    const current = lists.get(op[1]) ?? null;
    if (op[0] === 'append') {
      lists.set(op[1], [...(current ?? []), op[2]]);
      return op;
    }
    return ['r', op[1], current === null ? null : [...current]];
  });
}

/**
 * How a transaction's answers are recorded (pure, so every case is tested without a cluster):
 * - the read step failed: `fail` (nothing was written);
 * - read-only (no commit step): `ok` with what the read step saw;
 * - the commit never sent (`neverSent`): not in the history;
 * - the commit failed after it may have been sent: `unknown`, completing at +Infinity;
 * - the commit's compare failed (`succeeded: false`): `fail`;
 * - it succeeded: `ok`, reads filled from the commit's own Ranges.
 */
export function recordTxn(inv: TxnInvocation, read: CallResult, commit: CallResult | null, invokedAt: number, completedAt: number): Txn | 'not-sent' {
  const { id, client } = inv;
  const blank = inv.ops.map((op): MicroOp => (op[0] === 'r' ? ['r', op[1], null] : op));
  const keys = touchedKeys(inv.ops);
  if (read.err !== null) return { id, client, ops: blank, outcome: 'fail', invokedAt, completedAt };
  if (commit === null) return { id, client, ops: completeOps(inv.ops, readStates(keys, read.value)), outcome: 'ok', invokedAt, completedAt };
  if (commit.err !== null) return neverSent(commit.err) ? 'not-sent' : { id, client, ops: blank, outcome: 'unknown', invokedAt, completedAt: Number.POSITIVE_INFINITY };
  if ((commit.value as TxnAnswer | null)?.succeeded !== true) return { id, client, ops: blank, outcome: 'fail', invokedAt, completedAt };
  return { id, client, ops: completeOps(inv.ops, readStates(keys, commit.value)), outcome: 'ok', invokedAt, completedAt };
}

/**
 * The register workload: clients read, write and compare-and-set a few keys through the etcd v3
 * API (Range, Put, Txn), each bound to one member, and record every operation as the
 * linearizability checker reads it (src/check/history.ts).
 *
 * Outcomes, as Jepsen's etcd test records them: a read that failed took no effect (`fail`); a
 * write or cas that failed or timed out may still take effect (`unknown`), and its client is then
 * retired and replaced by a fresh one (a client has one operation in flight; an unknown one
 * stays in flight forever). A cas whose compare failed is `fail`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { toJsonLines } from '../check/formats.js';
import type { OpKind, Operation, Value } from '../check/history.js';
import { checkHistory, formatWindow } from '../check/linearizability.js';
import type { Random } from '../core/prng.js';
import { etcdService } from '../server/proto.js';
import { call, channels, countOutcomes, neverSent, type CallResult, type Stub } from './etcd-clients.js';
import type { ChaosWorkload, Outcomes, WorkloadCheck, WorkloadContext } from './workload.js';

/** Defaults: Jepsen's register test uses a few keys and values 0..4, so reads often meet writes. */
export const DEFAULT_KEYS = 5;
export const VALUES = 5;
/** A pause between a client's operations, so a run's history stays checkable. */
export const THINK_MS = 10;
/** After an operation that failed, its client waits this long (a down member is not hammered). */
export const BACKOFF_MS = 200;
/** The most operations one run records (a bound on memory and on the checker's work). */
export const MAX_OPERATIONS = 200_000;

export class RegisterWorkload implements ChaosWorkload {
  readonly history: Operation[] = [];
  readonly maxOperations = MAX_OPERATIONS;
  private stopping = false;
  private nextId = 0;
  private readonly kvs: Stub[];
  private loops: Promise<void>[] = [];

  constructor(private readonly o: WorkloadContext) {
    // One channel per member, shared by the clients bound to it.
    this.kvs = channels(etcdService('KV', 'string'), o.endpoints);
  }

  start(): void {
    for (let c = 0; c < this.o.clients; c++) this.loops.push(this.loop(c));
  }

  /** Let the operations in flight end (each has a deadline), then close the channels. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
    for (const kv of this.kvs) kv.close();
  }

  /** Writes and cas never sent (no connection to their member): not in the history, which holds what was asked of the cluster. */
  private unsent = 0;

  timed(): readonly Operation[] {
    return this.history;
  }

  save(dir: string): string[] {
    writeFileSync(join(dir, 'history.jsonl'), toJsonLines(this.history));
    return ['`history.jsonl` (check again with `quorate check --format jsonl --model kv`)'];
  }

  check(timeoutMs: number): WorkloadCheck {
    const r = checkHistory(this.history, 'kv', { timeoutMs });
    const verdict = r.verdict === 'linearizable' ? 'valid' : r.verdict === 'not-linearizable' ? 'invalid' : 'unknown';
    const details = r.verdict === 'not-linearizable' ? ['```', formatWindow(r), '```'].join('\n') : '';
    return { verdict, summary: r.verdict, operations: r.operations, details };
  }

  /** What the outcome counts are made of, in words (a reader cannot tell a compare from a timeout otherwise). */
  legend(): string {
    let failedReads = 0;
    let casFalse = 0;
    for (const op of this.history) {
      if (op.outcome !== 'fail') continue;
      if (op.kind === 'read') failedReads++;
      else if (op.kind === 'cas') casFalse++;
    }
    return [
      `Outcomes: "fail" is ${casFalse} compare-and-sets whose compare was false (answered, no effect) and ${failedReads} reads that got an error or timed out (no effect);`,
      `"unknown" is ${this.counts().unknown} writes and compare-and-sets that failed or timed out after they were sent (they may take effect at any later time, and their client was replaced);`,
      `"not sent" is ${this.unsent} writes and compare-and-sets the client's channel had no connection for (never sent; not in the history).`,
    ].join(' ');
  }

  counts(): Outcomes {
    return countOutcomes(this.history, this.unsent);
  }

  private async loop(slot: number): Promise<void> {
    // Jepsen's numbering: a retired client's successor is its number plus the concurrency.
    let client = slot;
    const kv = this.kvs[slot % this.kvs.length]!;
    while (!this.stopping) {
      if (this.history.length >= MAX_OPERATIONS) {
        this.cappedAt ??= this.o.now();
        return;
      }
      const outcome = await this.operation(kv, client);
      if (outcome === 'unknown') client += this.o.clients;
      await sleep(outcome === 'ok' ? THINK_MS : BACKOFF_MS);
    }
  }

  /** When the clients stopped because the history reached MAX_OPERATIONS (run clock), or null. */
  cappedAt: number | null = null;

  private async operation(kv: Stub, client: number): Promise<Operation['outcome']> {
    const r = this.o.random.float();
    const key = `k${this.o.random.int(0, this.o.keys - 1)}`;
    const value = this.o.random.int(0, VALUES - 1);
    const expected = r < 0.75 ? undefined : this.o.random.int(0, VALUES - 1);
    const id = this.nextId++;
    const keyBytes = Buffer.from(key);
    const [kind, method, request]: [OpKind, string, unknown] =
      r < 0.5 ? ['read', 'Range', { key: keyBytes }]
      : r < 0.75 ? ['write', 'Put', { key: keyBytes, value: Buffer.from(String(value)) }]
      : ['cas', 'Txn', {
        compare: [{ key: keyBytes, target: 'VALUE', result: 'EQUAL', value: Buffer.from(String(expected)) }],
        success: [{ request_put: { key: keyBytes, value: Buffer.from(String(value)) } }],
        failure: [],
      }];
    // Taken before the request is handed to the channel, and after its answer is in.
    const invokedAt = this.o.now();
    const res = await call(kv, method, request);
    const completedAt = this.o.now();
    const recorded = record({ id, client, kind, key, value, ...(expected === undefined ? {} : { expected }) }, res, invokedAt, completedAt);
    if (recorded === 'not-sent') {
      this.unsent++;
      return 'fail';
    }
    this.history.push(recorded);
    return recorded.outcome;
  }
}

/** An operation as the workload asked it, before its outcome is known. */
export interface Invocation {
  readonly id: number;
  readonly client: number;
  readonly kind: OpKind;
  readonly key: string;
  /** write, cas: the value written. */
  readonly value: number;
  /** cas: the value compared with. */
  readonly expected?: number;
}

/**
 * How an answer is recorded (pure, so every case is tested without a cluster):
 * - a read: ok with the value it saw, or fail on any error (a read takes no effect);
 * - a write or cas never sent (`neverSent`): not in the history at all;
 * - a write or cas that failed after it may have been sent (a deadline, a dropped connection,
 *   etcd's "request timed out" or "leader changed", cancelled, too many requests...): unknown,
 *   completing at +Infinity, since it may still take effect;
 * - a cas answered `succeeded: false`: fail (its compare read another value);
 * - anything else answered: ok.
 */
export function record(op: Invocation, res: CallResult, invokedAt: number, completedAt: number): Operation | 'not-sent' {
  const { id, client, kind, key } = op;
  if (kind === 'read') {
    if (res.err !== null) return { id, client, kind, key, outcome: 'fail', invokedAt, completedAt };
    const kvs = (res.value as { kvs?: { value: Buffer }[] } | null)?.kvs ?? [];
    const result: Value = kvs.length === 0 ? null : parseValue(kvs[0]!.value);
    return { id, client, kind, key, outcome: 'ok', result, invokedAt, completedAt };
  }
  const fields = { id, client, kind, key, value: op.value, ...(kind === 'cas' ? { expected: op.expected ?? null } : {}) };
  if (res.err !== null) return neverSent(res.err) ? 'not-sent' : { ...fields, outcome: 'unknown', invokedAt, completedAt: Infinity };
  const outcome = kind === 'cas' && (res.value as { succeeded?: boolean } | null)?.succeeded !== true ? 'fail' : 'ok';
  return { ...fields, outcome, invokedAt, completedAt };
}

/** A stored value as the workload wrote it (a small integer); anything else as its text. */
export function parseValue(bytes: Buffer): Value {
  const text = bytes.toString('utf8');
  return /^\d+$/.test(text) ? Number(text) : text;
}

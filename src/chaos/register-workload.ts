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
import * as grpc from '@grpc/grpc-js';
import type { Operation, Value } from '../check/history.js';
import { etcdService } from '../server/proto.js';

/** Defaults: Jepsen's register test uses a few keys and values 0..4, so reads often meet writes. */
export const DEFAULT_KEYS = 5;
export const VALUES = 5;
/** Each operation's deadline: long enough for an election, short enough to keep clients busy. */
export const OPERATION_TIMEOUT_MS = 2_000;
/** A pause between a client's operations, so a run's history stays checkable. */
export const THINK_MS = 10;
/** After an operation that failed, its client waits this long (a down member is not hammered). */
export const BACKOFF_MS = 200;
/** The most operations one run records (a bound on memory and on the checker's work). */
export const MAX_OPERATIONS = 200_000;

export interface WorkloadOptions {
  readonly endpoints: readonly string[];
  readonly clients: number;
  readonly keys: number;
  /** Drawn from for keys, operations and values (the run's seed). */
  readonly random: () => number;
  /** The clock operations are timed on (ms). */
  readonly now: () => number;
}

type Kv = grpc.Client & Record<string, (req: unknown, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: any) => void) => void>;

export class RegisterWorkload {
  readonly history: Operation[] = [];
  private stopping = false;
  private nextId = 0;
  private readonly kvs: Kv[];
  private loops: Promise<void>[] = [];

  constructor(private readonly o: WorkloadOptions) {
    const KV = etcdService('KV', 'string');
    // One channel per member, shared by the clients bound to it.
    this.kvs = o.endpoints.map((e) => new KV(e, grpc.credentials.createInsecure(), {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 500,
    }) as unknown as Kv);
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

  private notSent(): 'fail' {
    this.unsent++;
    return 'fail';
  }

  /** Counts for the report. */
  counts(): { ok: number; fail: number; unknown: number; notSent: number } {
    let ok = 0;
    let fail = 0;
    let unknown = 0;
    for (const op of this.history) {
      if (op.outcome === 'ok') ok++;
      else if (op.outcome === 'fail') fail++;
      else unknown++;
    }
    return { ok, fail, unknown, notSent: this.unsent };
  }

  private async loop(slot: number): Promise<void> {
    // Jepsen's numbering: a retired client's successor is its number plus the concurrency.
    let client = slot;
    const kv = this.kvs[slot % this.kvs.length]!;
    while (!this.stopping && this.history.length < MAX_OPERATIONS) {
      const outcome = await this.operation(kv, client);
      if (outcome === 'unknown') client += this.o.clients;
      await new Promise((done) => setTimeout(done, outcome === 'ok' ? THINK_MS : BACKOFF_MS));
    }
  }

  private async operation(kv: Kv, client: number): Promise<Operation['outcome']> {
    const r = this.o.random();
    const key = `k${Math.floor(this.o.random() * this.o.keys)}`;
    const value = Math.floor(this.o.random() * VALUES);
    const id = this.nextId++;
    const invokedAt = this.o.now();
    const keyBytes = Buffer.from(key);
    if (r < 0.5) {
      const res = await call(kv, 'Range', { key: keyBytes });
      const completedAt = this.o.now();
      if (res.err !== null) {
        this.history.push({ id, client, kind: 'read', key, outcome: 'fail', invokedAt, completedAt });
        return 'fail';
      }
      const kvs = (res.value as { kvs?: { value: Buffer }[] }).kvs ?? [];
      const result: Value = kvs.length === 0 ? null : parseValue(kvs[0]!.value);
      this.history.push({ id, client, kind: 'read', key, outcome: 'ok', result, invokedAt, completedAt });
      return 'ok';
    }
    if (r < 0.75) {
      const res = await call(kv, 'Put', { key: keyBytes, value: Buffer.from(String(value)) });
      const outcome = res.err === null ? 'ok' : neverSent(res.err) ? 'fail' : 'unknown';
      if (outcome === 'fail') return this.notSent();
      this.history.push({ id, client, kind: 'write', key, value, outcome, invokedAt, completedAt: outcome === 'ok' ? this.o.now() : Infinity });
      return outcome;
    }
    const expected = Math.floor(this.o.random() * VALUES);
    const res = await call(kv, 'Txn', {
      compare: [{ key: keyBytes, target: 'VALUE', result: 'EQUAL', value: Buffer.from(String(expected)) }],
      success: [{ request_put: { key: keyBytes, value: Buffer.from(String(value)) } }],
      failure: [],
    });
    // Not recorded as a failed cas: to the checker that is a compare that read another value.
    if (res.err !== null && neverSent(res.err)) return this.notSent();
    if (res.err !== null) {
      this.history.push({ id, client, kind: 'cas', key, value, expected, outcome: 'unknown', invokedAt, completedAt: Infinity });
      return 'unknown';
    }
    const succeeded = (res.value as { succeeded?: boolean }).succeeded === true;
    this.history.push({ id, client, kind: 'cas', key, value, expected, outcome: succeeded ? 'ok' : 'fail', invokedAt, completedAt: this.o.now() });
    return succeeded ? 'ok' : 'fail';
  }
}

function call(kv: Kv, method: string, request: unknown): Promise<{ err: grpc.ServiceError | null; value: unknown }> {
  return new Promise((done) => {
    kv[method]!(request, { deadline: Date.now() + OPERATION_TIMEOUT_MS }, (err, value) => done({ err, value }));
  });
}

/**
 * A call that never left: the channel had no connection (its member is down or cut off from the
 * harness), so the request was never sent and cannot take effect. grpc-js says so in the details.
 */
function neverSent(err: grpc.ServiceError): boolean {
  return err.code === grpc.status.UNAVAILABLE && err.details.startsWith('No connection established');
}

/** A stored value as the workload wrote it (a small integer); anything else as its text. */
function parseValue(bytes: Buffer): Value {
  const text = bytes.toString('utf8');
  return /^\d+$/.test(text) ? Number(text) : text;
}

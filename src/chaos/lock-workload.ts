/**
 * The lock workloads: clients take etcd's v3 lock (the Lock service, with a lease granted for
 * LEASE_TTL_S and kept alive on a KeepAlive stream) and, holding it, read-modify-write a protected
 * resource key: read its value (the ids appended so far), sleep a moment, write it back with their
 * own operation id appended; then Unlock and revoke the lease.
 *
 * - lock-unfenced: the write is a plain Put. A holder whose lease expired while it was stalled
 *   still writes: another holder's update in between is lost.
 * - lock (fenced): the write is a Txn whose compare needs the lock key to exist still with its
 *   create revision (the fencing token: the holder's lease is alive) and the resource's mod
 *   revision unchanged since the read; a failed compare refuses the write.
 *
 * A client pause: with CLIENT_PAUSE_CHANCE, a holder stalls between its read and its write for
 * longer than the lease's TTL, its keepalives stopped too (a GC pause stops the whole process),
 * as Jepsen paused the client process in its 2020 etcd analysis. Member pauses (the nemesis's)
 * mostly stall the holder's own RPCs with them; a client pause shows a lease lock's unsafety
 * reliably. lock-check.ts judges.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { etcdService, lockService } from '../server/proto.js';
import { checkLocks, parseResource, type Acquisition, type LockWrite } from './lock-check.js';
import { call, channels, countOutcomes, neverSent, type CallResult, type Stub } from './etcd-clients.js';
import type { ChaosWorkload, Outcomes, TimedOperation, WorkloadCheck, WorkloadContext } from './workload.js';

export const LOCK_NAME = 'chaos-lock';
export const RESOURCE_KEY = 'chaos-lock-resource';
/** Short, so a pause longer than it lets the lease expire (Jepsen's 2020 analysis). */
export const LEASE_TTL_S = 2;
const KEEPALIVE_MS = 500;
/** Waiting for the lock: the holders before it are quick, but one may be stalled until its lease expires. */
const LOCK_TIMEOUT_MS = 6_000;
const RPC_TIMEOUT_MS = 2_000;
/** Between the read and the write of a critical section. */
const HOLD_MS = 20;
export const CLIENT_PAUSE_CHANCE = 0.05;
/** A client pause lasts the TTL plus this much more, up to twice it. */
const CLIENT_PAUSE_EXTRA_MS = 1_000;
const BACKOFF_MS = 200;
export const MAX_ACQUISITIONS = 100_000;

type Client = Stub;
type Answer = CallResult<any>;

interface Channels { kv: Client; lease: Client; lock: Client }

/** An acquisition with what the table and the timeline need. */
export interface LockOperation extends Acquisition, TimedOperation {}

export class LockWorkload implements ChaosWorkload {
  readonly operations: LockOperation[] = [];
  readonly maxOperations = MAX_ACQUISITIONS;
  cappedAt: number | null = null;
  finalResource: number[] | null = null;
  finalError = '';
  private readonly channels: Channels[];
  private stopping = false;
  private unsent = 0;
  private nextId = 1;
  private loops: Promise<void>[] = [];

  constructor(private readonly o: WorkloadContext, readonly fenced: boolean) {
    const [kv, lease, lock] = [etcdService('KV', 'string'), etcdService('Lease', 'string'), lockService('string')].map((S) => channels(S, o.endpoints));
    this.channels = o.endpoints.map((_, m) => ({ kv: kv![m]!, lease: lease![m]!, lock: lock![m]! }));
  }

  start(): void {
    for (let c = 0; c < this.o.clients; c++) this.loops.push(this.loop(c));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
    await this.readFinal();
    for (const c of this.channels) for (const client of [c.kv, c.lease, c.lock]) client.close();
  }

  counts(): Outcomes {
    return countOutcomes(this.operations, this.unsent);
  }

  timed(): readonly TimedOperation[] {
    return this.operations;
  }

  save(dir: string): string[] {
    const finite = (t: number): number | null => (Number.isFinite(t) ? t : null);
    const lines = [
      ...this.operations.map((a) => JSON.stringify({ type: 'acquisition', ...a, completedAt: finite(a.completedAt), write: a.write === null ? null : { ...a.write, completedAt: finite(a.write.completedAt) } })),
      JSON.stringify({ type: 'final', resource: this.finalResource, error: this.finalError || undefined }),
    ];
    writeFileSync(join(dir, 'history-lock.jsonl'), `${lines.join('\n')}\n`);
    return ['`history-lock.jsonl` (every acquisition with its token, write and times, and the final resource, one JSON object a line; judged by checkLocks in src/chaos/lock-check.ts)'];
  }

  check(): WorkloadCheck {
    const r = checkLocks(this.operations, this.finalResource);
    const details = this.finalResource === null ? [`The final resource could not be read: ${this.finalError}`, r.details].filter((s) => s !== '').join('\n\n') : r.details;
    return { verdict: r.verdict, summary: r.summary, operations: r.acquisitions, details };
  }

  legend(): string {
    const acquired = this.operations.filter((a) => a.acquiredAt !== null).length;
    const refused = this.operations.filter((a) => a.write?.outcome === 'fail').length;
    const paused = this.operations.filter((a) => a.clientPauseMs > 0).length;
    return [
      `Outcomes are attempts at the critical section (${this.fenced ? 'fenced: the write is a Txn on the lock key\'s create revision and the resource\'s mod revision' : 'unfenced: the write is a plain Put'}):`,
      `"ok" the write was accepted; "fail" the lock, the token or the read failed, or the write was refused or failed unsent (${refused} writes refused or failed);`,
      `"unknown" the write failed after it was sent (may take effect); "not sent" had no connection.`,
      `${acquired} acquisitions of ${this.operations.length} attempts ("operations" counts acquisitions); ${paused} holders were stalled by a client pause longer than the lease's ${LEASE_TTL_S} s TTL.`,
    ].join(' ');
  }

  private async loop(client: number): Promise<void> {
    let slot = client;
    while (!this.stopping) {
      if (this.operations.length >= MAX_ACQUISITIONS) {
        this.cappedAt ??= this.o.now();
        return;
      }
      const ok = await this.attempt(client, this.channels[slot % this.channels.length]!);
      if (!ok) {
        slot++;
        await sleep(BACKOFF_MS);
      }
    }
  }

  /** One attempt at the critical section; false when something failed (the client then moves to the next member). */
  private async attempt(client: number, ch: Channels): Promise<boolean> {
    const id = this.nextId++;
    const invokedAt = this.o.now();
    let acquiredAt: number | null = null;
    let lockKey: Buffer | null = null;
    let token: number | null = null;
    let write: LockWrite | null = null;
    let clientPauseMs = 0;
    const grant = await call<any>(ch.lease, 'LeaseGrant', { TTL: String(LEASE_TTL_S) }, RPC_TIMEOUT_MS);
    if (grant.err !== null) {
      if (neverSent(grant.err)) this.unsent++;
      else this.record({ id, client, invokedAt, acquiredAt, lockKey: null, token, write, clientPauseMs });
      return false;
    }
    const leaseId = String(grant.value.ID);
    const keepAlive = new KeepAlive(ch.lease, leaseId);
    try {
      const lock = await call<any>(ch.lock, 'Lock', { name: Buffer.from(LOCK_NAME), lease: leaseId }, LOCK_TIMEOUT_MS);
      if (lock.err !== null) return false;
      acquiredAt = this.o.now();
      lockKey = Buffer.from(lock.value.key);
      const own = await call<any>(ch.kv, 'Range', { key: lockKey }, RPC_TIMEOUT_MS);
      if (own.err !== null || (own.value.kvs ?? []).length === 0) return false;
      token = Number(own.value.kvs[0].create_revision);
      const read = await call<any>(ch.kv, 'Range', { key: Buffer.from(RESOURCE_KEY) }, RPC_TIMEOUT_MS);
      if (read.err !== null) return false;
      const kv = (read.value.kvs ?? [])[0] as { value: Buffer; mod_revision: string } | undefined;
      const before = kv === undefined ? '' : Buffer.from(kv.value).toString('utf8');
      const modRevision = kv === undefined ? '0' : String(kv.mod_revision);
      await sleep(HOLD_MS);
      if (this.o.random.chance(CLIENT_PAUSE_CHANCE)) {
        clientPauseMs = LEASE_TTL_S * 1000 + this.o.random.int(CLIENT_PAUSE_EXTRA_MS, LEASE_TTL_S * 1000);
        keepAlive.pause();
        await sleep(clientPauseMs);
        keepAlive.resume();
      }
      const after = `${before} ${id}`.trim();
      const writeInvokedAt = this.o.now();
      const res = this.fenced
        ? await call<any>(ch.kv, 'Txn', {
          compare: [
            { key: lockKey, target: 'CREATE', result: 'EQUAL', create_revision: String(token) },
            { key: Buffer.from(RESOURCE_KEY), target: 'MOD', result: 'EQUAL', mod_revision: modRevision },
          ],
          success: [{ request_put: { key: Buffer.from(RESOURCE_KEY), value: Buffer.from(after) } }],
          // Refused: was it the lock key (the lease expired) or the resource (another holder wrote)?
          failure: [{ request_range: { key: lockKey } }],
        }, RPC_TIMEOUT_MS)
        : await call<any>(ch.kv, 'Put', { key: Buffer.from(RESOURCE_KEY), value: Buffer.from(after) }, RPC_TIMEOUT_MS);
      write = recordWrite(this.fenced, res, writeInvokedAt, this.o.now(), token);
      return res.err === null;
    } finally {
      if (lockKey !== null) await call<any>(ch.lock, 'Unlock', { key: lockKey }, RPC_TIMEOUT_MS);
      keepAlive.end();
      await call<any>(ch.lease, 'LeaseRevoke', { ID: leaseId }, RPC_TIMEOUT_MS);
      this.record({ id, client, invokedAt, acquiredAt, lockKey: lockKey?.toString('utf8') ?? null, token, write, clientPauseMs });
    }
  }

  private record(a: Acquisition): void {
    const outcome = a.write === null ? 'fail' : a.write.outcome;
    const completedAt = a.write === null ? this.o.now() : a.write.completedAt;
    this.operations.push({ ...a, outcome, completedAt });
  }

  /** The resource's value on the healed cluster, from the first member that answers. */
  private async readFinal(): Promise<void> {
    const errors: string[] = [];
    for (let round = 0; round < 3 && this.finalResource === null; round++) {
      for (let m = 0; m < this.channels.length && this.finalResource === null; m++) {
        const r = await call<any>(this.channels[m]!.kv, 'Range', { key: Buffer.from(RESOURCE_KEY) }, RPC_TIMEOUT_MS);
        if (r.err !== null) {
          errors.push(`n${m + 1}: ${r.err.details}`);
          continue;
        }
        const kv = (r.value.kvs ?? [])[0] as { value: Buffer } | undefined;
        this.finalResource = parseResource(kv === undefined ? '' : Buffer.from(kv.value).toString('utf8'));
      }
    }
    this.finalError = errors.join('; ');
  }
}

/**
 * A critical section's write as recorded (pure): never sent, fail (no effect); any other error,
 * unknown (it may take effect; completing at +Infinity); a fenced Txn answered not succeeded,
 * fail (refused), with whether its failure branch found the lock key still at `token`; else ok,
 * at the revision its answer names.
 */
export function recordWrite(fenced: boolean, res: { err: Pick<grpc.ServiceError, 'code' | 'details'> | null; value: any }, invokedAt: number, completedAt: number, token: number | null = null): LockWrite {
  if (res.err !== null) {
    return neverSent(res.err) ? { invokedAt, completedAt, outcome: 'fail', revision: null } : { invokedAt, completedAt: Infinity, outcome: 'unknown', revision: null };
  }
  if (fenced && res.value?.succeeded !== true) {
    const kvs = (res.value?.responses?.[0]?.response_range?.kvs ?? []) as { create_revision?: string | number }[];
    const lockHeld = token !== null && kvs.length > 0 && Number(kvs[0]!.create_revision) === token;
    return { invokedAt, completedAt, outcome: 'fail', revision: null, lockHeld };
  }
  return { invokedAt, completedAt, outcome: 'ok', revision: Number(res.value?.header?.revision ?? 0) || null };
}


/** A lease's KeepAlive stream, a keepalive every KEEPALIVE_MS unless paused (a stalled client sends none). */
class KeepAlive {
  private readonly call: grpc.ClientDuplexStream<unknown, unknown>;
  private readonly timer: NodeJS.Timeout;
  private paused = false;
  private dead = false;

  constructor(lease: Client, private readonly id: string) {
    this.call = lease['LeaseKeepAlive']!() as grpc.ClientDuplexStream<unknown, unknown>;
    this.call.on('error', () => {
      this.dead = true;
    });
    this.call.on('data', () => {});
    this.timer = setInterval(() => {
      if (!this.paused && !this.dead) this.call.write({ ID: this.id });
    }, KEEPALIVE_MS);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  end(): void {
    clearInterval(this.timer);
    this.dead = true;
    this.call.cancel();
  }
}

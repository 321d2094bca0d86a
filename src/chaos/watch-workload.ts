/**
 * The watch workload: writers put unique values (writer id and sequence number) to a few keys
 * under one prefix; watchers, two per member, watch the prefix with etcd's Watch API (a bidi
 * stream) from revision 1 and, when a stream breaks or stalls (its member killed, paused or cut
 * off from the leader), or of their own accord every few seconds (SESSION_MS), reconnect to the
 * next member from the last revision they saw + 1, as a correct client does. Every event is recorded. When the writers stop, their last revision is read
 * and the watchers are given up to CATCH_UP_MS to reach it (each must: a stream that silently stops
 * delivering is a loss); then the ground truth (every event under the prefix) is read once from
 * revision 1 on the healed cluster, and watch-check.ts judges.
 *
 * A put's outcome as the register workload records it: ok when answered, not sent when grpc-js
 * had no connection (not recorded), unknown on any other error (it may still take effect).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { etcdService } from '../server/proto.js';
import { call, channels, countOutcomes, neverSent, type Stub } from './etcd-clients.js';
import { checkWatch, type PutRecord, type WatchEvent, type WatcherLog } from './watch-check.js';
import type { ChaosWorkload, Outcomes, TimedOperation, WorkloadCheck, WorkloadContext } from './workload.js';

/** Every key the workload writes and watches is under this prefix. */
export const WATCH_PREFIX = 'chaos-watch/';
export const WATCHERS_PER_MEMBER = 2;
const PUT_TIMEOUT_MS = 2_000;
const THINK_MS = 10;
const BACKOFF_MS = 200;
/** A stream with no answer this long while writers write is taken for broken (a paused or cut-off member). */
export const STALL_MS = 2_000;
/**
 * A stream is also ended by the watcher itself after a random spell this long (ms), and resumed
 * from the last revision seen + 1 on the next member: faults alone break few streams (a member's
 * kill does; a partition only stalls it), and resuming is what the checker is most about.
 */
export const SESSION_MS: readonly [number, number] = [1_000, 4_000];
/** Between a stream's end and the next. */
const RECONNECT_MS = 100;
/** After the writers stop, the watchers may catch up this long (when the writers' last revision could not be read). */
const SETTLE_MS = 1_500;
/** After the writers stop, the watchers are waited for up to this long to reach the writers' last revision. */
export const CATCH_UP_MS = 10_000;
/** Reading the ground truth, per member tried. */
const TRUTH_TIMEOUT_MS = 10_000;
export const MAX_PUTS = 200_000;
/** A watcher stops past this many events: a correct server sends each put once (a server that resends history on every resume would exhaust the harness's memory). */
export const MAX_WATCHER_EVENTS = 2 * MAX_PUTS;

const prefixEnd = (prefix: string): Buffer => {
  const b = Buffer.from(prefix);
  b[b.length - 1]!++;
  return b;
};

type Client = Stub;

export interface TimedPut extends PutRecord, TimedOperation {
  readonly writer: number;
  /** The revision the put's answer named, or null. */
  readonly revision: number | null;
}

interface WatcherState {
  readonly log: WatcherLog & { events: WatchEvent[]; sessions: number; compactedAt: number | null; truncated: boolean };
  /** The last revision it received. */
  last: number;
}

export class WatchWorkload implements ChaosWorkload {
  readonly puts: TimedPut[] = [];
  readonly maxOperations = MAX_PUTS;
  cappedAt: number | null = null;
  truth: WatchEvent[] | null = null;
  truthError = '';
  /** The writers' last revision, read once they stopped (every watcher must reach it), or null. */
  final: number | null = null;
  private readonly watchers: WatcherState[] = [];
  private stoppingWriters = false;
  private stoppingWatchers = false;
  private unsent = 0;
  private readonly kvs: Client[];
  private readonly watchClients: Client[];
  private writerLoops: Promise<void>[] = [];
  private watcherLoops: Promise<void>[] = [];
  private readonly cancels = new Set<() => void>();

  constructor(private readonly o: WorkloadContext) {
    this.kvs = channels(etcdService('KV', 'string'), o.endpoints);
    this.watchClients = channels(etcdService('Watch', 'string'), o.endpoints);
  }

  start(): void {
    for (let w = 0; w < this.o.endpoints.length * WATCHERS_PER_MEMBER; w++) {
      const state: WatcherState = { log: { watcher: w, startRevision: 1, events: [], sessions: 0, compactedAt: null, truncated: false }, last: 0 };
      this.watchers.push(state);
      this.watcherLoops.push(this.watch(state));
    }
    for (let c = 0; c < this.o.clients; c++) this.writerLoops.push(this.write(c));
  }

  async stop(): Promise<void> {
    this.stoppingWriters = true;
    await Promise.all(this.writerLoops);
    for (let m = 0; m < this.kvs.length && this.final === null; m++) this.final = await this.latest(m).catch(() => null);
    if (this.final === null) await sleep(SETTLE_MS);
    else {
      const deadline = Date.now() + CATCH_UP_MS;
      while (Date.now() < deadline && !this.watchers.every((w) => w.log.compactedAt !== null || w.log.truncated || w.last >= this.final!)) await sleep(100);
    }
    this.stoppingWatchers = true;
    for (const cancel of this.cancels) cancel();
    await Promise.all(this.watcherLoops);
    await this.readTruth();
    for (const c of [...this.kvs, ...this.watchClients]) c.close();
  }

  counts(): Outcomes {
    return countOutcomes(this.puts, this.unsent);
  }

  timed(): readonly TimedOperation[] {
    return this.puts;
  }

  save(dir: string): string[] {
    const lines = [
      ...this.puts.map((p) => JSON.stringify({ type: 'put', ...p, completedAt: Number.isFinite(p.completedAt) ? p.completedAt : null })),
      ...this.watchers.map((w) => JSON.stringify({ type: 'watcher', ...w.log })),
      JSON.stringify({ type: 'truth', events: this.truth, final: this.final, error: this.truthError || undefined }),
    ];
    writeFileSync(join(dir, 'history-watch.jsonl'), `${lines.join('\n')}\n`);
    return ['`history-watch.jsonl` (the puts, each watcher\'s events and the ground truth, one JSON object a line; judged by checkWatch in src/chaos/watch-check.ts)'];
  }

  check(): WorkloadCheck {
    const r = checkWatch(this.watchers.map((w) => w.log), this.truth, this.puts, this.final);
    const details = this.truth === null ? [`The ground truth could not be read: ${this.truthError}`, r.details].filter((s) => s !== '').join('\n\n') : r.details;
    return { verdict: r.verdict, summary: r.summary, operations: r.events, details };
  }

  legend(): string {
    const sessions = this.watchers.reduce((n, w) => n + w.log.sessions, 0);
    const events = this.watchers.reduce((n, w) => n + w.log.events.length, 0);
    return [
      `Outcomes are the writers' puts: "ok" answered, "unknown" failed or timed out after being sent (may take effect), "not sent" had no connection.`,
      `${this.watchers.length} watchers received ${events} events over ${sessions} streams (${sessions - this.watchers.length} reconnects, each from the last revision seen + 1, on a stall, an error or every ${SESSION_MS[0] / 1000}-${SESSION_MS[1] / 1000} s);`,
      `"operations" in the table counts those events; the ground truth ${this.truth === null ? 'could not be read' : `holds ${this.truth.length} events`};`,
      this.final === null ? 'the writers\' last revision could not be read (each watcher is judged up to its last event).' : `each watcher was waited for up to ${CATCH_UP_MS / 1000} s to reach the writers' last revision, ${this.final}, and is judged up to it.`,
    ].join(' ');
  }

  private async write(writer: number): Promise<void> {
    let seq = 0;
    let slot = writer;
    while (!this.stoppingWriters) {
      if (this.puts.length >= MAX_PUTS) {
        this.cappedAt ??= this.o.now();
        return;
      }
      const kv = this.kvs[slot % this.kvs.length]!;
      const key = `${WATCH_PREFIX}k${this.o.random.int(0, this.o.keys - 1)}`;
      const value = `w${writer}-${seq++}`;
      const invokedAt = this.o.now();
      const res = await call<any>(kv, 'Put', { key: Buffer.from(key), value: Buffer.from(value) }, PUT_TIMEOUT_MS);
      const completedAt = this.o.now();
      const put = recordPut(writer, key, value, res, invokedAt, completedAt);
      if (put === 'not-sent') this.unsent++;
      else this.puts.push(put);
      if (put === 'not-sent' || put.outcome !== 'ok') slot++;
      await sleep(put !== 'not-sent' && put.outcome === 'ok' ? THINK_MS : BACKOFF_MS);
    }
  }

  /** One watcher: streams until stopped, each resuming after the last revision seen, on the next member. */
  private async watch(state: WatcherState): Promise<void> {
    let member = state.log.watcher % this.watchClients.length;
    while (!this.stoppingWatchers && state.log.compactedAt === null && !state.log.truncated) {
      await this.session(state, this.watchClients[member]!, state.last === 0 ? state.log.startRevision : state.last + 1);
      member = (member + 1) % this.watchClients.length;
      if (!this.stoppingWatchers) await sleep(RECONNECT_MS);
    }
  }

  /** One stream from `from`; resolves when it ends, errs, stalls for STALL_MS, or the watchers stop. */
  private session(state: WatcherState, client: Client, from: number): Promise<void> {
    state.log.sessions++;
    return new Promise((done) => {
      const call = client['Watch']!() as grpc.ClientDuplexStream<unknown, any>;
      let ended = false;
      let heard = Date.now();
      const end = (): void => {
        if (ended) return;
        ended = true;
        clearInterval(timer);
        this.cancels.delete(end);
        call.cancel();
        done();
      };
      this.cancels.add(end);
      const until = Date.now() + this.o.random.int(SESSION_MS[0], SESSION_MS[1]);
      const timer = setInterval(() => {
        if (Date.now() - heard > STALL_MS || Date.now() > until) end();
      }, 250);
      call.on('data', (res: any) => {
        if (ended) return;
        heard = Date.now();
        if (res.canceled) {
          state.log.compactedAt = compactedAt(res);
          end();
          return;
        }
        for (const ev of watchEvents(res)) {
          state.log.events.push(ev);
          state.last = Math.max(state.last, ev.revision);
        }
        if (state.log.events.length >= MAX_WATCHER_EVENTS) {
          state.log.truncated = true;
          end();
        }
      });
      call.on('error', end);
      call.on('end', end);
      call.write({ create_request: { key: Buffer.from(WATCH_PREFIX), range_end: prefixEnd(WATCH_PREFIX), start_revision: String(from) } });
    });
  }

  /** Every event under the prefix, from revision 1, from the first member that gives them all. */
  private async readTruth(): Promise<void> {
    const errors: string[] = [];
    for (let m = 0; m < this.kvs.length && this.truth === null; m++) {
      try {
        this.truth = await this.truthFrom(m);
      } catch (err) {
        errors.push(`n${m + 1}: ${(err as Error).message}`);
      }
    }
    this.truthError = errors.join('; ');
  }

  /** The latest revision under the prefix (puts only: the largest mod revision), read linearizably on member m. */
  private async latest(m: number): Promise<number> {
    const range = await new Promise<any>((done, fail) => {
      this.kvs[m]!['Range']!({ key: Buffer.from(WATCH_PREFIX), range_end: prefixEnd(WATCH_PREFIX) }, { deadline: Date.now() + PUT_TIMEOUT_MS }, (err: Error | null, v: unknown) => (err === null ? done(v) : fail(err)));
    });
    return ((range.kvs ?? []) as { mod_revision: string }[]).reduce((max, kv) => Math.max(max, Number(kv.mod_revision)), 0);
  }

  private async truthFrom(m: number): Promise<WatchEvent[]> {
    const upTo = await this.latest(m);
    if (upTo === 0) return [];
    return new Promise((done, fail) => {
      const events: WatchEvent[] = [];
      const call = this.watchClients[m]!['Watch']!() as grpc.ClientDuplexStream<unknown, any>;
      let settled = false;
      const finish = (err: Error | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        call.cancel();
        if (err === null) done(events);
        else fail(err);
      };
      const timer = setTimeout(() => finish(new Error(`the watch from revision 1 did not reach revision ${upTo} within ${TRUTH_TIMEOUT_MS / 1000} s`)), TRUTH_TIMEOUT_MS);
      call.on('data', (res: any) => {
        if (res.canceled) {
          const compacted = compactedAt(res);
          finish(new Error(compacted !== null ? `compacted at revision ${compacted}` : `watch canceled: ${res.cancel_reason}`));
          return;
        }
        events.push(...watchEvents(res));
        if (events.length > 0 && events.at(-1)!.revision >= upTo) finish(null);
      });
      call.on('error', (err: Error) => finish(err));
      call.write({ create_request: { key: Buffer.from(WATCH_PREFIX), range_end: prefixEnd(WATCH_PREFIX), start_revision: '1' } });
    });
  }
}

/** A put as recorded (pure): not sent when grpc-js had no connection; unknown on any other error (it may take effect); ok when answered. */
export function recordPut(writer: number, key: string, value: string, res: { err: Pick<grpc.ServiceError, 'code' | 'details'> | null; value: any }, invokedAt: number, completedAt: number): TimedPut | 'not-sent' {
  if (res.err !== null) return neverSent(res.err) ? 'not-sent' : { writer, key, value, outcome: 'unknown', revision: null, invokedAt, completedAt: Infinity };
  return { writer, key, value, outcome: 'ok', revision: Number(res.value?.header?.revision ?? 0) || null, invokedAt, completedAt };
}

/** The events of one WatchResponse (64-bit integers as strings), in the order sent. */
export function watchEvents(res: { events?: { type?: string; kv?: { key?: Buffer; value?: Buffer; mod_revision?: string | number } }[] }): WatchEvent[] {
  return (res.events ?? []).map((ev) => ({
    revision: Number(ev.kv?.mod_revision ?? 0),
    key: Buffer.from(ev.kv?.key ?? []).toString('utf8'),
    value: Buffer.from(ev.kv?.value ?? []).toString('utf8'),
    type: ev.type === 'DELETE' ? 'DELETE' : 'PUT',
  }));
}

/** A canceled WatchResponse's compact revision (the server could not resume: history compacted), or null. */
export function compactedAt(res: { compact_revision?: string | number }): number | null {
  const r = Number(res.compact_revision ?? 0);
  return r > 0 ? r : null;
}

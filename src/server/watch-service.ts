/**
 * etcd's Watch service: one bidirectional stream carries many watchers. Each stream answers
 * create, cancel and progress requests in order, and sends each watcher's events in revision
 * order, never more than gRPC will take: when the client reads slowly, the stream stops
 * pulling from its watchers, whose bounded buffers then make them fall back to history (see
 * statemachine/mvcc/watchers.ts). Watches are served from this member's applied state.
 */
import type * as grpc from '@grpc/grpc-js';
import { int64TextOf, KV_ERROR_MESSAGES, type MvccEvent, type Watcher } from '../statemachine/mvcc/index.js';
import { pbKeyValue } from './convert.js';
import type { ServiceContext } from './service-context.js';
import { wireNumber, type WireInt } from './wire-ints.js';

/** How often a watcher that asked for progress notifications gets one while idle (etcd's default: 10 minutes). */
export const DEFAULT_PROGRESS_NOTIFY_INTERVAL_MS = 600_000;
/** Responses to create/cancel requests queued on one stream before it stops reading requests. */
export const MAX_QUEUED_CONTROL_RESPONSES = 256;
/** Responses one stream sends per turn of the event loop before letting other work run. */
const RESPONSES_PER_TURN = 64;

/**
 * Watch ids are int64s a client may choose, held as decimal text (see wire-ints.ts); '0' in a
 * create request asks the stream to choose. etcd's id for responses that concern the whole
 * stream (progress requests) is -1.
 */
type WatchId = string;
const AUTO_WATCH_ID: WatchId = '0';
const STREAM_WATCH_ID: WatchId = '-1';
/** A request's watch id; null only for text that is no int64, which protobuf cannot deliver. */
const watchIdOf = (v: WireInt): WatchId | null => (v === undefined || v === null ? AUTO_WATCH_ID : int64TextOf(v));

export interface PbWatchCreateRequest {
  key?: Buffer; range_end?: Buffer; start_revision?: WireInt; progress_notify?: boolean;
  filters?: (string | number)[]; prev_kv?: boolean; watch_id?: WireInt; fragment?: boolean;
}
export interface PbWatchRequest {
  request_union?: string;
  create_request?: PbWatchCreateRequest | null;
  cancel_request?: { watch_id?: WireInt } | null;
  progress_request?: Record<string, never> | null;
}

interface StreamWatcher {
  readonly id: WatchId;
  readonly watcher: Watcher;
  readonly prevKv: boolean;
  readonly fragment: boolean;
  readonly progressNotify: boolean;
  /** Something was sent to this watcher since the last progress tick. */
  sentSinceTick: boolean;
}

export function watchHandlers(ctx: ServiceContext, progressNotifyIntervalMs = DEFAULT_PROGRESS_NOTIFY_INTERVAL_MS): grpc.UntypedServiceImplementation {
  return {
    Watch: (call: grpc.ServerDuplexStream<PbWatchRequest, unknown>) => {
      new WatchStream(ctx, call, progressNotifyIntervalMs).start();
    },
  };
}

class WatchStream {
  private readonly watchers = new Map<WatchId, StreamWatcher>();
  private nextId = 0;
  private readonly control: Record<string, unknown>[] = [];
  /** Watch ids with something to deliver, in the order they became ready. */
  private readonly ready = new Set<WatchId>();
  private progressRequested = false;
  private blocked = false;
  private paused = false;
  private scheduled = false;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly call: grpc.ServerDuplexStream<PbWatchRequest, unknown>,
    private readonly progressNotifyIntervalMs: number,
  ) {}

  /** Decides, per create request, whether the stream's user may watch a range (auth). */
  private permission: ((key: Uint8Array, rangeEnd: Uint8Array) => string | null) | null = null;
  /** Requests that arrived before the stream's token was checked, handled in order once it is. */
  private early: PbWatchRequest[] | null = [];

  start(): void {
    // The token is checked once per stream, as etcd does; an invalid one ends the stream.
    this.ctx.watchPermission(this.call.metadata).then(
      (permission) => {
        this.permission = permission;
        const early = this.early ?? [];
        this.early = null;
        for (const req of early) this.onRequest(req);
        if (!this.paused) this.call.resume();
      },
      (err: unknown) => {
        this.close();
        this.call.destroy(err as Error);
      },
    );
    this.call.on('data', (req: PbWatchRequest) => {
      if (this.early === null) return this.onRequest(req);
      this.early.push(req);
      if (this.early.length >= MAX_QUEUED_CONTROL_RESPONSES) this.call.pause();
    });
    this.call.on('end', () => { this.close(); this.call.end(); });
    this.call.on('error', () => this.close());
    this.call.on('cancelled', () => this.close());
    this.call.on('close', () => this.close());
    this.timer = setInterval(() => this.progressTick(), this.progressNotifyIntervalMs);
    this.timer.unref();
  }

  private onRequest(req: PbWatchRequest): void {
    if (this.closed) return;
    if (req.create_request != null) this.create(req.create_request);
    else if (req.cancel_request != null) this.cancel(watchIdOf(req.cancel_request.watch_id));
    else if (req.progress_request != null) this.progressRequested = true;
    if (this.control.length >= MAX_QUEUED_CONTROL_RESPONSES && !this.paused) {
      this.paused = true;
      this.call.pause();
    }
    this.schedule();
  }

  private create(c: PbWatchCreateRequest): void {
    const store = this.ctx.kv.store;
    let key = c.key ?? Buffer.alloc(0);
    // As etcd: an empty key is the smallest key, "\0".
    if (key.length === 0) key = Buffer.from([0]);
    const rangeEnd = c.range_end ?? Buffer.alloc(0);
    const requested = Math.max(0, wireNumber(c.start_revision));
    const startRevision = requested === 0 ? store.revision + 1 : requested;
    const filters = (c.filters ?? []).map((f) => (f === 0 || f === 'NOPUT' ? 'NOPUT' : 'NODELETE'));
    const refuse = (reason: string): void => {
      this.control.push({ header: this.ctx.header(store.revision), watch_id: STREAM_WATCH_ID, created: true, canceled: true, cancel_reason: reason });
    };
    const requestedId = watchIdOf(c.watch_id);
    if (requestedId === null) return refuse('etcdserver: invalid watch id');
    const denied = this.permission?.(key, rangeEnd) ?? null;
    if (denied !== null) {
      // As etcd: a watch the user may not read is created and at once cancelled with the reason.
      this.control.push({ header: this.ctx.header(store.revision), watch_id: requestedId, created: true, canceled: true, cancel_reason: denied });
      return;
    }
    let id = requestedId;
    if (id !== AUTO_WATCH_ID) {
      if (this.watchers.has(id)) return refuse('mvcc: duplicate watch ID provided on the WatchStream');
    } else {
      while (this.watchers.has(String(this.nextId))) this.nextId++;
      id = String(this.nextId++);
    }
    if (this.watchers.size >= this.ctx.hub.limits.maxWatchersPerStream) {
      return refuse(`etcdserver: too many requests: limit maxWatchersPerStream=${this.ctx.hub.limits.maxWatchersPerStream} reached`);
    }
    let watcher: Watcher;
    try {
      watcher = this.ctx.hub.watch(
        { key, rangeEnd, startRevision, noPut: filters.includes('NOPUT'), noDelete: filters.includes('NODELETE') },
        () => this.markReady(id),
      );
    } catch (err) {
      return refuse(`etcdserver: ${(err as Error).message}`);
    }
    this.watchers.set(id, { id, watcher, prevKv: c.prev_kv === true, fragment: c.fragment === true, progressNotify: c.progress_notify === true, sentSinceTick: false });
    // The header names the last revision before the first one this watcher delivers, so a
    // client that resumes from header.revision + 1 after a broken stream misses nothing.
    const headerRevision = Math.min(store.revision, startRevision - 1);
    this.control.push({ header: this.ctx.header(headerRevision), watch_id: id, created: true });
    if (watcher.hasWork) this.markReady(id);
  }

  private cancel(id: WatchId | null): void {
    const w = id === null ? undefined : this.watchers.get(id);
    if (w === undefined) return; // as etcd: cancelling an unknown id is answered with nothing
    this.drop(w);
    this.control.push({ header: this.ctx.header(this.ctx.kv.store.revision), watch_id: id, canceled: true });
  }

  private drop(w: StreamWatcher): void {
    w.watcher.cancel();
    this.watchers.delete(w.id);
    this.ready.delete(w.id);
  }

  private markReady(id: WatchId): void {
    this.ready.add(id);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.blocked || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    let sent = 0;
    while (!this.closed && !this.blocked && sent < RESPONSES_PER_TURN) {
      const response = this.control.shift();
      if (response !== undefined) {
        this.send(response);
        sent++;
        continue;
      }
      if (this.paused) {
        this.paused = false;
        this.call.resume();
      }
      const next = this.ready.values().next();
      if (next.done === true) break;
      const w = this.watchers.get(next.value);
      if (w === undefined) {
        this.ready.delete(next.value);
        continue;
      }
      const delivery = w.watcher.take();
      if (delivery === null) {
        this.ready.delete(w.id);
        continue;
      }
      // Round robin: a busy watcher goes to the back of the line.
      this.ready.delete(w.id);
      this.ready.add(w.id);
      sent++;
      if (delivery.kind === 'compacted') {
        this.drop(w);
        this.send({
          header: this.ctx.header(this.ctx.kv.store.revision), watch_id: w.id, canceled: true,
          compact_revision: delivery.compactRevision, cancel_reason: KV_ERROR_MESSAGES.compacted,
        });
        continue;
      }
      if (delivery.events.length === 0) continue;
      w.sentSinceTick = true;
      this.sendEvents(w, delivery.revision, delivery.events);
    }
    if (!this.closed && !this.blocked && this.progressRequested && this.control.length === 0 && this.allIdle()) {
      this.progressRequested = false;
      this.send({ header: this.ctx.header(this.ctx.kv.store.revision), watch_id: STREAM_WATCH_ID });
    }
    if (this.control.length > 0 || this.ready.size > 0) this.schedule();
  }

  private allIdle(): boolean {
    for (const w of this.watchers.values()) if (!w.watcher.idle) return false;
    return true;
  }

  private sendEvents(w: StreamWatcher, revision: number, events: readonly MvccEvent[]): void {
    const header = this.ctx.header(revision);
    const pb = events.map((e) => ({ type: e.type, kv: pbKeyValue(e.kv), prev_kv: w.prevKv && e.prevKv !== null ? pbKeyValue(e.prevKv) : null }));
    const limit = this.ctx.maxRequestBytes;
    if (!w.fragment || responseBytes(events, w.prevKv) <= limit) {
      this.send({ header, watch_id: w.id, events: pb });
      return;
    }
    // Fragment: several responses, each under the limit (one event each at least), all but
    // the last flagged `fragment`.
    let chunk: typeof pb = [];
    let bytes = 0;
    for (let i = 0; i < events.length; i++) {
      const size = eventBytes(events[i]!, w.prevKv);
      if (chunk.length > 0 && bytes + size > limit) {
        this.send({ header, watch_id: w.id, events: chunk, fragment: true });
        chunk = [];
        bytes = 0;
      }
      chunk.push(pb[i]!);
      bytes += size;
    }
    this.send({ header, watch_id: w.id, events: chunk });
  }

  private send(response: Record<string, unknown>): void {
    if (this.closed) return;
    const accepted = this.call.write(response);
    if (!accepted) {
      this.blocked = true;
      this.call.once('drain', () => {
        this.blocked = false;
        this.schedule();
      });
    }
  }

  private progressTick(): void {
    if (this.closed) return;
    const revision = this.ctx.kv.store.revision;
    for (const w of this.watchers.values()) {
      if (w.progressNotify && !w.sentSinceTick && w.watcher.idle && this.control.length < MAX_QUEUED_CONTROL_RESPONSES) {
        this.control.push({ header: this.ctx.header(revision), watch_id: w.id });
      }
      w.sentSinceTick = false;
    }
    this.schedule();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    for (const w of [...this.watchers.values()]) this.drop(w);
    this.control.length = 0;
  }
}

function eventBytes(e: MvccEvent, withPrev: boolean): number {
  const kv = e.kv.key.byteLength + e.kv.value.byteLength + 48;
  return withPrev && e.prevKv !== null ? kv + e.prevKv.key.byteLength + e.prevKv.value.byteLength + 48 : kv;
}

function responseBytes(events: readonly MvccEvent[], withPrev: boolean): number {
  let n = 64;
  for (const e of events) n += eventBytes(e, withPrev);
  return n;
}

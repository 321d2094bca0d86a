/**
 * A small deterministic world for storage tests: a virtual clock that runs the model file
 * system's callbacks, the model file system on it, and helpers that drive the callback-style
 * storage to completion synchronously (no Promise: the same way the simulator drives it).
 */
import assert from 'node:assert/strict';
import type { Index, Term } from '../../src/core/ids.js';
import { Prng } from '../../src/core/prng.js';
import type { LogEntry, Persist, Snapshot } from '../../src/core/replica.js';
import { EventQueue } from '../../src/sim/event-queue.js';
import { ModelFileSystem, type ModelFsOptions, type Scheduler } from '../../src/sim/model-fs.js';
import { DurableStorage, type StorageOptions } from '../../src/storage/durable-storage.js';
import type { Done } from '../../src/storage/fs.js';

export type HS = { term: number; vote: string | null; commit: number };
export const DIR = '/data/member-1';

export class VirtualClock implements Scheduler {
  now = 0;
  private readonly queue = new EventQueue<() => void>();

  after(ms: number, fn: () => void): void {
    this.queue.push(this.now + ms, fn);
  }

  /** Run the next event; false when there is none. */
  step(): boolean {
    const next = this.queue.pop();
    if (next === undefined) return false;
    this.now = next.at;
    next.event();
    return true;
  }

  /** Run until nothing is scheduled; returns how many events ran. */
  run(limit = 10_000_000): number {
    let n = 0;
    while (this.step()) assert.ok(++n < limit, 'the clock ran away');
    return n;
  }

  get pending(): number {
    return this.queue.size;
  }
}

export interface World {
  readonly clock: VirtualClock;
  readonly fs: ModelFileSystem;
}

export function world(seed = 1, options: ModelFsOptions = {}): World {
  const clock = new VirtualClock();
  return { clock, fs: new ModelFileSystem(clock, new Prng(seed), options) };
}

export function openStorage(w: World, options: StorageOptions = {}): DurableStorage<HS> {
  return DurableStorage.open<HS>(w.fs, DIR, { nowMs: () => w.clock.now, ...options });
}

/** Start a callback operation, run the clock until it has completed, and return its error. */
export function settle(w: World, start: (done: Done) => void): Error | null {
  let result: Error | null | undefined;
  start((err) => {
    assert.equal(result, undefined, 'done called once');
    result = err;
  });
  w.clock.run();
  assert.notEqual(result, undefined, 'the operation completed');
  return result ?? null;
}

export function save(w: World, s: DurableStorage<HS>, persist: Persist<HS>): void {
  const err = settle(w, (done) => s.save(persist, done));
  assert.equal(err, null, `save failed: ${err?.message}`);
}

export function saveSnapshot(w: World, s: DurableStorage<HS>, snapshot: Snapshot): void {
  const err = settle(w, (done) => s.saveSnapshot(snapshot, done));
  assert.equal(err, null, `saveSnapshot failed: ${err?.message}`);
}

export function sync(w: World, s: DurableStorage<HS>): void {
  const err = settle(w, (done) => s.sync(done));
  assert.equal(err, null, `sync failed: ${err?.message}`);
}

export function close(w: World, s: DurableStorage<HS>): void {
  assert.equal(settle(w, (done) => s.close(done)), null);
}

export const entry = (i: number, t = 1, bytes = 0): LogEntry => ({
  index: i as Index,
  term: t as Term,
  kind: 'command',
  data: bytes === 0 ? new TextEncoder().encode(`e${i}t${t}`) : filled(bytes, i),
});

export const range = (a: number, b: number, t = 1, bytes = 0): LogEntry[] => Array.from({ length: b - a + 1 }, (_, k) => entry(a + k, t, bytes));

export const indexes = (s: DurableStorage<HS>): string[] => s.restored().entries.map((e) => `${e.index}@${e.term}`);

export function snapshotAt(index: number, term = 1, data: Uint8Array = new Uint8Array([index & 0xff])): Snapshot {
  return { meta: { index: index as Index, term: term as Term, membership: { voters: [], outgoingVoters: [], learners: [] } }, data };
}

/** Deterministic non-trivial bytes (so a lost or shifted sector never reads back as the same). */
export function filled(bytes: number, salt: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (i * 31 + salt * 17 + (i >> 8)) & 0xff;
  return out;
}

export const walDir = `${DIR}/wal`;
export const snapDir = `${DIR}/snap`;

export function segmentNames(w: World): string[] {
  return w.fs.readdir(walDir).filter((f) => f.endsWith('.wal')).sort();
}

export function snapshotNames(w: World): string[] {
  return w.fs.readdir(snapDir).sort();
}

/** Power loss that keeps only what is durable: what any missing fsync shows up in. */
export function strictPowerLoss(w: World): void {
  w.fs.powerLoss({ files: 'lost', dirs: 'lost' });
}

/** The newest WAL segment's path. */
export const lastSegment = (w: World): string => `${walDir}/${segmentNames(w).at(-1)!}`;

/** Replace a file's bytes on the platter (what damage after the write completed leaves). */
export function rewrite(w: World, path: string, bytes: Buffer): void {
  const fd = w.fs.openTruncate(path);
  w.fs.write(fd, bytes, (err) => assert.equal(err, null));
  w.fs.datasync(fd, (err) => assert.equal(err, null));
  w.clock.run();
  w.fs.close(fd);
}

/** Run the clock's events one by one until `until` holds. */
export function stepUntil(w: World, until: () => boolean): void {
  while (!until()) assert.ok(w.clock.step(), 'the condition came true before the clock ran out');
}

/**
 * Every sync the storage issues is needed, checked site by site. A FileSystem wrapper names each
 * datasync and directory fsync by its site (which file or directory, and what changed it since
 * its last sync: see SyncSites.classify) and can turn the calls of one site into no-ops that
 * report success. A workload of saves, rotations, snapshot installs, compactions, pruning and
 * crashes in the middle of a save or a snapshot is cut after every completed step by a strict
 * power loss (only what was synced survives); a cut detects a missing sync when the reopened
 * storage restores other than what was acknowledged, refuses to open, or a file name the
 * storage had made durable (a segment or snapshot created, renamed or deleted) came undone.
 *
 * The test fails when removing any one site goes unnoticed, and when the storage issues a sync
 * at a site this list does not name (a new sync call must come with its own check here).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../src/core/prng.js';
import type { RestoredState } from '../../src/core/replica.js';
import { ModelFileSystem } from '../../src/sim/model-fs.js';
import { DurableStorage, type StorageOptions } from '../../src/storage/durable-storage.js';
import type { Done, Fd, FileSystem } from '../../src/storage/fs.js';
import { readRecord, RecordType } from '../../src/storage/record.js';
import { DIR, entry, range, settle, snapDir, snapshotAt, VirtualClock, walDir, type HS } from './model-world.js';

/** Every site the storage syncs at, as SyncSites.classify names them. */
const SITES = [
  'datasync segment: group commit',
  'datasync segment: first batch in a rotated segment',
  'datasync segment: compaction restatement',
  'datasync segment: startup (what open replayed)',
  'datasync segment: startup seal (what open restored had none)',
  'datasync snapshot temp file',
  'fsyncDir wal/: segment created (rotation)',
  'fsyncDir wal/: segments deleted (compaction)',
  'fsyncDir snap/: snapshot renamed into place',
  'fsyncDir snap/: snapshots pruned',
  'fsyncDir startup: wal/',
  'fsyncDir startup: snap/',
  'fsyncDir startup: data directory',
  'fsyncDir startup: parent of the data directory',
  'fsyncDir startup: a created ancestor\'s parent',
] as const;
type Site = (typeof SITES)[number];

const PARENT = '/data';
const ROOT = '/';
assert.equal(`${PARENT}/member-1`, DIR, 'the data directory is a child of PARENT, which a fresh world lacks');

/** The model file system, with each sync named by its site, and the syncs of one site skipped. */
class SyncSites implements FileSystem {
  readonly observed = new Map<string, number>();
  /** Per open fd: its path, its writes since its last datasync, whether it had one, whether it created its file. */
  private readonly fds = new Map<Fd, { path: string; writes: Uint8Array[]; synced: boolean; created: boolean }>();
  /** Per directory: kinds of entry changes since its last fsync. */
  private readonly dirChanges = new Map<string, Set<'create' | 'rename' | 'unlink'>>();
  /** Between open() and the startup job's segment datasync: the syncs are the startup job's. */
  private startup = false;

  constructor(private readonly fs: ModelFileSystem, private readonly clock: VirtualClock, private readonly skipped: Site | null) {}

  /** The storage is about to be opened: its first syncs are the startup job. */
  opening(): void {
    this.startup = true;
  }

  private classify(call: { datasync: Fd } | { fsyncDir: string }): string {
    if ('datasync' in call) {
      const f = this.fds.get(call.datasync);
      if (f === undefined) return 'datasync of an fd never opened';
      if (f.path.startsWith(`${snapDir}/`) && f.path.endsWith('.snap.tmp')) return 'datasync snapshot temp file';
      if (!(f.path.startsWith(`${walDir}/`) && f.path.endsWith('.wal'))) return `datasync ${f.path}: unclassified`;
      if (f.writes.length === 0) return this.startup ? 'datasync segment: startup (what open replayed)' : 'datasync segment: nothing written (unclassified)';
      const bytes = Buffer.from(f.writes[0]!);
      let first = readRecord(bytes, 0);
      // A segment's chain record (naming the one before it) comes first: classify by what follows.
      if (first.kind === 'record' && first.type === RecordType.Chain) first = readRecord(bytes, first.next);
      if (first.kind === 'record' && first.type === RecordType.Snapshot) return 'datasync segment: compaction restatement';
      if (first.kind === 'record' && first.type === RecordType.Seal) return 'datasync segment: startup seal (what open restored had none)';
      if (f.created && !f.synced) return 'datasync segment: first batch in a rotated segment';
      return 'datasync segment: group commit';
    }
    const dir = call.fsyncDir;
    if (this.startup) {
      if (dir === walDir) return 'fsyncDir startup: wal/';
      if (dir === snapDir) return 'fsyncDir startup: snap/';
      if (dir === DIR) return 'fsyncDir startup: data directory';
      if (dir === PARENT) return 'fsyncDir startup: parent of the data directory';
      if (dir === ROOT) return 'fsyncDir startup: a created ancestor\'s parent';
      return `fsyncDir startup: ${dir} (unclassified)`;
    }
    const changes = this.dirChanges.get(dir) ?? new Set();
    if (dir === walDir && changes.size === 1 && changes.has('create')) return 'fsyncDir wal/: segment created (rotation)';
    if (dir === walDir && changes.size === 1 && changes.has('unlink')) return 'fsyncDir wal/: segments deleted (compaction)';
    if (dir === snapDir && changes.has('rename') && !changes.has('unlink')) return 'fsyncDir snap/: snapshot renamed into place';
    if (dir === snapDir && changes.size === 1 && changes.has('unlink')) return 'fsyncDir snap/: snapshots pruned';
    return `fsyncDir ${dir} after ${[...changes].sort().join('+') || 'no change'} (unclassified)`;
  }

  private changed(path: string, kind: 'create' | 'rename' | 'unlink'): void {
    const dir = path.slice(0, path.lastIndexOf('/')) || '/';
    let set = this.dirChanges.get(dir);
    if (set === undefined) this.dirChanges.set(dir, (set = new Set()));
    set.add(kind);
  }

  private open(path: string, truncate: boolean): Fd {
    const created = !this.fs.exists(path);
    const fd = truncate ? this.fs.openTruncate(path) : this.fs.openAppend(path);
    if (created) this.changed(path, 'create');
    this.fds.set(fd, { path, writes: [], synced: false, created });
    return fd;
  }

  /** Pass the sync on, or (its site skipped) report success without doing it. */
  private sync(site: string, run: (done: Done) => void, done: Done): void {
    this.observed.set(site, (this.observed.get(site) ?? 0) + 1);
    if (site === this.skipped) this.clock.after(0, () => done(null));
    else run(done);
  }

  mkdir(path: string): void {
    for (let d = path; !this.fs.exists(d); d = d.slice(0, d.lastIndexOf('/')) || '/') this.changed(d, 'create');
    this.fs.mkdir(path);
  }
  readdir(path: string): string[] { return this.fs.readdir(path); }
  exists(path: string): boolean { return this.fs.exists(path); }
  readFile(path: string): Uint8Array { return this.fs.readFile(path); }
  size(path: string): number { return this.fs.size(path); }
  readRange(path: string, offset: number, length: number): Uint8Array { return this.fs.readRange(path, offset, length); }
  openAppend(path: string): Fd { return this.open(path, false); }
  openTruncate(path: string): Fd { return this.open(path, true); }
  close(fd: Fd): void {
    this.fds.delete(fd);
    this.fs.close(fd);
  }
  rename(from: string, to: string): void {
    this.fs.rename(from, to);
    this.changed(to, 'rename');
  }
  unlink(path: string): void {
    this.fs.unlink(path);
    this.changed(path, 'unlink');
  }
  truncate(path: string, length: number): void { this.fs.truncate(path, length); }
  write(fd: Fd, data: Uint8Array, done: Done): void {
    this.fds.get(fd)?.writes.push(data.slice());
    this.fs.write(fd, data, done);
  }
  datasync(fd: Fd, done: Done): void {
    const site = this.classify({ datasync: fd });
    const f = this.fds.get(fd);
    if (site.startsWith('datasync segment: startup')) this.startup = false; // the startup job's last step
    if (f !== undefined) {
      f.writes = [];
      f.synced = true;
    }
    this.sync(site, (d) => this.fs.datasync(fd, d), done);
  }
  fsyncDir(path: string, done: Done): void {
    const site = this.classify({ fsyncDir: path });
    this.dirChanges.delete(path);
    this.sync(site, (d) => this.fs.fsyncDir(path, d), done);
  }
}

// ---- the workload ------------------------------------------------------------------------------------

const OPTIONS: StorageOptions = { segmentBytes: 400, keepSnapshots: 2, snapshotChunkBytes: 64 };
const hs = (term: number, commit: number, vote: string | null = 'n2'): HS => ({ term, vote, commit });

interface Run {
  readonly clock: VirtualClock;
  readonly model: ModelFileSystem;
  readonly fs: SyncSites;
  s: DurableStorage<HS>;
}

function reopen(r: Run): void {
  r.fs.opening();
  r.s = DurableStorage.open<HS>(r.fs, DIR, { ...OPTIONS, nowMs: () => r.clock.now });
}

function ok(r: Run, start: (done: Done) => void): void {
  const err = settle({ clock: r.clock, fs: r.model }, start);
  assert.equal(err, null, `an operation failed: ${err?.message}`);
}

/** Run the clock one event at a time until `until()` holds. */
function stepUntil(r: Run, until: () => boolean): void {
  while (!until()) assert.ok(r.clock.step(), 'the condition came true before the clock ran out');
}

/**
 * The workload, a step at a time; after each, everything asked for has completed (and, after a
 * crash, the reopened storage has synced what it restored), so a strict power loss there must
 * keep exactly the storage's state and its file names.
 */
const STEPS: readonly ((r: Run) => void)[] = [
  (r) => ok(r, (d) => r.s.save({ hardState: hs(1, 0, 'n2'), entries: [], snapshot: null }, d)), // the first vote
  (r) => ok(r, (d) => r.s.save({ hardState: hs(1, 2), entries: range(1, 2), snapshot: null }, d)),
  (r) => ok(r, (d) => r.s.save({ hardState: null, entries: [entry(3, 1, 320)], snapshot: null }, d)), // rotates
  (r) => ok(r, (d) => r.s.save({ hardState: hs(1, 3), entries: [entry(4)], snapshot: null }, d)),
  (r) => ok(r, (d) => r.s.saveSnapshot(snapshotAt(2, 1, new Uint8Array(150).fill(2)), d)), // compaction
  (r) => ok(r, (d) => r.s.save({ hardState: hs(2, 4, 'n3'), entries: range(5, 6, 2), snapshot: null }, d)),
  (r) => ok(r, (d) => r.s.save({ hardState: hs(3, 9, null), entries: [entry(10, 3)], snapshot: snapshotAt(9, 3) }, d)), // installed from a leader
  (r) => ok(r, (d) => r.s.saveSnapshot(snapshotAt(10, 3), d)), // a third snapshot: one pruned
  (r) => {
    // Killed with a save written and not yet synced: open replays it; sync makes it durable.
    const segment = `${walDir}/${r.model.readdir(walDir).sort().at(-1)!}`;
    const size = r.model.size(segment);
    r.s.save({ hardState: hs(3, 10, null), entries: [entry(11, 3, 40)], snapshot: null }, () => {});
    assert.ok(r.model.size(segment) > size, 'written at once (no rotation), its datasync still to come');
    r.model.crash();
    reopen(r);
    ok(r, (d) => r.s.sync(d));
  },
  (r) => {
    // Killed with a snapshot file durably in place (its compaction has just rotated) that no WAL
    // record names yet: open removes it, and that removal must not come undone.
    const segments = r.model.readdir(walDir).length;
    r.s.saveSnapshot(snapshotAt(11, 3), () => {});
    stepUntil(r, () => r.model.readdir(walDir).length > segments);
    r.model.crash();
    reopen(r);
    ok(r, (d) => r.s.sync(d));
  },
  (r) => {
    // Killed in the middle of writing a snapshot's temp file: open removes it.
    r.s.saveSnapshot(snapshotAt(11, 3, new Uint8Array(300).fill(11)), () => {});
    stepUntil(r, () => r.model.readdir(snapDir).some((f) => f.endsWith('.tmp')));
    r.model.crash();
    reopen(r);
    ok(r, (d) => r.s.sync(d));
  },
  (r) => {
    // A power loss tore a save's seal and kept its records whole: open cuts the seal off, restores
    // the records and seals them.
    const segment = `${walDir}/${r.model.readdir(walDir).sort().at(-1)!}`;
    const size = r.model.size(segment);
    r.s.save({ hardState: hs(3, 11, null), entries: [entry(12, 3, 40)], snapshot: null }, () => {});
    assert.ok(r.model.size(segment) > size, 'written at once (no rotation), its datasync still to come');
    r.model.powerLoss({ files: 'kept', dirs: 'kept' });
    r.model.truncate(segment, r.model.size(segment) - 1);
    reopen(r);
    ok(r, (d) => r.s.sync(d));
  },
  (r) => ok(r, (d) => r.s.save({ hardState: hs(3, 11, null), entries: [entry(12, 3, 380)], snapshot: null }, d)), // rotates again
];

/** Whether the last segment is empty or ends with a seal (what every completed step leaves durable). */
function tailSealed(m: ModelFileSystem): boolean {
  const segment = `${walDir}/${m.readdir(walDir).sort().at(-1)!}`;
  const buf = Buffer.from(m.readFile(segment));
  let type = RecordType.Seal as number;
  for (let o = 0; o < buf.length; ) {
    const rec = readRecord(buf, o);
    if (rec.kind !== 'record') return false;
    type = rec.type;
    o = rec.next;
  }
  return type === RecordType.Seal;
}

function start(skipped: Site | null): Run {
  const clock = new VirtualClock();
  const model = new ModelFileSystem(clock, new Prng(1), { syncLatencyMs: 1 });
  const r = { clock, model, fs: new SyncSites(model, clock, skipped) } as Run;
  assert.equal(model.exists(PARENT), false);
  reopen(r);
  return r;
}

const names = (m: ModelFileSystem) => [walDir, snapDir].map((d) => (m.exists(d) ? m.readdir(d).sort().join(' ') : `${d} missing`)).join(' | ');

/** Cut the workload after step `k` with a strict power loss: what came undone, if anything. */
function cutAfter(k: number, skipped: Site | null): string | null {
  const r = start(skipped);
  for (let i = 0; i <= k; i++) STEPS[i]!(r);
  const before: RestoredState<HS> = r.s.restored();
  const namesBefore = names(r.model);
  r.model.powerLoss({ files: 'lost', dirs: 'lost' });
  const namesAfter = names(r.model);
  if (namesAfter !== namesBefore) return `file names came undone: ${namesBefore} -> ${namesAfter}`;
  if (!tailSealed(r.model)) return 'the last segment does not end with a seal';
  let after: RestoredState<HS>;
  try {
    after = DurableStorage.open<HS>(r.model, DIR, OPTIONS).restored();
  } catch (err) {
    return `open failed: ${(err as Error).message}`;
  }
  try {
    assert.deepEqual(after, before);
  } catch {
    return `restored state differs: hard state ${JSON.stringify(after.hardState)}, snapshot ${after.snapshot?.meta.index ?? 'none'}, ` +
      `entries ${after.entries.map((e) => e.index).join(',')} (acknowledged: ${JSON.stringify(before.hardState)}, ` +
      `${before.snapshot?.meta.index ?? 'none'}, ${before.entries.map((e) => e.index).join(',')})`;
  }
  return null;
}

test('the workload meets every sync site, and none the list does not name', () => {
  const r = start(null);
  for (const step of STEPS) step(r);
  assert.deepEqual([...r.fs.observed.keys()].sort(), [...SITES].sort(), `sites seen: ${JSON.stringify(Object.fromEntries(r.fs.observed))}`);
});

test('with every sync in place, a strict power loss after any step keeps exactly what was acknowledged', () => {
  for (let k = 0; k < STEPS.length; k++) assert.equal(cutAfter(k, null), null, `after step ${k}`);
});

for (const site of SITES) {
  test(`without the syncs at "${site}", some strict power loss loses what was acknowledged or made durable`, () => {
    const found: string[] = [];
    for (let k = 0; k < STEPS.length; k++) {
      const why = cutAfter(k, site);
      if (why !== null) found.push(`after step ${k}: ${why}`);
    }
    assert.ok(found.length > 0, `removing the syncs at "${site}" went unnoticed`);
  });
}

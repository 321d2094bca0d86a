/**
 * The simulator's file system: the FileSystem port (src/storage/fs.ts) over memory, so the real
 * write-ahead log runs on a disk that behaves as the port's rules say a real one may, and nothing
 * better. Deterministic: its callbacks run through the injected scheduler (the simulator's
 * virtual clock), and every fault it chooses comes from the injected seeded Random.
 *
 * Per file, two contents: what the kernel has (the page cache, what reads see) and what is on
 * the platter (durable). A write lands in the page cache when it completes; `datasync` makes
 * every write completed before it was called durable. Per directory, two sets of entries: the
 * current ones and the durable ones; create, rename and unlink change the current ones, and
 * `fsyncDir` makes them durable.
 *
 * - crash() (the process is killed): nothing the kernel has is lost; open fds are closed, and
 *   callbacks still pending never run (a write not yet completed never happened).
 * - powerLoss(): what is durable survives, plus, as the plan or the seed chooses, part of the
 *   rest: of a file's unsynced writes a prefix (the last one torn at a sector boundary, or with
 *   garbage up to the end of its sector), or a later write without an earlier one, or a write
 *   kept but for some of its whole sectors (a disk persists one write's sectors in any order until
 *   the datasync returns: they read as what was there before, zeros past the old end); of a
 *   directory's unsynced changes a prefix (the rest revert: a file created, renamed into place or
 *   unlinked without a directory fsync comes undone).
 * - Read faults, on demand or by probability per read: a flipped bit (bit rot, in every copy of
 *   that byte) and a latent sector error (reads covering the sector fail with EIO until the
 *   sector is rewritten or cut off).
 * - Write and sync errors on demand. A failed datasync drops the writes it covered from the
 *   platter's future (the kernel marks the pages clean, as Linux does): a later datasync reports
 *   success without them. That is why the storage never retries one.
 */
import { posix } from 'node:path';
import { assert } from '../core/assert.js';
import type { Random } from '../core/prng.js';
import { FsError, SECTOR_BYTES, type Done, type Fd, type FileSystem, type FsErrorCode } from '../storage/fs.js';
import { ModelBytes } from './model-bytes.js';
import { sameBytes } from '../core/bytes.js';

/** The simulator's clock, as far as the model file system needs it. */
export interface Scheduler {
  after(ms: number, fn: () => void): void;
}

export interface ModelFsOptions {
  /** A write's callback (and its landing in the page cache) comes this long after the call. */
  readonly writeLatencyMs?: number;
  /** datasync and fsyncDir complete this long after the call. */
  readonly syncLatencyMs?: number;
  /** Per readFile/readRange call: chance that a bit of the file flips first. */
  readonly bitFlipPerReadProbability?: number;
  /** Per readFile/readRange call: chance that a sector of the file becomes unreadable first. */
  readonly sectorErrorPerReadProbability?: number;
}

export const DEFAULT_MODEL_FS_OPTIONS = {
  writeLatencyMs: 0,
  syncLatencyMs: 0,
  bitFlipPerReadProbability: 0,
  sectorErrorPerReadProbability: 0,
} as const satisfies Required<ModelFsOptions>;

/**
 * What a power loss keeps of a file's writes since its last datasync. `seeded`: one of the
 * others, chosen by the seed per file.
 */
export type UnsyncedWritesFate = 'seeded' | 'lost' | 'kept' | 'prefix' | 'torn-at-sector' | 'torn-with-garbage' | 'reordered' | 'sector-holes';
/** What a power loss keeps of a directory's changes since its last fsync. `seeded`: a prefix of seeded length. */
export type DirChangesFate = 'seeded' | 'lost' | 'kept';

export interface PowerLossPlan {
  readonly files?: UnsyncedWritesFate;
  readonly dirs?: DirChangesFate;
}

export interface ModelFsStats {
  writes: number;
  bytesWritten: number;
  datasyncs: number;
  dirFsyncs: number;
  crashes: number;
  powerLosses: number;
  /** Unsynced bytes that did not survive power losses. */
  bytesLostOnPowerLoss: number;
  /** Directory changes (creates, renames, unlinks) that reverted on power losses. */
  dirChangesLostOnPowerLoss: number;
  bitFlips: number;
  sectorErrors: number;
  writeErrors: number;
  syncErrors: number;
  /** bitFlips + sectorErrors + writeErrors + syncErrors. */
  faultsInjected: number;
}

/**
 * A write not yet durable. `data` is null while the file's durable content is shared with its
 * cache (see FileNode): the bytes are then the cache's at [offset, offset + length).
 */
interface WriteOp {
  readonly seq: number;
  readonly kind: 'write';
  readonly offset: number;
  readonly length: number;
  data: Uint8Array | null;
}

type FileOp = WriteOp | { readonly seq: number; readonly kind: 'truncate'; readonly length: number };

type DirOp =
  | { readonly seq: number; readonly kind: 'link'; readonly name: string; readonly node: ModelNode }
  | { readonly seq: number; readonly kind: 'unlink'; readonly name: string }
  | { readonly seq: number; readonly kind: 'rename'; readonly from: string; readonly to: string; readonly node: ModelNode };

/**
 * A file's two contents. The port's writes append, so almost always what is durable is the
 * first `durableLength` bytes of the cache and the pending writes are the bytes after it: then
 * `durable` is null and the bytes are kept once (a separate durable copy, and a copy per pending
 * write, were most of the model's cost). A truncation, or a failed datasync that drops writes
 * the cache keeps, breaks that; the file then gets its own durable copy and its pending writes
 * their own bytes (`diverge`) until a datasync or a power loss makes the two equal again.
 */
interface FileNode {
  readonly kind: 'file';
  /** What reads see. */
  cache: ModelBytes;
  /** What survives a power loss; null: the first `durableLength` bytes of `cache`. */
  durable: ModelBytes | null;
  durableLength: number;
  /** Changes in the cache not yet durable, oldest first (in sequence order). */
  pending: FileOp[];
  /** Sector numbers whose reads fail with EIO. */
  readonly badSectors: Set<number>;
  /** For descriptions only. */
  path: string;
}

interface DirNode {
  readonly kind: 'dir';
  current: Map<string, ModelNode>;
  durable: Map<string, ModelNode>;
  pending: DirOp[];
  path: string;
}

type ModelNode = FileNode | DirNode;

interface OpenFile {
  readonly node: FileNode;
  readonly path: string;
}

export class ModelFileSystem implements FileSystem {
  /** Told of every write that lands in the page cache (a simulator aims faults with it). */
  landed: ((path: string, bytes: number) => void) | null = null;

  private readonly o: Required<ModelFsOptions>;
  private readonly root: DirNode = newDir('/');
  /** Every directory and file that may still matter, in creation order (deterministic walks). */
  private dirs: DirNode[] = [this.root];
  private files: FileNode[] = [];
  private readonly fds = new Map<Fd, OpenFile>();
  private nextFd = 3;
  private nextSeq = 1;
  /** Bumped by crash and power loss: callbacks scheduled before never run. */
  private epoch = 0;
  private failWrites: FsErrorCode | null = null;
  private failSyncs = false;
  private lastLoss = 'no power loss yet';
  private readonly counters: ModelFsStats = {
    writes: 0, bytesWritten: 0, datasyncs: 0, dirFsyncs: 0, crashes: 0, powerLosses: 0, bytesLostOnPowerLoss: 0,
    dirChangesLostOnPowerLoss: 0, bitFlips: 0, sectorErrors: 0, writeErrors: 0, syncErrors: 0, faultsInjected: 0,
  };

  constructor(private readonly scheduler: Scheduler, private readonly random: Random, options: ModelFsOptions = {}) {
    // One shape for every file system's options, whichever a caller gave.
    const given = (k: keyof ModelFsOptions): number => options[k] ?? DEFAULT_MODEL_FS_OPTIONS[k];
    this.o = {
      writeLatencyMs: given('writeLatencyMs'),
      syncLatencyMs: given('syncLatencyMs'),
      bitFlipPerReadProbability: given('bitFlipPerReadProbability'),
      sectorErrorPerReadProbability: given('sectorErrorPerReadProbability'),
    };
    assert(this.o.writeLatencyMs >= 0 && this.o.syncLatencyMs >= 0, 'model fs latencies are not negative');
    this.settleShape();
  }

  /**
   * Crashes, power losses and faults change these, often many runs into a process: each gets a
   * value of its final kind now, then its own back (see shapes.ts).
   */
  private settleShape(): void {
    const { epoch, lastLoss } = this;
    const counters = { ...this.counters };
    this.epoch = epoch + 1;
    this.lastLoss = `${lastLoss}.`;
    for (const k of Object.keys(counters) as (keyof ModelFsStats)[]) this.counters[k] = counters[k] + 1;
    this.epoch = epoch;
    this.lastLoss = lastLoss;
    for (const k of Object.keys(counters) as (keyof ModelFsStats)[]) this.counters[k] = counters[k];
  }

  // ---- metadata and reads (synchronous) ------------------------------------------------------------

  mkdir(path: string): void {
    let dir = this.root;
    for (const name of components(path)) {
      const child = dir.current.get(name);
      if (child === undefined) {
        const made = newDir(childPath(dir.path, name));
        this.link(dir, name, made);
        this.dirs.push(made);
        dir = made;
      } else if (child.kind === 'dir') {
        dir = child;
      } else {
        throw new FsError('ENOTDIR', path, 'mkdir');
      }
    }
  }

  readdir(path: string): string[] {
    return [...this.dirAt(path, 'readdir').current.keys()];
  }

  exists(path: string): boolean {
    return this.lookup(path) !== undefined;
  }

  readFile(path: string): Uint8Array {
    const file = this.fileAt(path, 'read');
    this.maybeReadFault(file);
    this.checkReadable(file, path, 0, file.cache.length);
    return file.cache.view().slice();
  }

  size(path: string): number {
    return this.fileAt(path, 'stat').cache.length;
  }

  readRange(path: string, offset: number, length: number): Uint8Array {
    assert(Number.isInteger(offset) && offset >= 0 && Number.isInteger(length) && length >= 0, () => `read range ${offset}+${length}`);
    const file = this.fileAt(path, 'read');
    this.maybeReadFault(file);
    const end = Math.min(file.cache.length, offset + length);
    if (end <= offset) return new Uint8Array(0);
    this.checkReadable(file, path, offset, end);
    return file.cache.view().slice(offset, end);
  }

  openAppend(path: string): Fd {
    return this.openFile(path, false);
  }

  openTruncate(path: string): Fd {
    return this.openFile(path, true);
  }

  close(fd: Fd): void {
    if (!this.fds.delete(fd)) throw new FsError('EBADF', `fd ${fd}`, 'close');
  }

  rename(from: string, to: string): void {
    const src = this.parentOf(from, 'rename');
    const dst = this.parentOf(to, 'rename');
    const node = src.dir.current.get(src.name);
    if (node === undefined) throw new FsError('ENOENT', from, 'rename');
    if (dst.dir.current.get(dst.name)?.kind === 'dir') throw new FsError('EISDIR', to, 'rename');
    if (src.dir === dst.dir) {
      src.dir.pending.push({ seq: this.nextSeq++, kind: 'rename', from: src.name, to: dst.name, node });
      applyDirOp(src.dir.current, src.dir.pending[src.dir.pending.length - 1]!);
    } else {
      this.link(dst.dir, dst.name, node);
      this.unlinkEntry(src.dir, src.name);
    }
    node.path = childPath(dst.dir.path, dst.name);
  }

  unlink(path: string): void {
    const { dir, name } = this.parentOf(path, 'unlink');
    const node = dir.current.get(name);
    if (node === undefined) throw new FsError('ENOENT', path, 'unlink');
    if (node.kind === 'dir') throw new FsError('EISDIR', path, 'unlink');
    this.unlinkEntry(dir, name);
  }

  truncate(path: string, length: number): void {
    this.truncateFile(this.fileAt(path, 'truncate'), length);
  }

  // ---- data and durability (callback) ------------------------------------------------------------

  write(fd: Fd, data: Uint8Array, done: Done): void {
    const open = this.fds.get(fd);
    const failure: Error | null = open === undefined ? new FsError('EBADF', `fd ${fd}`, 'write') : this.takeWriteFailure(open.path);
    // A write lands in the page cache at once when the model has no write latency (the kernel's
    // memcpy): the caller's callback runs before write returns, which the port allows.
    if (this.o.writeLatencyMs === 0) return this.land(open, failure, data, done);
    // The bytes are taken when the write lands, not when it is asked for: the buffer is the file
    // system's until the callback (node's fs.write reads it from another thread meanwhile), so a
    // caller that reuses it sooner writes what it put there later, here as on a real disk.
    this.later(this.o.writeLatencyMs, () => this.land(open, failure, data, done));
  }

  private land(open: OpenFile | undefined, failure: Error | null, data: Uint8Array, done: Done): void {
    if (failure !== null || open === undefined) return done(failure);
    const file = open.node;
    const offset = file.cache.length; // appends: the port's writes are sequential
    const length = data.byteLength;
    file.cache.write(offset, data);
    // Shared (see FileNode): the bytes stay in the cache only; otherwise the write keeps its own.
    file.pending.push({ seq: this.nextSeq++, kind: 'write', offset, length, data: file.durable === null ? null : file.cache.view().slice(offset, offset + length) });
    if (file.badSectors.size > 0) {
      for (let s = Math.ceil(offset / SECTOR_BYTES); (s + 1) * SECTOR_BYTES <= offset + length; s++) file.badSectors.delete(s); // rewritten: remapped
    }
    this.counters.writes++;
    this.counters.bytesWritten += length;
    this.landed?.(open.path, length);
    done(null);
  }

  datasync(fd: Fd, done: Done): void {
    const open = this.fds.get(fd);
    if (open === undefined) return this.later(this.o.syncLatencyMs, () => done(new FsError('EBADF', `fd ${fd}`, 'fdatasync')));
    const file = open.node;
    const upTo = this.nextSeq - 1; // what was written before the call
    const fails = this.failSyncs;
    if (fails) this.countFault('syncErrors');
    this.failSyncs = false;
    // The epoch check of later(), made here: one closure per datasync rather than two.
    const epoch = this.epoch;
    this.scheduler.after(this.o.syncLatencyMs, () => {
      if (this.epoch !== epoch) return;
      // Pending changes are in sequence order: those the call covers are a prefix.
      let covered = 0;
      while (covered < file.pending.length && file.pending[covered]!.seq <= upTo) covered++;
      if (fails) {
        // The kernel gave up on these pages and marked them clean: the cache keeps them, the
        // platter never will, and the next datasync has nothing of them left to report.
        if (covered > 0) this.diverge(file);
        dropFirst(file.pending, covered);
        return done(new FsError('EIO', open.path, 'fdatasync'));
      }
      this.makeDurable(file, covered);
      this.counters.datasyncs++;
      done(null);
    });
  }

  fsyncDir(path: string, done: Done): void {
    let dir: DirNode;
    try {
      dir = this.dirAt(path, 'fsync directory');
    } catch (err) {
      return this.later(this.o.syncLatencyMs, () => done(err as Error));
    }
    const upTo = this.nextSeq - 1;
    this.later(this.o.syncLatencyMs, () => {
      const replaced: FileNode[] = [];
      for (const op of dir.pending.filter((p) => p.seq <= upTo)) {
        const old = dir.durable.get(op.kind === 'rename' ? op.to : op.name);
        if (old?.kind === 'file' && op.kind !== 'link') replaced.push(old);
        applyDirOp(dir.durable, op);
      }
      dir.pending = dir.pending.filter((p) => p.seq > upTo);
      for (const f of replaced) this.forgetIfGone(f);
      this.counters.dirFsyncs++;
      done(null);
    });
  }

  // ---- faults ----------------------------------------------------------------------------------------

  /** The process dies: the kernel keeps everything; fds close; pending callbacks never run. */
  crash(): void {
    this.epoch++;
    this.fds.clear();
    this.counters.crashes++;
  }

  /**
   * The machine loses power: only durable data and entries survive, plus what the plan (or, by
   * default, the seed) keeps of the rest. lastPowerLoss() says what was kept.
   */
  powerLoss(plan: PowerLossPlan = {}): void {
    this.epoch++;
    this.fds.clear();
    this.counters.powerLosses++;
    const notes: string[] = [];
    for (const dir of this.dirs) {
      if (dir.pending.length === 0) continue;
      const n = dir.pending.length;
      const fate = plan.dirs ?? 'seeded';
      const keep = fate === 'lost' ? 0 : fate === 'kept' ? n : this.random.int(0, n);
      for (const op of dir.pending.slice(0, keep)) applyDirOp(dir.durable, op);
      if (keep < n) notes.push(`${dir.path}: ${n - keep} of ${n} entry changes reverted (${dir.pending.slice(keep).map(describeDirOp).join(', ')})`);
      this.counters.dirChangesLostOnPowerLoss += n - keep;
      dir.pending = [];
    }
    for (const dir of this.dirs) dir.current = new Map(dir.durable);
    this.forgetUnreachable();
    for (const file of this.files) {
      if (file.pending.length > 0) {
        this.diverge(file);
        notes.push(this.settleUnsynced(file, plan.files ?? 'seeded'));
      }
      // What is durable is all there is now: the cache and the platter hold the same bytes.
      if (file.durable !== null) file.cache = file.durable;
      else assert(file.cache.length === file.durableLength, () => `${file.path}: nothing pending, yet the cache is not what is durable`);
      file.durable = null;
      file.durableLength = file.cache.length;
      // A sector wholly past the end the file kept belongs to it no more (its blocks are freed):
      // damage there is gone, not waiting for the next write to land over part of it.
      for (const sector of [...file.badSectors]) if (sector * SECTOR_BYTES >= file.cache.length) file.badSectors.delete(sector);
    }
    this.lastLoss = notes.length === 0 ? 'nothing unsynced' : notes.join('; ');
  }

  /**
   * Make what reads of `path` see durable at once, as the drive's own writeback would while the
   * process is stopped: for damage made through the port (a cut, a rewrite) that is to be on the
   * platter, as flipBit's and failSector's are, so a later power loss does not undo it.
   */
  persistFile(path: string): void {
    const file = this.fileAt(path, 'persist');
    this.makeDurable(file, file.pending.length);
  }

  /** Flip one bit of a file (on the platter and in the cache); at a seeded offset unless given. Returns the offset. */
  flipBit(path: string, offset?: number): number {
    const file = this.fileAt(path, 'flip a bit of');
    assert(file.cache.length > 0, () => `flip a bit of empty ${path}`);
    const at = offset ?? this.random.int(0, file.cache.length - 1);
    const bit = this.random.int(0, 7);
    file.cache.flipBit(at, bit);
    // Shared (see FileNode): the durable bytes and the pending writes' bytes are the cache's.
    if (file.durable !== null) {
      if (at < file.durable.length) file.durable.flipBit(at, bit);
      for (const op of file.pending) if (op.kind === 'write' && at >= op.offset && at < op.offset + op.length) dataOf(op)[at - op.offset]! ^= 1 << bit;
    }
    this.countFault('bitFlips');
    return at;
  }

  /** Make the sector holding `offset` (seeded unless given) unreadable. Returns the sector's first byte. */
  failSector(path: string, offset?: number): number {
    const file = this.fileAt(path, 'fail a sector of');
    assert(file.cache.length > 0, () => `fail a sector of empty ${path}`);
    const sector = Math.floor((offset ?? this.random.int(0, file.cache.length - 1)) / SECTOR_BYTES);
    file.badSectors.add(sector);
    this.countFault('sectorErrors');
    return sector * SECTOR_BYTES;
  }

  /** The next write fails with `code` (nothing of it written). */
  failNextWrite(code: 'EIO' | 'ENOSPC' = 'EIO'): void {
    this.failWrites = code;
  }

  /** The next datasync fails with EIO, and what it covered never becomes durable. */
  failNextSync(): void {
    this.failSyncs = true;
  }

  // ---- introspection ---------------------------------------------------------------------------------

  stats(): ModelFsStats {
    return { ...this.counters };
  }

  /** What the last power loss kept and lost, for the simulator's trace. */
  lastPowerLoss(): string {
    return this.lastLoss;
  }

  openFileCount(): number {
    return this.fds.size;
  }

  /** What a power loss with nothing unsynced kept would leave of a file (null: it would not exist). Tests only. */
  durableContent(path: string): Uint8Array | null {
    let dir = this.root;
    const names = components(path);
    for (let i = 0; i < names.length; i++) {
      const node = dir.durable.get(names[i]!);
      if (node === undefined) return null;
      if (i === names.length - 1) return node.kind === 'file' ? durableBytes(node).slice() : null;
      if (node.kind !== 'dir') return null;
      dir = node;
    }
    return null;
  }

  // ---- internals -------------------------------------------------------------------------------------

  private later(ms: number, fn: () => void): void {
    const epoch = this.epoch;
    this.scheduler.after(ms, () => {
      if (this.epoch === epoch) fn();
    });
  }

  private takeWriteFailure(path: string): Error | null {
    const code = this.failWrites;
    if (code === null) return null;
    this.failWrites = null;
    this.countFault('writeErrors');
    return new FsError(code, path, 'write');
  }

  private countFault(kind: 'bitFlips' | 'sectorErrors' | 'writeErrors' | 'syncErrors'): void {
    this.counters[kind]++;
    this.counters.faultsInjected++;
  }

  private maybeReadFault(file: FileNode): void {
    if (file.cache.length === 0) return;
    if (this.random.chance(this.o.bitFlipPerReadProbability)) this.flipBit(file.path);
    if (this.random.chance(this.o.sectorErrorPerReadProbability)) this.failSector(file.path);
  }

  private checkReadable(file: FileNode, path: string, from: number, to: number): void {
    for (const s of file.badSectors) {
      if (s * SECTOR_BYTES < to && (s + 1) * SECTOR_BYTES > from) throw new FsError('EIO', path, `read (sector at byte ${s * SECTOR_BYTES})`);
    }
  }

  private openFile(path: string, truncate: boolean): Fd {
    const { dir, name } = this.parentOf(path, 'open');
    let node = dir.current.get(name);
    if (node?.kind === 'dir') throw new FsError('EISDIR', path, 'open');
    if (node === undefined) {
      node = { kind: 'file', cache: new ModelBytes(), durable: null, durableLength: 0, pending: [], badSectors: new Set(), path: childPath(dir.path, name) };
      this.files.push(node);
      this.link(dir, name, node);
    } else if (truncate) {
      this.truncateFile(node, 0);
    }
    const fd = this.nextFd++;
    this.fds.set(fd, { node, path: node.path });
    return fd;
  }

  /**
   * Give a file whose durable content is shared with its cache (see FileNode) its own durable
   * copy, and its pending writes their own bytes. Returns the durable copy.
   */
  private diverge(file: FileNode): ModelBytes {
    if (file.durable !== null) return file.durable;
    const cache = file.cache.view();
    for (const op of file.pending) if (op.kind === 'write' && op.data === null) op.data = cache.slice(op.offset, op.offset + op.length);
    file.durable = new ModelBytes(cache.subarray(0, file.durableLength));
    return file.durable;
  }

  /** The first `count` pending changes reached the platter. */
  private makeDurable(file: FileNode, count: number): void {
    const pending = file.pending;
    if (file.durable === null) {
      // Shared: the covered writes continue what is durable, in order.
      for (let i = 0; i < count; i++) {
        const op = pending[i]!;
        assert(op.kind === 'write' && op.offset === file.durableLength, () => `${file.path}: a shared file's pending writes continue its durable bytes`);
        file.durableLength = op.offset + op.length;
      }
      dropFirst(pending, count);
      return;
    }
    for (let i = 0; i < count; i++) applyFileOp(file.durable, pending[i]!);
    dropFirst(pending, count);
    // Nothing pending and the same bytes in both: share again.
    if (file.pending.length === 0 && sameBytes(file.durable.view(), file.cache.view())) {
      file.durable = null;
      file.durableLength = file.cache.length;
      return;
    }
  }

  private truncateFile(file: FileNode, length: number): void {
    this.diverge(file); // the cache no longer extends what is durable
    file.cache.truncate(length);
    file.pending.push({ seq: this.nextSeq++, kind: 'truncate', length });
    for (const s of [...file.badSectors]) if (s * SECTOR_BYTES >= length) file.badSectors.delete(s);
  }

  private link(dir: DirNode, name: string, node: ModelNode): void {
    const op: DirOp = { seq: this.nextSeq++, kind: 'link', name, node };
    dir.pending.push(op);
    applyDirOp(dir.current, op);
  }

  private unlinkEntry(dir: DirNode, name: string): void {
    const op: DirOp = { seq: this.nextSeq++, kind: 'unlink', name };
    dir.pending.push(op);
    applyDirOp(dir.current, op);
  }

  /**
   * Stop keeping a file whose removal is durable, when nothing can bring it back: no directory
   * has it (now or durably), no pending directory change names it, no fd is open on it, and it
   * has no unsynced change (those are counted as lost at the next power loss: see
   * forgetUnreachable). Every compaction deletes WAL segments, and keeping them all until a power
   * loss held every byte a run ever wrote.
   */
  private forgetIfGone(file: FileNode): void {
    if (file.pending.length > 0) return;
    for (const d of this.dirs) {
      for (const n of d.current.values()) if (n === file) return;
      for (const n of d.durable.values()) if (n === file) return;
      for (const op of d.pending) if (op.kind !== 'unlink' && op.node === file) return;
    }
    for (const open of this.fds.values()) if (open.node === file) return;
    const i = this.files.indexOf(file);
    if (i >= 0) this.files.splice(i, 1);
  }

  /** Keep only what the root still reaches after a power loss (in the same deterministic order). */
  private forgetUnreachable(): void {
    const reached = new Set<ModelNode>();
    const visit = (d: DirNode): void => {
      reached.add(d);
      for (const child of d.current.values()) {
        if (child.kind === 'dir') visit(child);
        else reached.add(child);
      }
    };
    visit(this.root);
    for (const f of this.files) {
      if (reached.has(f)) continue;
      this.counters.bytesLostOnPowerLoss += f.pending.reduce((n, op) => n + (op.kind === 'write' ? op.length : 0), 0);
    }
    this.dirs = this.dirs.filter((d) => reached.has(d));
    this.files = this.files.filter((f) => reached.has(f));
  }

  /** Decide what survives of a file's unsynced changes; returns a note for lastPowerLoss(). */
  private settleUnsynced(file: FileNode, requested: UnsyncedWritesFate): string {
    const durable = file.durable;
    assert(durable !== null, () => `${file.path} has its own durable bytes to settle into`);
    const ops = file.pending;
    const writes = ops.filter((op) => op.kind === 'write');
    const total = writes.reduce((n, op) => n + op.length, 0);
    const tearable = ops.map((op, i) => (op.kind === 'write' && interiorBoundaries(op).length > 0 ? i : -1)).filter((i) => i >= 0);
    let fate = requested;
    if (fate === 'seeded') {
      const choices: UnsyncedWritesFate[] = ['lost', 'kept', 'prefix', 'torn-with-garbage'];
      if (tearable.length > 0) choices.push('torn-at-sector');
      if (writes.length >= 2) choices.push('reordered');
      if (writes.some((op) => op.length > 0)) choices.push('sector-holes');
      fate = this.random.pick(choices);
    }
    if (fate === 'torn-at-sector' && tearable.length === 0) fate = 'prefix'; // no write spans a boundary
    // Only a write of at least one byte can be torn (a zero-length write has no byte to cut at).
    if (fate === 'torn-with-garbage' && !writes.some((op) => op.length > 0)) fate = 'prefix';
    if (fate === 'reordered' && writes.length < 2) fate = 'lost';
    if (fate === 'sector-holes' && !writes.some((op) => op.length > 0)) fate = 'prefix';
    let kept = 0;
    let detail = '';
    const apply = (op: FileOp): void => {
      applyFileOp(durable, op);
      if (op.kind === 'write') kept += op.length;
    };
    switch (fate) {
      case 'lost':
        break;
      case 'kept':
        ops.forEach(apply);
        break;
      case 'prefix': {
        const k = this.random.int(0, ops.length);
        ops.slice(0, k).forEach(apply);
        detail = ` (${k} of ${ops.length} changes)`;
        break;
      }
      case 'torn-at-sector': {
        const i = this.random.pick(tearable);
        const op = ops[i]!;
        assert(op.kind === 'write', 'a torn change is a write');
        ops.slice(0, i).forEach(apply);
        const cut = this.random.pick(interiorBoundaries(op));
        durable.write(op.offset, dataOf(op).subarray(0, cut - op.offset));
        kept += cut - op.offset;
        detail = ` (change ${i + 1} of ${ops.length} torn at byte ${cut}, a sector boundary)`;
        break;
      }
      case 'torn-with-garbage': {
        const writeAt = ops.map((op, i) => (op.kind === 'write' && op.length > 0 ? i : -1)).filter((i) => i >= 0);
        const i = this.random.pick(writeAt);
        const op = ops[i]!;
        assert(op.kind === 'write', 'a torn change is a write');
        ops.slice(0, i).forEach(apply);
        const end = op.offset + op.length;
        const cut = this.random.int(op.offset, end - 1);
        const garbageEnd = Math.min(end, (Math.floor(cut / SECTOR_BYTES) + 1) * SECTOR_BYTES);
        const garbage = new Uint8Array(garbageEnd - cut);
        for (let b = 0; b < garbage.length; b++) garbage[b] = this.random.int(0, 255);
        durable.write(op.offset, dataOf(op).subarray(0, cut - op.offset));
        durable.write(cut, garbage);
        kept += cut - op.offset;
        detail = ` (change ${i + 1} of ${ops.length} torn at byte ${cut}, garbage to byte ${garbageEnd})`;
        break;
      }
      case 'sector-holes': {
        const holed = ops.map((op, i) => (op.kind === 'write' && op.length > 0 ? i : -1)).filter((i) => i >= 0);
        const i = this.random.pick(holed);
        const op = ops[i]!;
        assert(op.kind === 'write', 'a holed change is a write');
        ops.slice(0, i).forEach(apply);
        // Any sector the write touched, a partly written first or last one included (the kernel
        // writes whole sectors: one the disk never wrote holds what it held before, there too).
        const touched = touchedSectors(op);
        const lastSector = touched[touched.length - 1]!;
        const sectors = this.random.shuffle(touched).slice(0, this.random.int(1, Math.min(3, touched.length)));
        // Half the time the last among them (where the seal of a WAL write lies): whether the seal
        // reached the platter is what tells a write with holes from one that completed.
        if (!sectors.includes(lastSector) && this.random.chance(HOLED_LAST_SECTOR_SHARE)) sectors[0] = lastSector;
        // What the write's part of those sectors held before it (zeros past the old end of the file).
        const view = durable.view();
        const parts = sectors.map((at) => {
          const from = Math.max(at, op.offset);
          const old = new Uint8Array(Math.min(at + SECTOR_BYTES, op.offset + op.length) - from);
          old.set(view.subarray(Math.min(from, view.length), Math.min(from + old.length, view.length)));
          return { from, old };
        });
        apply(op);
        for (const { from, old } of parts) {
          durable.write(from, old);
          kept -= old.length;
        }
        detail = ` (change ${i + 1} of ${ops.length} kept but for its sectors at ${[...sectors].sort((a, b) => a - b).join(',')})`;
        break;
      }
      case 'reordered': {
        const writeAt = ops.map((op, i) => (op.kind === 'write' && op.length > 0 ? i : -1)).filter((i) => i >= 0);
        const a = this.random.int(0, writeAt.length - 2);
        const b = this.random.int(a + 1, writeAt.length - 1);
        const dropped = writeAt[a]!;
        const forced = writeAt[b]!;
        const keptIdx: number[] = [];
        ops.forEach((op, i) => {
          if (i === forced || (i !== dropped && this.random.chance(0.5))) {
            apply(op);
            keptIdx.push(i + 1);
          }
        });
        detail = ` (change ${dropped + 1} lost, kept ${keptIdx.join(',')} of ${ops.length})`;
        break;
      }
      case 'seeded':
        assert(false, 'a seeded fate is resolved above');
    }
    this.counters.bytesLostOnPowerLoss += total - kept;
    file.pending = [];
    return `${file.path}: ${fate}, ${kept} of ${total} unsynced bytes kept${detail}`;
  }

  private lookup(path: string): ModelNode | undefined {
    const names = components(path);
    return this.walk(names, names.length);
  }

  /** The node the first `count` of `names` lead to from the root, if any. */
  private walk(names: readonly string[], count: number): ModelNode | undefined {
    let node: ModelNode = this.root;
    for (let i = 0; i < count; i++) {
      if (node.kind !== 'dir') return undefined;
      const next: ModelNode | undefined = node.current.get(names[i]!);
      if (next === undefined) return undefined;
      node = next;
    }
    return node;
  }

  private dirAt(path: string, what: string): DirNode {
    return asDir(this.lookup(path), path, what);
  }

  private fileAt(path: string, what: string): FileNode {
    const node = this.lookup(path);
    if (node === undefined) throw new FsError('ENOENT', path, what);
    if (node.kind !== 'file') throw new FsError('EISDIR', path, what);
    return node;
  }

  private parentOf(path: string, what: string): { dir: DirNode; name: string } {
    // A file created, renamed or removed usually has a name never seen before (a new segment, a
    // snapshot): parse only its directory's path, which repeats, when the last name is a plain one
    // (what components() would give for the whole path is then the directory's names and it).
    const cut = path.lastIndexOf('/');
    const last = path.slice(cut + 1);
    const plain = cut >= 0 && last.length > 0 && last !== '.' && last !== '..';
    const names = plain ? components(path.slice(0, cut)) : components(path);
    const name = plain ? last : names[names.length - 1];
    if (name === undefined) throw new FsError('EISDIR', path, what);
    const parentNames = plain ? names.length : names.length - 1;
    const parent = this.walk(names, parentNames);
    if (parent?.kind === 'dir') return { dir: parent, name };
    return { dir: asDir(parent, '/' + names.slice(0, parentNames).join('/'), what), name };
  }
}

function newDir(path: string): DirNode {
  return { kind: 'dir', current: new Map(), durable: new Map(), pending: [], path };
}

function asDir(node: ModelNode | undefined, path: string, what: string): DirNode {
  if (node === undefined) throw new FsError('ENOENT', path, what);
  if (node.kind !== 'dir') throw new FsError('ENOTDIR', path, what);
  return node;
}

/** Paths parsed so far (every file operation names one; the storage uses a handful, over and over). */
const parsedPaths = new Map<string, readonly string[]>();
/** Parsed paths kept at most (segment names keep changing over a long run). */
const MAX_PARSED_PATHS = 4096;

/** A path's names from the root (relative paths are taken from the root: the model has no cwd). */
function components(path: string): readonly string[] {
  let names = parsedPaths.get(path);
  if (names === undefined) {
    if (parsedPaths.size >= MAX_PARSED_PATHS) parsedPaths.clear();
    names = path.split('/').filter((c) => c.length > 0);
    // What resolving against the root does beyond dropping empty names (rare: the storage's paths are normal).
    if (names.includes('.') || names.includes('..')) names = posix.resolve('/', path).split('/').filter((c) => c.length > 0);
    parsedPaths.set(path, names);
  }
  return names;
}

/**
 * The path of entry `name` of the directory at `dirPath`: what posix.join gives for a normal
 * directory path and a name from components() (never empty, '.', '..' or with a '/'), without it.
 */
function childPath(dirPath: string, name: string): string {
  return dirPath === '/' ? `/${name}` : `${dirPath}/${name}`;
}

/**
 * Remove the first `count` items of `list` (a file's pending changes, made durable by a datasync,
 * which usually covers them all). Not splice: it made an array of what it removed, and emptying
 * the list let its storage go, to be allocated again by the next write.
 */
function dropFirst<T>(list: T[], count: number): void {
  if (count === 0) return;
  for (let i = count; i < list.length; i++) list[i - count] = list[i]!;
  for (let i = 0; i < count; i++) list.pop();
}

function applyFileOp(bytes: ModelBytes, op: FileOp): void {
  if (op.kind === 'write') bytes.write(op.offset, dataOf(op));
  else bytes.truncate(op.length);
}

/** A pending write's own bytes (it has them once its file has diverged). */
function dataOf(op: WriteOp): Uint8Array {
  assert(op.data !== null, () => `write at ${op.offset} has its own bytes`);
  return op.data;
}

function durableBytes(file: FileNode): Uint8Array {
  return file.durable === null ? file.cache.view().subarray(0, file.durableLength) : file.durable.view();
}

function applyDirOp(entries: Map<string, ModelNode>, op: DirOp): void {
  switch (op.kind) {
    case 'link':
      entries.set(op.name, op.node);
      return;
    case 'unlink':
      entries.delete(op.name);
      return;
    case 'rename':
      entries.delete(op.from);
      entries.set(op.to, op.node);
      return;
  }
}

function describeDirOp(op: DirOp): string {
  switch (op.kind) {
    case 'link':
      return `create ${op.name}`;
    case 'unlink':
      return `unlink ${op.name}`;
    case 'rename':
      return `rename ${op.from} -> ${op.to}`;
  }
}

/** Share of sector-holes fates that hole the write's last sector among others (see settleUnsynced). */
const HOLED_LAST_SECTOR_SHARE = 0.5;

/** The sectors a write touches (where each starts), its partly written first and last ones included. */
function touchedSectors(op: WriteOp): number[] {
  const out: number[] = [];
  for (let at = Math.floor(op.offset / SECTOR_BYTES) * SECTOR_BYTES; at < op.offset + op.length; at += SECTOR_BYTES) out.push(at);
  return out;
}

/** Absolute sector boundaries strictly inside a write (where it can tear with whole sectors either side). */
function interiorBoundaries(op: WriteOp): number[] {
  const out: number[] = [];
  for (let b = (Math.floor(op.offset / SECTOR_BYTES) + 1) * SECTOR_BYTES; b < op.offset + op.length; b += SECTOR_BYTES) out.push(b);
  return out;
}

/**
 * Durable storage for one replica: a write-ahead log of segment files plus snapshot files.
 *
 * What is durable when save() resolves: every record of that Persist and of every earlier one
 * (written in order, then fdatasync'ed; one fsync serves every save() queued meanwhile: group
 * commit). Snapshots are written to a temp file, fsynced, renamed, and the directory fsynced,
 * before the WAL records that refer to them. On open, a torn or corrupt record at the tail of the
 * last segment (a crash mid-write) is cut off and reported; a bad record anywhere else is a
 * refusal to start (StorageCorruptError), never a silent skip. See src/storage/README.md.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { open as openFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { pack, packTransient, unpack } from '../core/codec.js';
import { assert } from '../core/assert.js';
import { QuorateError, TooManyRequests } from '../core/errors.js';
import { truncationPoint, type LogEntry, type Persist, type RestoredState, type Snapshot, type SnapshotMeta } from '../core/replica.js';
import type { Index } from '../core/ids.js';
import { putAt } from './entries.js';
import { encodeRecord, readRecord, RecordType, validRecordAfter } from './record.js';

export class StorageCorruptError extends QuorateError {
  override readonly name = 'StorageCorruptError';
  constructor(file: string, offset: number, why: string) {
    super(
      'CORRUPT',
      `corrupt write-ahead log: ${file} at byte ${offset}: ${why}. Records after it exist, so this is not a torn write; ` +
        'refusing to start. Restore this member from a snapshot of a healthy member, or remove it and add it back.',
    );
  }
}

export interface StorageOptions {
  /** Start a new segment once the current one reaches this size. */
  readonly segmentBytes?: number;
  /** One write+fsync carries at most this many bytes (more waits for the next). */
  readonly maxBatchBytes?: number;
  /** save() calls waiting for their fsync; over it save() rejects with TooManyRequests. */
  readonly maxPendingSaves?: number;
  /** Snapshots kept on disk. */
  readonly keepSnapshots?: number;
  readonly logger?: (message: string) => void;
}

export const DEFAULT_STORAGE_OPTIONS = {
  segmentBytes: 64 * 1024 * 1024,
  maxBatchBytes: 16 * 1024 * 1024,
  maxPendingSaves: 100_000,
  keepSnapshots: 2,
} as const;

export interface StorageStats {
  segments: number;
  fsyncs: number;
  saves: number;
  bytesWritten: number;
  lastFsyncMs: number;
  repairs: string[];
}

interface Pending {
  readonly bytes: Buffer[];
  readonly size: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

const SEGMENT = /^(\d{16})\.wal$/;
const SNAP = /^(\d{16})-(\d{16})\.snap$/;

export class DurableStorage<H> {
  private hardState: H | null = null;
  private snapshotMeta: SnapshotMeta | null = null;
  private snapshotData: Uint8Array | null = null;
  private entries: LogEntry[] = [];
  private segments: number[] = [];
  private segmentSize = 0;
  private file: FileHandle | null = null;
  private queue: Pending[] = [];
  private flushing = false;
  private closed = false;
  private failed: Error | null = null;
  private readonly o: Required<Omit<StorageOptions, 'logger'>>;
  private readonly log: (m: string) => void;
  readonly statsData: StorageStats = { segments: 0, fsyncs: 0, saves: 0, bytesWritten: 0, lastFsyncMs: 0, repairs: [] };

  private constructor(private readonly dir: string, options: StorageOptions) {
    this.o = { ...DEFAULT_STORAGE_OPTIONS, ...stripUndefined(options) };
    this.log = options.logger ?? (() => {});
  }

  static async open<H>(dir: string, options: StorageOptions = {}): Promise<DurableStorage<H>> {
    const s = new DurableStorage<H>(dir, options);
    mkdirSync(join(dir, 'wal'), { recursive: true });
    mkdirSync(join(dir, 'snap'), { recursive: true });
    s.loadSnapshot();
    s.replay();
    if (s.segments.length === 0) s.segments.push(1);
    const last = s.segments[s.segments.length - 1]!;
    s.file = await openFile(s.segmentPath(last), 'a');
    s.segmentSize = (await s.file.stat()).size;
    s.statsData.segments = s.segments.length;
    return s;
  }

  restored(): RestoredState<H> {
    const snapshot: Snapshot | null = this.snapshotMeta === null ? null : { meta: this.snapshotMeta, data: this.snapshotData ?? new Uint8Array(0) };
    return { hardState: this.hardState, snapshot, entries: [...this.entries] };
  }

  stats(): StorageStats {
    return { ...this.statsData, repairs: [...this.statsData.repairs] };
  }

  /** Make `persist` durable; resolves after the fsync that covers it. */
  save(persist: Persist<H>): Promise<void> {
    if (this.failed !== null) return Promise.reject(this.failed);
    if (this.closed) return Promise.reject(new QuorateError('STOPPED', 'storage is closed'));
    if (this.queue.length >= this.o.maxPendingSaves) return Promise.reject(new TooManyRequests('maxPendingSaves', this.o.maxPendingSaves));
    const bytes: Buffer[] = [];
    if (persist.snapshot !== null) {
      this.writeSnapshotFile(persist.snapshot);
      bytes.push(encodeRecord(RecordType.Snapshot, packTransient(persist.snapshot.meta)));
    }
    const truncateFrom = truncationPoint(persist);
    if (isAppend(truncateFrom, persist.entries)) {
      if (persist.entries.length > 0) bytes.push(encodeRecord(RecordType.Entries, packTransient(persist.entries)));
    } else {
      bytes.push(encodeRecord(RecordType.EntriesAt, packTransient({ truncateFrom, entries: persist.entries })));
    }
    if (persist.hardState !== null) bytes.push(encodeRecord(RecordType.HardState, packTransient(persist.hardState)));
    // The in-memory view follows the log immediately; it is what a reopen would replay.
    if (persist.snapshot !== null) this.applySnapshotMeta(persist.snapshot.meta, persist.snapshot.data);
    this.applyEntries(truncateFrom, persist.entries);
    if (persist.hardState !== null) this.hardState = persist.hardState;
    this.statsData.saves++;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ bytes, size: bytes.reduce((n, b) => n + b.length, 0), resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  /**
   * The state machine's own snapshot at meta.index: written atomically, recorded in the WAL, and
   * segments wholly covered by it deleted.
   */
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    await this.save({ hardState: this.hardState, entries: [], snapshot });
    await this.compactSegments();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    while (this.flushing || this.queue.length > 0) await new Promise((r) => setTimeout(r, 1));
    this.closed = true;
    await this.file?.close();
    this.file = null;
  }

  // ---- writing ---------------------------------------------------------------------------------

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0 && this.failed === null) {
        // Group commit: everything queued so far (up to maxBatchBytes) shares one write and fsync.
        let size = 0;
        let n = 0;
        while (n < this.queue.length && (n === 0 || size + this.queue[n]!.size <= this.o.maxBatchBytes)) size += this.queue[n++]!.size;
        const batch = this.queue.splice(0, n);
        const buf = Buffer.concat(batch.flatMap((p) => p.bytes), size);
        try {
          if (this.segmentSize > 0 && this.segmentSize + buf.length > this.o.segmentBytes) await this.rotate();
          const file = this.file;
          assert(file !== null, 'segment open');
          await file.write(buf, 0, buf.length);
          const t0 = performance.now();
          await file.datasync();
          this.statsData.lastFsyncMs = performance.now() - t0;
          this.statsData.fsyncs++;
          this.statsData.bytesWritten += buf.length;
          this.segmentSize += buf.length;
          for (const p of batch) p.resolve();
        } catch (err) {
          // After a failed write or fsync the file's contents are unknown: fail every later save
          // too (retrying an fsync can report success for data that was lost).
          this.failed = new QuorateError('UNAVAILABLE', `write-ahead log write failed: ${(err as Error).message}`);
          for (const p of [...batch, ...this.queue.splice(0)]) p.reject(this.failed);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async rotate(): Promise<void> {
    await this.file?.close();
    const next = (this.segments[this.segments.length - 1] ?? 0) + 1;
    this.segments.push(next);
    this.file = await openFile(this.segmentPath(next), 'a');
    this.segmentSize = 0;
    fsyncDir(join(this.dir, 'wal'));
    this.statsData.segments = this.segments.length;
  }

  /** Delete segments wholly below the snapshot, after restating the current state in a fresh one. */
  private async compactSegments(): Promise<void> {
    const meta = this.snapshotMeta;
    if (meta === null || this.segments.length < 2) return;
    await this.rotate();
    const restate: Buffer[] = [encodeRecord(RecordType.Snapshot, packTransient(meta))];
    if (this.entries.length > 0) restate.push(encodeRecord(RecordType.EntriesAt, packTransient({ truncateFrom: null, entries: this.entries })));
    if (this.hardState !== null) restate.push(encodeRecord(RecordType.HardState, packTransient(this.hardState)));
    await new Promise<void>((resolve, reject) => {
      this.queue.push({ bytes: restate, size: restate.reduce((n, b) => n + b.length, 0), resolve, reject });
      if (!this.flushing) void this.flush();
    });
    // The newest segment now holds everything a reopen needs: the older ones can go.
    const keep = this.segments[this.segments.length - 1]!;
    for (const seg of this.segments.filter((s) => s < keep)) rmSync(this.segmentPath(seg), { force: true });
    this.segments = this.segments.filter((s) => s >= keep);
    fsyncDir(join(this.dir, 'wal'));
    this.statsData.segments = this.segments.length;
  }

  private writeSnapshotFile(snapshot: Snapshot): void {
    const dir = join(this.dir, 'snap');
    const name = `${pad(snapshot.meta.term)}-${pad(snapshot.meta.index)}.snap`;
    const tmp = join(dir, `${name}.tmp`);
    const body = Buffer.from(pack({ meta: snapshot.meta, data: snapshot.data }));
    const fd = openSync(tmp, 'w');
    try {
      writeFileSync(fd, encodeRecord(RecordType.Snapshot, body));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(dir, name));
    fsyncDir(dir);
    const snaps = readdirSync(dir).filter((f) => SNAP.test(f)).sort();
    for (const old of snaps.slice(0, Math.max(0, snaps.length - this.o.keepSnapshots))) rmSync(join(dir, old), { force: true });
  }

  // ---- reading ------------------------------------------------------------------------------------

  /** Newest readable snapshot file; leftover temp files from a crash are removed. */
  private loadSnapshot(): void {
    const dir = join(this.dir, 'snap');
    for (const f of readdirSync(dir)) if (f.endsWith('.tmp')) rmSync(join(dir, f), { force: true });
    const snaps = readdirSync(dir).filter((f) => SNAP.test(f)).sort().reverse();
    for (const name of snaps) {
      const buf = readFileSync(join(dir, name));
      const r = readRecord(buf, 0);
      if (r.kind !== 'record') {
        this.log(`storage: snapshot ${name} is unreadable (${r.kind === 'bad' ? r.why : 'empty'}); trying an older one`);
        continue;
      }
      const s = unpack(r.payload) as Snapshot;
      this.snapshotMeta = s.meta;
      this.snapshotData = s.data;
      return;
    }
  }

  private replay(): void {
    const walDir = join(this.dir, 'wal');
    this.segments = readdirSync(walDir).map((f) => SEGMENT.exec(f)).filter((m) => m !== null).map((m) => Number(m[1])).sort((a, b) => a - b);
    const snapFromFile = this.snapshotMeta;
    this.segments.forEach((seg, i) => {
      const path = this.segmentPath(seg);
      const buf = readFileSync(path);
      let offset = 0;
      for (;;) {
        const r = readRecord(buf, offset);
        if (r.kind === 'end') break;
        if (r.kind === 'bad') {
          const last = i === this.segments.length - 1;
          if (!last || validRecordAfter(buf, offset)) throw new StorageCorruptError(path, offset, r.why);
          truncateSync(path, offset);
          const note = `wal: truncated torn tail at ${path} offset ${offset} (${buf.length - offset} bytes: ${r.why})`;
          this.statsData.repairs.push(note);
          this.log(note);
          break;
        }
        this.applyRecord(r.type, r.payload, path, offset);
        offset = r.next;
      }
    });
    // A snapshot recorded in the WAL must exist as a file, or the log before it is gone for good.
    if (this.snapshotMeta !== null && (snapFromFile === null || snapFromFile.index < this.snapshotMeta.index)) {
      throw new QuorateError('CORRUPT', `the WAL refers to snapshot ${this.snapshotMeta.index} but no readable snapshot file has it; refusing to start`);
    }
  }

  private applyRecord(type: number, payload: Buffer, path: string, offset: number): void {
    switch (type) {
      case RecordType.Entries: {
        const entries = unpack(payload) as LogEntry[];
        this.applyEntries(entries[0]?.index ?? null, entries);
        return;
      }
      case RecordType.EntriesAt: {
        const r = unpack(payload) as { truncateFrom: Index | null; entries: LogEntry[] };
        this.applyEntries(r.truncateFrom, r.entries);
        return;
      }
      case RecordType.HardState:
        this.hardState = unpack(payload) as H;
        return;
      case RecordType.Snapshot:
        this.applySnapshotMeta(unpack(payload) as SnapshotMeta, null);
        return;
      default:
        throw new StorageCorruptError(path, offset, `unknown record type ${type}`);
    }
  }

  private applySnapshotMeta(meta: SnapshotMeta, data: Uint8Array | null): void {
    if (this.snapshotMeta !== null && meta.index < this.snapshotMeta.index) return;
    // Entries after the snapshot stay (for Raft they continue from it; Paxos slots may have gaps).
    this.entries = this.entries.filter((e) => e.index > meta.index);
    this.snapshotMeta = meta;
    if (data !== null) this.snapshotData = data;
  }

  /** Discard stored entries at or after `truncateFrom`, then write each entry at its index. */
  private applyEntries(truncateFrom: number | null, entries: readonly LogEntry[]): void {
    if (truncateFrom !== null) {
      let keep = this.entries.length;
      while (keep > 0 && this.entries[keep - 1]!.index >= truncateFrom) keep--;
      this.entries.length = keep;
    }
    for (const e of entries) {
      if (e.index <= (this.snapshotMeta?.index ?? 0)) continue;
      putAt(this.entries, { ...e, data: new Uint8Array(e.data) });
    }
  }

  private segmentPath(seg: number): string {
    return join(this.dir, 'wal', `${pad(seg)}.wal`);
  }
}

/** Whether a Persist is a plain truncate-and-append (the compact, original record format). */
function isAppend(truncateFrom: number | null, entries: readonly LogEntry[]): boolean {
  if (entries.length === 0) return truncateFrom === null;
  if (truncateFrom !== entries[0]!.index) return false;
  for (let i = 1; i < entries.length; i++) if (entries[i]!.index !== entries[i - 1]!.index + 1) return false;
  return true;
}

function pad(n: number): string {
  return String(n).padStart(16, '0');
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

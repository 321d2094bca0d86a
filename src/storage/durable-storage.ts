/**
 * Durable storage for one replica: a write-ahead log of segment files plus snapshot files, on a
 * FileSystem port (node:fs in production, the model file system in the simulator: the same code
 * in both). It implements the driver's StoragePort structurally: callbacks, never Promises (the
 * simulator completes every file operation on its virtual clock; async.ts wraps it for callers
 * in async code).
 *
 * One writer. Every operation that touches the files after open (a group of saves, a snapshot,
 * a segment rotation, a compaction, the startup fsyncs, close) is a job in one FIFO queue, and
 * one job runs at a time: no two rotations, no compaction while a batch is written, one fd per
 * segment. Saves queued while a write+datasync runs share the next one (group commit) and
 * complete in the order they were made.
 *
 * What is durable when a save's `done(null)` runs: every record of that Persist and of every
 * earlier save, and everything restored() returned at open (see README.md for the whole list and
 * for what is not guaranteed). Every write ends with a seal record. On open, a torn write at the
 * tail of the last segment (a bad record with no seal after it and no unreadable sector) is cut
 * off and reported; any other bad record is a refusal to start (StorageCorruptError), never a
 * silent skip: it may hold something that was acknowledged. After a failed write or fsync every
 * later save fails.
 */
import { dirname, join, sep } from 'node:path';
import { packInto, packTransient, unpack } from '../core/codec.js';
import { assert } from '../core/assert.js';
import { QuorateError, TooManyRequests } from '../core/errors.js';
import type { LogEntry, Persist, RestoredState, Snapshot, SnapshotMeta } from '../core/replica.js';
import { truncationPoint } from '../core/replica.js';
import type { Index } from '../core/ids.js';
import { emptyEntries, putAt } from './entries.js';
import type { Done, Fd, FileSystem } from './fs.js';
import { assertKnownStorageMutant, type StorageMutant } from './mutants.js';
import { readLocatingBadSectors, unreadableIn, type UnreadableRange } from './read-sectors.js';
import { assertFramed, claimedRecordEnd, encodeWalRecord, lastRecordCrc, maxSealBytes, mismatchedPieces, nextSeal, putWalRecord, putWalRecordHead, readRecord, RECORD_HEADER_BYTES, RecordType, sealAt, SEAL_SECTOR_BYTES, unwrittenSectorsExplain, validRecordAfter, walRecordBytes, writeSeal, type ReadResult } from './record.js';
import { compareSnapshotsNewestFirst, encodeSnapshotFile, MAX_SNAPSHOT_CHUNK_BYTES, parseSnapshotFileName, readSnapshotFile, SNAPSHOT_TEMP_SUFFIX, snapshotFileName } from './snapshot-file.js';
import { runSteps, syncStep, type Step } from './steps.js';
import { encodeEntries, encodeInstall, encodeRestatement, type RecordSink } from './wal-records.js';

export class StorageCorruptError extends QuorateError {
  override readonly name = 'StorageCorruptError';
  constructor(readonly file: string, readonly offset: number, why: string, whyNotTorn: string) {
    super(
      'CORRUPT',
      `corrupt write-ahead log: ${file} at byte ${offset}: ${why}. ${whyNotTorn}, so this is not a torn write; ` +
        'refusing to start. Restore this member from a snapshot of a healthy member, or remove it and add it back.',
    );
  }
}

export interface StorageOptions {
  /** Start a new segment once the current one reaches this size. */
  readonly segmentBytes?: number;
  /** One write+fsync carries at most this many bytes (more waits for the next). */
  readonly maxBatchBytes?: number;
  /** save() calls waiting for their fsync; over it save() fails with TooManyRequests. */
  readonly maxPendingSaves?: number;
  /** Snapshots kept on disk. */
  readonly keepSnapshots?: number;
  /** A snapshot file holds its data in records of at most this many bytes, so any size reads back. */
  readonly snapshotChunkBytes?: number;
  /** The entries of one save are split into records of about this many bytes. */
  readonly entriesRecordBytes?: number;
  readonly logger?: (message: string) => void;
  /** The clock behind stats().lastFsyncMs and onFsync; the simulator passes its virtual one. */
  readonly nowMs?: () => number;
  /**
   * Called after every completed datasync of a WAL segment with its duration in ms (what etcd's
   * etcd_disk_wal_fsync_duration_seconds measures: the fsync alone, not the write before it nor
   * the jobs queued ahead of it).
   */
  readonly onFsync?: (ms: number) => void;
  /** Test-only: one of STORAGE_MUTANTS (mutants.ts). */
  readonly mutant?: string;
}

export const DEFAULT_STORAGE_OPTIONS = {
  segmentBytes: 64 * 1024 * 1024,
  maxBatchBytes: 16 * 1024 * 1024,
  maxPendingSaves: 100_000,
  keepSnapshots: 2,
  snapshotChunkBytes: 8 * 1024 * 1024,
  entriesRecordBytes: 16 * 1024 * 1024,
} as const;

type Limits = { readonly [K in keyof typeof DEFAULT_STORAGE_OPTIONS]: number };

export interface StorageStats {
  segments: number;
  /** Completed datasyncs of WAL segments (snapshot files not counted). */
  fsyncs: number;
  saves: number;
  bytesWritten: number;
  lastFsyncMs: number;
  /** Completed directory fsyncs. */
  dirFsyncs: number;
  repairs: string[];
}

/**
 * Work for the one writer, in the order it was asked for. Every job has the same fields (those a
 * kind does not use are null), so the queue holds objects of one shape: the batching loop reads
 * every queued job, and met a new shape whenever a new kind of job first came along.
 */
type Job =
  /** `size`: the bytes of its records, staged after those of the saves queued before it (see `staged`). */
  | { readonly kind: 'save'; readonly size: number; readonly task: null; readonly done: Done }
  | { readonly kind: 'task'; readonly size: 0; readonly task: Task; readonly done: Done }
  | { readonly kind: 'close'; readonly size: 0; readonly task: null; readonly done: Done };

type SaveJob = Extract<Job, { kind: 'save' }>;

function taskJob(task: Task, done: Done): Job {
  return { kind: 'task', size: 0, task, done };
}

/** A job of steps (see stepsOf), named by what it does. Data, not a closure: see stepsOf. */
type Task =
  | { readonly what: 'startup'; readonly created: readonly string[] }
  | { readonly what: 'snapshot file'; readonly snapshot: Snapshot }
  | { readonly what: 'prune snapshots' }
  | { readonly what: 'snapshot and compaction'; readonly snapshot: Snapshot; readonly restatement: readonly Buffer[] }
  | { readonly what: 'sync' };

const SEGMENT = /^(\d{16})\.wal$/;
const ignore: Done = () => {};

export class DurableStorage<H> {
  // The state a reopen would replay: it follows save() calls at once (not their fsyncs).
  private hardState: H | null = null;
  private snapshotMeta: SnapshotMeta | null = null;
  private snapshotData: Uint8Array | null = null;
  /** Snapshot files found at open (see loadSnapshot). */
  private snapshotFiles: { readonly index: number; readonly term: number; readonly name: string }[] = [];
  private entries: LogEntry[] = emptyEntries();

  /** Segment numbers on disk, ascending; the last is the one open for appending. */
  private segments: number[] = [];
  private segmentSize = 0;
  /**
   * How much of the open segment its last completed datasync made durable (null: none yet since
   * open, whose startup job makes what it replayed durable). A failure cuts the segment back to it.
   */
  private syncedSize: number | null = null;
  /**
   * The CRC field of the open segment's last record (null: it is empty): with segmentSize, what
   * the chain record of the segment after it says (see chainRecord).
   */
  private segmentEndCrc: number | null = null;
  /**
   * Whether the last segment, as open found it, is empty or ends with a seal. When not (a torn
   * write cut off after its whole records, a seal torn, a log written before seals), the startup
   * job seals what open restored, or a flipped bit in it would later read as a torn write.
   */
  private tailSealed = true;
  /** The CRC field of the last record replay read in the last segment (null: none): see segmentEndCrc. */
  private replayedEndCrc: number | null = null;
  /**
   * What the chain record of the open segment's first write says, when open found it empty after
   * another segment (a process stopped between a rotation and its first write): null otherwise.
   * A compaction writes its restatement there (see compactionSteps).
   */
  private emptySegmentChain: ChainRecord | null = null;
  /** The open segment: owned by the running job (and open() before the first one). */
  private fd: Fd | null = null;
  /** A snapshot temp file being written, so a failure can release it. */
  private snapshotFd: Fd | null = null;

  private readonly jobs: Job[] = [];
  /** The saves being written by the running job, if it is a batch of saves. */
  private batch: SaveJob[] = [];
  /**
   * The append (write, then datasync) the running job is doing: one at a time, so its state
   * lives here and its callbacks are made once (closures per batch were garbage on the hot path).
   */
  private appending: { readonly bytes: number; readonly endCrc: number | null; syncStartedMs: number; readonly done: Done } | null = null;
  /** The buffer the running job's WAL write is assembled in (see WriteAssembly). */
  private assembly = new WriteAssembly();
  /**
   * The records of the saves in `jobs`, in their order, encoded there by save() (no buffer per
   * record). A batch is the first saves queued, so its records are the first bytes staged; when
   * it takes them all (nearly always: a save that finds the writer idle is a batch of its own at
   * once) this buffer becomes the write's and the write's, free since its job ended, takes the
   * next saves (see batchBuffer): the records are written from where they were encoded.
   */
  private staged = new WriteAssembly();
  /** A job is running (its steps await a callback). */
  private busy = false;
  private pumping = false;
  private pumpAgain = false;
  private pendingSaves = 0;
  private closing = false;
  private closed = false;
  /** Set by the first failed write or fsync; every later save fails with it. */
  private failed: Error | null = null;

  private readonly walDir: string;
  private readonly snapDir: string;
  private readonly o: Limits;
  private readonly log: (m: string) => void;
  private readonly nowMs: () => number;
  private readonly onFsync: (ms: number) => void;
  private readonly mutant: StorageMutant | null;
  private readonly statsData: StorageStats = { segments: 0, fsyncs: 0, saves: 0, bytesWritten: 0, lastFsyncMs: 0, dirFsyncs: 0, repairs: [] };

  private constructor(private readonly fs: FileSystem, private readonly dir: string, options: StorageOptions) {
    this.o = { ...DEFAULT_STORAGE_OPTIONS, ...definedLimits(options) };
    for (const [k, v] of Object.entries(this.o)) assert(Number.isInteger(v) && v >= 1, () => `storage option ${k}=${v}`);
    assert(this.o.snapshotChunkBytes <= MAX_SNAPSHOT_CHUNK_BYTES, () => `snapshotChunkBytes=${this.o.snapshotChunkBytes} over ${MAX_SNAPSHOT_CHUNK_BYTES}`);
    this.log = options.logger ?? (() => {});
    this.nowMs = options.nowMs ?? (() => performance.now());
    this.onFsync = options.onFsync ?? (() => {});
    if (options.mutant !== undefined) assertKnownStorageMutant(options.mutant);
    this.mutant = options.mutant ?? null;
    this.walDir = join(dir, 'wal');
    this.snapDir = join(dir, 'snap');
  }

  /**
   * Open (creating if needed) the storage in `dir`: replay the log, cut off a torn tail, refuse
   * corruption. Synchronous; the fsyncs that make the directories and what was replayed durable
   * are the first job in the queue, so no save completes before them (sync() waits for them).
   */
  static open<H>(fs: FileSystem, dir: string, options: StorageOptions = {}): DurableStorage<H> {
    const s = new DurableStorage<H>(fs, dir, options);
    const created = missingDirs(fs, [s.walDir, s.snapDir]);
    fs.mkdir(s.walDir);
    fs.mkdir(s.snapDir);
    s.loadSnapshot();
    s.replay();
    if (s.segments.length === 0) s.segments.push(1);
    const last = s.segmentPath(s.segments[s.segments.length - 1]!);
    s.fd = fs.openAppend(last);
    s.segmentSize = fs.size(last);
    s.segmentEndCrc = s.replayedEndCrc;
    s.statsData.segments = s.segments.length;
    s.jobs.push(taskJob({ what: 'startup', created }, ignore));
    s.pump();
    return s;
  }

  restored(): RestoredState<H> {
    const snapshot: Snapshot | null = this.snapshotMeta === null ? null : { meta: this.snapshotMeta, data: this.snapshotData ?? new Uint8Array(0) };
    return { hardState: this.hardState, snapshot, entries: [...this.entries] };
  }

  stats(): StorageStats {
    return { ...this.statsData, repairs: [...this.statsData.repairs] };
  }

  /**
   * Make `persist` durable; `done` runs after the datasync that covers it, in the order saves
   * were made. A save refused at once (storage failed or closed, too many pending) calls `done`
   * before returning.
   */
  save(persist: Persist<H>, done: Done): void {
    const refused = this.refusal();
    if (refused !== null) return done(refused);
    if (this.pendingSaves >= this.o.maxPendingSaves) return done(new TooManyRequests('maxPendingSaves', this.o.maxPendingSaves));
    const truncateFrom = truncationPoint(persist);
    const staged = this.staged;
    const from = staged.length;
    try {
      if (persist.snapshot !== null) {
        // The record naming the snapshot goes after the file and its directory entry are durable;
        // it carries the save's truncation and first entries (see RecordType.Install).
        encodeInstall(staged, persist.snapshot.meta, truncateFrom, persist.entries, this.o.entriesRecordBytes);
      } else {
        encodeEntries(staged, truncateFrom, persist.entries, this.o.entriesRecordBytes);
      }
      if (persist.hardState !== null) staged.addValue(RecordType.HardState, persist.hardState, HARD_STATE_BYTES_ESTIMATE);
    } catch (err) {
      // A save that throws leaves none of its records staged (the next save's would follow them
      // into a write) and no job (below: a snapshot file written for a save that never happened).
      staged.length = from;
      throw err;
    }
    // Queued only once every record encoded.
    if (persist.snapshot !== null) this.jobs.push(taskJob({ what: 'snapshot file', snapshot: persist.snapshot }, ignore));
    // The in-memory view follows the log immediately; it is what a reopen would replay.
    if (persist.snapshot !== null) this.applySnapshotMeta(persist.snapshot.meta, persist.snapshot.data);
    this.applyEntries(truncateFrom, persist.entries);
    if (persist.hardState !== null) this.hardState = persist.hardState;
    this.statsData.saves++;
    this.pendingSaves++;
    this.jobs.push({ kind: 'save', size: staged.length - from, task: null, done });
    // Older snapshot files go only once the WAL names the new one durably.
    if (persist.snapshot !== null) this.jobs.push(taskJob({ what: 'prune snapshots' }, ignore));
    this.pump();
  }

  /**
   * The state machine's own snapshot at `snapshot.meta.index`: the file written and made durable
   * (temp file, datasync, rename, directory fsync), then the current state restated in a fresh
   * segment, older segments deleted, older snapshots pruned. `done` after all of it.
   */
  saveSnapshot(snapshot: Snapshot, done: Done): void {
    const refused = this.refusal();
    if (refused !== null) return done(refused);
    this.applySnapshotMeta(snapshot.meta, snapshot.data);
    const meta = this.snapshotMeta;
    assert(meta !== null, 'a snapshot is recorded');
    // Restated as of this call, in call order: saves made later are written after it.
    const restatement = encodeRestatement(meta, this.entries, this.hardState, this.o.entriesRecordBytes);
    this.jobs.push(taskJob({ what: 'snapshot and compaction', snapshot, restatement }, done));
    this.pump();
  }

  /** `done` once everything restored at open and every save made so far is durable. */
  sync(done: Done): void {
    const refused = this.refusal();
    if (refused !== null) return done(refused);
    this.jobs.push(taskJob({ what: 'sync' }, done));
    this.pump();
  }

  /** Finish every save already made, then release the files. */
  close(done: Done): void {
    if (this.closed) return done(null);
    this.closing = true;
    this.jobs.push({ kind: 'close', size: 0, task: null, done });
    this.pump();
  }

  // ---- the writer ------------------------------------------------------------------------------

  private refusal(): Error | null {
    if (this.failed !== null) return this.failed;
    if (this.closing || this.closed) return new QuorateError('STOPPED', 'storage is closed');
    return null;
  }

  /** Start the next job if none is running. Loops rather than recursing when jobs finish synchronously. */
  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    do {
      this.pumpAgain = false;
      if (!this.busy && this.jobs.length > 0) this.startNext();
    } while (this.pumpAgain);
    this.pumping = false;
  }

  private startNext(): void {
    const head = this.jobs[0];
    assert(head !== undefined && !this.busy, 'one job at a time');
    this.busy = true;
    switch (head.kind) {
      case 'save': {
        // Group commit: every save queued so far (up to maxBatchBytes) shares one write and datasync.
        let size = 0;
        let n = 0;
        while (n < this.jobs.length) {
          const j = this.jobs[n]!;
          if (j.kind !== 'save' || (n > 0 && size + j.size > this.o.maxBatchBytes)) break;
          size += j.size;
          n++;
        }
        this.batch = this.jobs.splice(0, n) as SaveJob[];
        this.takeStaged(size);
        this.append(size, this.batchWritten$);
        return;
      }
      case 'task': {
        this.jobs.shift();
        runSteps(this.stepsOf(head.task), (err) => {
          if (err !== null) return this.fail(err, head.task.what, [head]);
          head.done(null);
          this.finishJob();
        });
        return;
      }
      case 'close': {
        this.jobs.shift();
        this.release();
        head.done(null);
        this.finishJob();
        return;
      }
    }
  }

  /** The batch of saves being written is durable (or failed). */
  private readonly batchWritten$ = (err: Error | null): void => {
    const batch = this.batch;
    this.batch = [];
    this.pendingSaves -= batch.length;
    if (err !== null) return this.fail(err, `a batch of ${batch.length} saves`, batch);
    for (let i = 0; i < batch.length; i++) batch[i]!.done(null);
    this.finishJob();
  };

  private finishJob(): void {
    this.busy = false;
    // A write larger than the kept buffer had one of its own: let it go now, not at the next write.
    this.assembly.start();
    this.pump();
  }

  /**
   * After a failed write or fsync the files' contents are unknown: fail this job, every queued
   * one and every later save (retrying an fsync can report success for data that was lost).
   */
  private fail(err: Error, what: string, current: readonly Job[]): void {
    this.failed = new QuorateError('UNAVAILABLE', `write-ahead log write failed (${what}): ${err.message}`);
    this.log(`storage: ${this.failed.message}; refusing every later save`);
    this.cutUnsynced();
    if (this.snapshotFd !== null) {
      const fd = this.snapshotFd;
      this.snapshotFd = null;
      tryClose(this.fs, fd);
    }
    const rest = this.jobs.splice(0);
    this.staged.start(); // the records of the saves in `rest`
    for (const j of rest) if (j.kind === 'save') this.pendingSaves--;
    for (const j of [...current, ...rest]) {
      if (j.kind === 'close') {
        this.release();
        j.done(null);
      } else {
        j.done(this.failed);
      }
    }
    this.finishJob();
  }

  /**
   * After a failure, cut the open segment back to what its last datasync made durable. A failed
   * datasync's pages stay in the page cache, marked clean (Linux does so; so does the model file
   * system): a restarted process would read them, its startup datasync would have nothing of them
   * to write, and a power loss would then take records open restored and later saves rested on
   * (the next segment's chain record names them: open refuses). A failed write may also have
   * landed in part. Best effort: the storage has failed whatever this does.
   */
  private cutUnsynced(): void {
    const synced = this.syncedSize;
    if (this.fd === null || synced === null) return;
    const path = this.segmentPath(this.segments[this.segments.length - 1]!);
    try {
      if (this.fs.size(path) <= synced) return;
      this.fs.truncate(path, synced);
      this.log(`storage: cut ${path} back to ${synced} bytes, what its last datasync made durable`);
    } catch (err) {
      this.log(`storage: could not cut ${path} back to ${synced} bytes: ${(err as Error).message}`);
    }
  }

  private release(): void {
    this.closed = true;
    if (this.fd !== null) tryClose(this.fs, this.fd);
    this.fd = null;
  }

  // ---- steps -------------------------------------------------------------------------------------

  /**
   * The steps of a task. Tasks are data and this switch picks their steps: closures made per
   * task, called from one place, made that place's optimized code bail out at each new kind.
   */
  private stepsOf(task: Task): Iterable<Step> {
    switch (task.what) {
      case 'startup':
        return this.startupSteps(task.created);
      case 'snapshot file':
        return this.snapshotFileSteps(task.snapshot);
      case 'prune snapshots':
        return this.pruneSnapshotSteps();
      case 'snapshot and compaction':
        return this.compactionSteps(task.snapshot, task.restatement);
      case 'sync':
        return [];
    }
  }

  /**
   * The write assembly's records (its first `recordBytes` bytes) appended to the open segment
   * (rotating first if they and their seal's room would overflow it), sealed, then datasynced. The
   * common case, no rotation, is a write and a datasync chained by hand: it runs for every group
   * commit, and a generator of steps per batch was a measurable share of the simulator's time.
   */
  private append(recordBytes: number, done: Done): void {
    assert(this.assembly.length === recordBytes, () => `appending ${recordBytes} bytes of records from an assembly of ${this.assembly.length}`);
    const rotate = this.segmentSize > 0 && this.segmentSize + recordBytes + maxSealBytes(recordBytes) > this.o.segmentBytes;
    const pending = this.takeEmptySegmentChain();
    const chain = rotate ? this.chainRecord(false) : pending === null ? null : encodeChainRecord(pending);
    if (chain !== null) {
      // A segment's first write starts with its chain record: the records move up to make room
      // for it, in the same buffer (a write larger than what is left of a segment rotates: in a
      // run of large values nearly every one does, and a buffer of its own each time was garbage).
      const bytes = chain.length + recordBytes;
      const first = this.assembly.room(bytes + maxSealBytes(bytes));
      first.copyWithin(chain.length, 0, recordBytes);
      chain.copy(first, 0);
      const sealed = writeSeal(first, bytes, 0);
      const buf = first.subarray(0, this.mutant === 'unsealed-writes' ? bytes : sealed);
      assertFramed(buf);
      runSteps(rotate ? this.rotateThenAppendSteps(buf) : [this.writeSegmentStep(buf), this.datasyncSegmentStep()], done);
      return;
    }
    const records = this.assembly.room(recordBytes + maxSealBytes(recordBytes));
    const sealed = writeSeal(records, recordBytes, this.segmentSize);
    const unsealed = this.mutant === 'unsealed-writes';
    const buf = records.subarray(0, unsealed ? recordBytes : sealed);
    assertFramed(buf);
    const fd = this.fd;
    assert(fd !== null, 'a segment is open to write');
    // The write's last record is its seal, at recordBytes (its CRC field 4 bytes in).
    const endCrc = unsealed ? lastRecordCrc(buf) : buf.readUInt32LE(recordBytes + 4);
    this.appending = { bytes: buf.length, endCrc: buf.length === 0 ? this.segmentEndCrc : endCrc, syncStartedMs: 0, done };
    this.fs.write(fd, buf, this.appended$);
  }

  /**
   * The chain record that starts the segment after the open one (taken before the rotation):
   * the open segment's number, length and last record's CRC, as written. On open, an older
   * segment that does not end where its successor's chain record says (cut at a record boundary,
   * where every record left still reads whole, or replaced) is refused, not read short.
   *
   * Length and the last record's CRC, not a CRC of the whole segment: the length is what a cut
   * changes, and every record's own CRC already covers its bytes; the last record is the last
   * write's seal, whose payload holds the CRCs of that write's sectors, so its CRC pins the end of
   * the segment to what was written there. Both are known in memory when the segment is left:
   * nothing is read back, nothing is CRC'd again.
   */
  /** The chain record the open segment still lacks (open found it empty after another), taken: its first write carries it. */
  private takeEmptySegmentChain(): ChainRecord | null {
    const pending = this.segmentSize === 0 ? this.emptySegmentChain : null;
    if (pending !== null) this.emptySegmentChain = null;
    return pending;
  }

  private chainRecord(compaction: boolean): Buffer {
    const previous = this.segments[this.segments.length - 1]!;
    return encodeChainRecord(chainRecordPayload(previous, this.segmentSize, this.segmentEndCrc, compaction));
  }

  // The write and the datasync of an append, as callbacks made once (see `appending`): they
  // do what writeSegmentStep and datasyncSegmentStep do.
  private readonly appended$ = (err: Error | null): void => {
    const a = this.appending;
    assert(a !== null, 'an append is being written');
    if (err !== null) return this.endAppend(err);
    this.segmentSize += a.bytes;
    this.segmentEndCrc = a.endCrc;
    this.statsData.bytesWritten += a.bytes;
    const fd = this.fd;
    assert(fd !== null, 'a segment is open to sync');
    a.syncStartedMs = this.nowMs();
    this.fs.datasync(fd, this.appendSynced$);
  };

  private readonly appendSynced$ = (err: Error | null): void => {
    const a = this.appending;
    assert(a !== null, 'an append is being synced');
    if (err !== null && this.mutant === 'retry-failed-fsync' && this.fd !== null) return this.fs.datasync(this.fd, this.appendSynced$);
    if (err === null) this.fsynced(this.nowMs() - a.syncStartedMs);
    this.endAppend(err);
  };

  private endAppend(err: Error | null): void {
    const a = this.appending;
    assert(a !== null, 'an append ends once');
    this.appending = null;
    a.done(err);
  }

  private *rotateThenAppendSteps(buf: Buffer): Generator<Step> {
    yield* this.rotateSteps();
    yield this.writeSegmentStep(buf);
    yield this.datasyncSegmentStep();
  }

  /** Close the full segment, open the next, and make its directory entry durable before anything in it is acknowledged. */
  private *rotateSteps(): Generator<Step> {
    yield syncStep(() => {
      const fd = this.fd;
      assert(fd !== null, 'a segment is open to rotate');
      this.fd = null;
      this.fs.close(fd);
      const next = this.segments[this.segments.length - 1]! + 1;
      this.fd = this.fs.openAppend(this.segmentPath(next));
      this.segments.push(next);
      this.segmentSize = 0;
      this.syncedSize = 0;
      this.segmentEndCrc = null;
      this.emptySegmentChain = null; // the segment it was for is left behind, empty
      this.statsData.segments = this.segments.length;
    });
    yield this.dirSyncStep(this.walDir);
  }

  private writeSegmentStep(buf: Buffer): Step {
    return (next) => {
      const fd = this.fd;
      assert(fd !== null, 'a segment is open to write');
      this.fs.write(fd, buf, (err) => {
        if (err === null) {
          this.segmentSize += buf.length;
          if (buf.length > 0) this.segmentEndCrc = lastRecordCrc(buf);
          this.statsData.bytesWritten += buf.length;
        }
        next(err);
      });
    };
  }

  private datasyncSegmentStep(): Step {
    return (next) => {
      const fd = this.fd;
      assert(fd !== null, 'a segment is open to sync');
      const t0 = this.nowMs();
      this.fs.datasync(fd, (err) => {
        if (err !== null && this.mutant === 'retry-failed-fsync') return this.datasyncSegmentStep()(next);
        if (err === null) this.fsynced(this.nowMs() - t0);
        next(err);
      });
    };
  }

  private fsynced(ms: number): void {
    this.syncedSize = this.segmentSize;
    this.statsData.fsyncs++;
    this.statsData.lastFsyncMs = ms;
    // An observer (a metric): whatever it throws must not stop the append or step it belongs to.
    try {
      this.onFsync(ms);
    } catch (err) {
      this.log(`onFsync threw (ignored): ${(err as Error).message}`);
    }
  }

  /** A directory's fsync; `bestEffort`: a failure is logged, and the steps go on. */
  private dirSyncStep(path: string, bestEffort = false): Step {
    return (next) => {
      if (this.mutant === 'skip-dir-fsync') return next(null);
      this.fs.fsyncDir(path, (err) => {
        if (err === null) this.statsData.dirFsyncs++;
        else if (bestEffort) this.log(`storage: fsync of ${path} failed (ignored: an ancestor of the data directory): ${err.message}`);
        next(bestEffort ? null : err);
      });
    };
  }

  /**
   * Before any save completes, make durable everything open() relied on: the directories it
   * created or found (a previous process may have died before fsyncing them), the last segment
   * (a killed process may have written records it never synced, and open replayed them; a
   * torn-tail repair is a truncation that must not come undone) and the snapshot directory's
   * entries (the snapshot restored may have been renamed by a process that died before its
   * directory fsync). Older segments need nothing: each was datasynced before the writer moved on.
   * Then, if the last segment does not end with a seal (see tailSealed), a seal for what it holds.
   */
  private *startupSteps(created: readonly string[]): Generator<Step> {
    const dirs = new Set<string>();
    for (const d of created) dirs.add(dirname(d));
    if (dirname(this.dir) !== this.dir) dirs.add(dirname(this.dir));
    dirs.add(this.dir);
    dirs.add(this.walDir);
    dirs.add(this.snapDir);
    // Every ancestor above those too: an open that died before this job (the process killed) may
    // have created several levels, and the next open cannot tell that it did; an entry of one never
    // fsynced loses the whole data directory at a power loss, however much was acknowledged in it
    // since. Best effort there (logged, not fatal): a directory this process did not create may
    // refuse a sync (a read-only root), and then its entries were not ours to lose.
    const above: string[] = [];
    for (let d = dirname(dirname(this.dir)); ; d = dirname(d)) {
      if (!dirs.has(d)) above.push(d);
      if (dirname(d) === d) break;
    }
    for (const d of [...dirs].sort()) yield this.dirSyncStep(d);
    if (this.mutant !== 'skip-ancestor-fsync') for (const d of above) yield this.dirSyncStep(d, true);
    yield this.datasyncSegmentStep();
    if (this.tailSealed || this.segmentSize === 0 || this.mutant === 'unsealed-writes') return;
    // After the datasync above, not before: one unsynced write per segment at a time (a seal
    // persisted before the records it follows would make them look acknowledged).
    // A seal of an empty write: everything before it was durable before it was written.
    const seal = Buffer.alloc(maxSealBytes(0));
    yield this.writeSegmentStep(seal.subarray(0, writeSeal(seal, 0, this.segmentSize)));
    yield this.datasyncSegmentStep();
  }

  /** Temp file, chunk records, datasync, rename into place, directory fsync. */
  private *snapshotFileSteps(snapshot: Snapshot): Generator<Step> {
    const name = snapshotFileName(snapshot.meta);
    const tmp = inDir(this.snapDir, name + SNAPSHOT_TEMP_SUFFIX);
    yield syncStep(() => {
      assert(this.snapshotFd === null, 'one snapshot file written at a time');
      this.snapshotFd = this.fs.openTruncate(tmp);
    });
    for (const record of encodeSnapshotFile(snapshot, this.o.snapshotChunkBytes)) {
      yield (next) => this.fs.write(this.snapshotFd!, record, next);
    }
    yield (next) => this.fs.datasync(this.snapshotFd!, next);
    yield syncStep(() => {
      const fd = this.snapshotFd!;
      this.snapshotFd = null;
      this.fs.close(fd);
      this.fs.rename(tmp, inDir(this.snapDir, name));
    });
    yield this.dirSyncStep(this.snapDir);
  }

  /**
   * A snapshot, then the log behind it dropped: the state restated in a fresh segment (durable,
   * with its directory entry) before any older segment is deleted, so a deleted segment is never
   * the only copy of anything; older snapshot files pruned only once those deletions are durable.
   */
  private *compactionSteps(snapshot: Snapshot, restatement: readonly Buffer[]): Generator<Step> {
    yield* this.snapshotFileSteps(snapshot);
    // The fresh segment starts with its chain record, saying it restates everything before it.
    // An open segment that open found empty after another is fresh already (its directory entry
    // made durable by the startup job): the restatement goes there. A rotation would leave it
    // empty, without its chain record, between the segment before it and the new one, and
    // nothing would check that segment's end any more while a power loss kept it.
    const pending = this.takeEmptySegmentChain();
    const chain = pending === null ? this.chainRecord(true) : encodeChainRecord({ ...pending, compaction: true });
    if (pending === null) yield* this.rotateSteps();
    const recordBytes = chain.length + restatement.reduce((n, r) => n + r.length, 0);
    this.assembly.start();
    const records = this.assembly.room(recordBytes + maxSealBytes(recordBytes)).subarray(0, recordBytes + maxSealBytes(recordBytes));
    records.set(chain, 0);
    let at = chain.length;
    for (const r of restatement) {
      records.set(r, at);
      at += r.length;
    }
    const sealed = writeSeal(records, recordBytes, this.segmentSize);
    const buf = records.subarray(0, this.mutant === 'unsealed-writes' ? recordBytes : sealed);
    assertFramed(buf);
    yield this.writeSegmentStep(buf);
    yield this.datasyncSegmentStep();
    yield syncStep(() => {
      const keep = this.segments[this.segments.length - 1]!;
      for (const seg of this.segments.filter((s) => s < keep)) this.fs.unlink(this.segmentPath(seg));
      this.segments = [keep];
      this.statsData.segments = 1;
    });
    yield this.dirSyncStep(this.walDir);
    yield* this.pruneSnapshotSteps();
  }

  /** Delete snapshot files beyond the newest `keepSnapshots`; never the one the WAL names. */
  private *pruneSnapshotSteps(): Generator<Step> {
    let removed = 0;
    yield syncStep(() => {
      // Every save that installs a snapshot and every compaction prunes: a plain loop, no array per name.
      const names = this.fs.readdir(this.snapDir);
      const snaps: { readonly term: number; readonly index: number; readonly name: string }[] = [];
      for (let i = 0; i < names.length; i++) {
        const name = names[i]!;
        const id = parseSnapshotFileName(name);
        if (id !== null) snaps.push({ term: id.term, index: id.index, name });
      }
      if (snaps.length <= this.o.keepSnapshots) return;
      snaps.sort(compareSnapshotsNewestFirst);
      const current = this.snapshotMeta === null ? null : snapshotFileName(this.snapshotMeta);
      for (let i = this.o.keepSnapshots; i < snaps.length; i++) {
        assert(snaps[i]!.name !== current, () => `pruning would delete ${current}, the snapshot the WAL names`);
      }
      for (let i = this.o.keepSnapshots; i < snaps.length; i++) this.fs.unlink(inDir(this.snapDir, snaps[i]!.name));
      removed = snaps.length - this.o.keepSnapshots;
    });
    if (removed > 0) yield this.dirSyncStep(this.snapDir);
  }

  // ---- reading (open) ----------------------------------------------------------------------------

  /** Newest readable snapshot file; leftover temp files from a crash are removed. */
  /**
   * List the snapshot files (and drop temp files a crash left). None is trusted yet: replay takes
   * the one the WAL names last. A file the WAL never named is a snapshot whose install or
   * compaction did not finish: the log the WAL holds is the truth, and the file is ignored (as
   * etcd loads the newest snapshot among those its WAL records).
   */
  private loadSnapshot(): void {
    const names = this.fs.readdir(this.snapDir);
    for (const f of names) if (f.endsWith(SNAPSHOT_TEMP_SUFFIX)) this.fs.unlink(join(this.snapDir, f));
    this.snapshotFiles = names.flatMap((f) => {
      const id = parseSnapshotFileName(f);
      return id === null ? [] : [{ ...id, name: f }];
    });
  }

  /**
   * A log that does not continue from the snapshot the WAL names (entries start after a gap) was
   * written by an older version, which trusted the newest snapshot file without a WAL record and
   * appended after it: that file is the log's start. Take the newest readable one that closes the
   * gap (the older rule, only where the log needs it).
   */
  private bridgeWithUnnamedSnapshot(): void {
    const named = this.snapshotMeta?.index ?? 0;
    // The first gap in the log after the named snapshot (the entry after it).
    let expected = named + 1;
    let after: number | undefined;
    for (const e of this.entries) {
      if (e.index > expected) {
        after = e.index;
        break;
      }
      expected = e.index + 1;
    }
    if (after === undefined) return;
    const resume = after;
    const candidates = this.snapshotFiles.filter((f) => f.index >= resume - 1 && f.index > named).sort(compareSnapshotsNewestFirst);
    // (newest first: the one that covers the most of the gap)
    for (const f of candidates) {
      const r = this.readSnapshotAs(f);
      if (typeof r === 'string') continue;
      this.log(`storage: the log continues from snapshot ${f.name}, which the WAL does not name (written by an older version); restoring from it`);
      this.applySnapshotMeta(r.meta, r.data);
      return;
    }
  }

  /** The snapshot in file `f`, if it is readable and holds the snapshot its name says; else why not. */
  private readSnapshotAs(f: { readonly index: number; readonly term: number; readonly name: string }): Snapshot | string {
    const r = readSnapshotFile(this.fs, join(this.snapDir, f.name), this.mutant !== 'ignore-checksum');
    if (r.kind === 'unreadable') return `${f.name} is unreadable (${r.why})`;
    if (r.snapshot.meta.index !== f.index || r.snapshot.meta.term !== f.term) return `${f.name} holds snapshot ${r.snapshot.meta.term}-${r.snapshot.meta.index}`;
    return r.snapshot;
  }

  /**
   * Snapshot files beyond the one restored belong to saves that never finished: delete them, or
   * they would count among the newest files pruning keeps and push out the one the WAL names.
   * (A deletion lost in a power loss is made again at the next open.)
   */
  private removeUnnamedSnapshots(): void {
    const at = this.snapshotMeta?.index ?? 0;
    for (const f of this.snapshotFiles) {
      if (f.index <= at) continue;
      this.log(`storage: removing snapshot ${f.name}, which no finished save named`);
      this.fs.unlink(join(this.snapDir, f.name));
    }
    this.snapshotFiles = this.snapshotFiles.filter((f) => f.index <= at);
  }

  /** The data of the snapshot the WAL named last, from its file; refuses to start without it. */
  private readNamedSnapshot(meta: SnapshotMeta): void {
    const why: string[] = [];
    for (const f of this.snapshotFiles) {
      if (f.index !== meta.index || f.term !== meta.term) continue;
      const r = this.readSnapshotAs(f);
      if (typeof r === 'string') {
        why.push(r);
        continue;
      }
      this.snapshotData = r.data;
      return;
    }
    throw new QuorateError('CORRUPT', `the WAL refers to snapshot ${meta.index} but no readable snapshot file has it${why.length > 0 ? ` (${why.join('; ')})` : ''}; refusing to start`);
  }

  private replay(): void {
    this.segments = this.fs.readdir(this.walDir).map((f) => SEGMENT.exec(f)).filter((m) => m !== null).map((m) => Number(m[1])).sort((a, b) => a - b);
    const verify = this.mutant !== 'ignore-checksum';
    // Whether the log's writer seals its writes: a seal was read, or no record was (a new log).
    let sawSeal = false;
    let sawRecord = false;
    // The segment before the one being read, as read: its length and last record's CRC.
    let before: { readonly seg: number; readonly path: string; readonly bytes: number; readonly endCrc: number | null } | null = null;
    // A segment whose chain names a predecessor that is not on disk (the oldest kept, or one after
    // a gap): allowed only if a later segment starts a compaction. Only a compaction deletes
    // segments, and only once its own segment is durable, so a healthy log has one after them.
    let missing: { readonly path: string; readonly previous: number } | null = null;
    this.segments.forEach((seg, i) => {
      const path = this.segmentPath(seg);
      const last = i === this.segments.length - 1;
      const { bytes, unreadable } = readLocatingBadSectors(this.fs, path);
      let offset = 0;
      let sealedHere = true;
      let endCrc: number | null = null;
      // Where the write being read began: after the last seal read in this segment.
      let writeStart = 0;
      for (;;) {
        const r = readChecked(bytes, offset, unreadable, verify);
        if (r.kind === 'end') break;
        if (r.kind === 'bad') {
          const notTorn = this.whyNotTorn(r, last, sawSeal || !sawRecord, bytes, offset, writeStart, unreadable);
          if (notTorn !== null) throw new StorageCorruptError(path, offset, r.why, notTorn);
          this.fs.truncate(path, offset);
          const note = `wal: truncated torn tail at ${path} offset ${offset} (${bytes.length - offset} bytes: ${r.why})`;
          this.statsData.repairs.push(note);
          this.log(note);
          break;
        }
        if (r.type === RecordType.Chain && this.mutant === 'unchained-segments') {
          // The mutant reads chain records and checks nothing against them.
        } else if (r.type === RecordType.Chain) {
          const chain = readChainRecord(r.payload, path, offset);
          if (chain.compaction) missing = null;
          if (before !== null && chain.previous === before.seg) {
            checkChain(chain, before.path, before.bytes, before.endCrc, path);
          } else if (before !== null && chain.previous < before.seg) {
            throw new StorageCorruptError(path, offset, `its chain record names segment ${chain.previous} as the one before it, but ${before.path} is`, 'It names a segment that is not its predecessor');
          } else if (!chain.compaction) {
            // Its predecessor is gone. The oldest segment kept included: were the chain to start
            // at any oldest segment, losing the first segments of a log would go unnoticed.
            missing ??= { path, previous: chain.previous };
          }
        } else {
          this.applyRecord(r.type, r.payload, path, offset);
        }
        endCrc = bytes.readUInt32LE(offset + 4);
        sealedHere = r.type === RecordType.Seal;
        if (sealedHere) writeStart = r.next;
        sawSeal ||= sealedHere;
        sawRecord = true;
        offset = r.next;
      }
      if (last) {
        this.tailSealed = sealedHere;
        this.replayedEndCrc = endCrc;
      }
      if (last && offset === 0 && before !== null) {
        this.emptySegmentChain = chainRecordPayload(before.seg, before.bytes, before.endCrc, false);
      }
      before = { seg, path, bytes: offset, endCrc };
    });
    // (Assigned inside the callback above, which the compiler does not follow.)
    const gap = missing as { readonly path: string; readonly previous: number } | null;
    if (gap !== null) {
      throw new StorageCorruptError(gap.path, 0, `its chain record names segment ${gap.previous} as the one before it, which is missing`, 'No later segment restates the log (a compaction)');
    }
    // A snapshot recorded in the WAL must exist as a file, or the log before it is gone for good.
    this.bridgeWithUnnamedSnapshot();
    if (this.snapshotMeta !== null) this.readNamedSnapshot(this.snapshotMeta);
    this.removeUnnamedSnapshots();
  }

  /**
   * Why a bad record cannot be a torn write (null: it can, and is cut off). A write is torn only
   * by a crash before its datasync, so only in the last segment, and it leaves a prefix of what
   * was written (perhaps with garbage or zeros in its last sectors), never an unreadable sector
   * and never a record after it. Every write ends with a seal: damage before a seal hit a write
   * that completed, which may have been acknowledged, and cutting it off would lose it. (Damage
   * to a last write's seal alone is cut off as torn: its records were read whole, so nothing goes.)
   *
   * Valid records after it (two faults: the seal is damaged too) are looked for, in a log whose
   * writer seals (`sealing`), only after where the bad record claims to end: inside it, a torn
   * write's surviving part holds what was written there, and a value written there may carry the
   * bytes of a valid record. A log written before seals has only that search to tell damage in
   * the middle of its last segment, a length field included, so it searches right after. In a
   * log that seals, valid records after it and no seal are also what a power loss leaves when the
   * disk persisted the last write's sectors out of order and lost its seal's with others: zeros
   * in every stretch that does not read, the seal's included, tell that (unwrittenSectorsExplain).
   */
  private whyNotTorn(r: BadRecord, last: boolean, sealing: boolean, bytes: Buffer, offset: number, writeStart: number, unreadable: readonly UnreadableRange[]): string | null {
    if (!last) return 'It is not in the last segment';
    if (this.mutant === 'unsealed-writes') return validRecordAfter(bytes, offset) ? 'Valid records follow it' : null;
    // Not on the bad record, nor after it: a bad record whose seal lies on an unreadable sector (two
    // faults in one write) would otherwise read as torn, and a completed write was cut off.
    if (r.unreadable || unreadableIn(unreadable, offset, bytes.length) !== undefined) return 'A torn write leaves no unreadable sector';
    const seal = nextSeal(bytes, offset);
    if (seal !== null) {
      if (offset < seal.writeStart) return 'The write holding it was completed (a later write was sealed after it)';
      if (seal.end !== bytes.length) return 'The write holding it was completed (a later write follows it)';
      // The last write: a disk may persist its sectors in any order until its datasync returns,
      // the seal's sector among them. Sectors that read as zeros where the write put other bytes
      // were never written (torn); any other difference is damage to what was written. Not a
      // piece in the sector the seal starts in (the seal read whole from it: it was written), nor
      // one a flipped bit zeroes (see mismatchedPieces): damage, as far as anything can tell.
      const pieces = mismatchedPieces(bytes, seal);
      const sealSector = Math.floor(seal.offset / SEAL_SECTOR_BYTES);
      const oneBit = (p: { oneBit: boolean }): boolean => p.oneBit && this.mutant !== 'one-bit-zero-is-torn';
      const damaged = pieces.find((p) => !p.zero || oneBit(p) || Math.floor((p.to - 1) / SEAL_SECTOR_BYTES) === sealSector);
      if (damaged !== undefined) return `The write holding it was completed (the bytes at ${damaged.from} differ from what its seal says was written, and are not an unwritten sector${damaged.zero ? ': they read as zeros, but ' + (oneBit(damaged) ? 'one flipped bit makes them so' : 'the seal was read whole from their sector') : ''})`;
      if (pieces.length === 0) return 'The write holding it was completed (every sector matches its seal)';
      return null;
    }
    const from = sealing ? Math.max(offset, claimedRecordEnd(bytes, offset) - 1) : offset;
    // Valid records after it and no seal: two faults (it and its seal), or one power loss that
    // left sectors of the last write unwritten, its seal's among them (zeros, where the write
    // began after the last seal read). Only the second is torn; zeros where the seal was tell it.
    const unwritten = sealing && this.mutant !== 'holes-are-damage' && unwrittenSectorsExplain(bytes, offset, writeStart);
    if (validRecordAfter(bytes, from) && !unwritten) return 'Valid records follow it';
    return null;
  }

  private applyRecord(type: number, payload: Buffer, path: string, offset: number): void {
    if (type === RecordType.Seal) {
      // Its payload is its offset, not msgpack; one elsewhere was copied there, not written there.
      if (sealAt(type, payload, offset) === null) throw new StorageCorruptError(path, offset, 'a seal naming another offset', 'Its checksum matched');
      return;
    }
    let value: unknown;
    try {
      // Decoded from a plain Uint8Array view, so entries' data read back as Uint8Array views of
      // the segment's bytes (decoding a Buffer would give Buffers): no copy per entry.
      value = unpack(new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength));
    } catch (err) {
      throw new StorageCorruptError(path, offset, `undecodable record (${(err as Error).message})`, 'Its checksum matched');
    }
    switch (type) {
      case RecordType.Entries: {
        const entries = value as LogEntry[];
        assertEntries(entries, path, offset);
        this.applyEntries(entries[0]?.index ?? null, entries);
        return;
      }
      case RecordType.EntriesAt: {
        const r = value as { truncateFrom: Index | null; entries: LogEntry[] };
        assertEntries(r.entries, path, offset);
        this.applyEntries(r.truncateFrom, r.entries);
        return;
      }
      case RecordType.HardState:
        this.hardState = value as H;
        return;
      case RecordType.Snapshot: {
        const meta = value as SnapshotMeta;
        assert(Number.isInteger(meta.index) && Number.isInteger(meta.term), () => `snapshot record in ${path} at ${offset} has a meta`);
        this.applySnapshotMeta(meta, null);
        return;
      }
      case RecordType.Install: {
        const r = value as { meta: SnapshotMeta; truncateFrom: Index | null; entries: LogEntry[] };
        assert(Number.isInteger(r.meta?.index) && Number.isInteger(r.meta?.term), () => `install record in ${path} at ${offset} has a meta`);
        assertEntries(r.entries, path, offset);
        this.applySnapshotMeta(r.meta, null);
        this.applyEntries(r.truncateFrom, r.entries);
        return;
      }
      default:
        throw new StorageCorruptError(path, offset, `unknown record type ${type}`, 'Its checksum matched');
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
    // Entries are kept by reference: their fields and data are read-only (LogEntry), so the
    // mirror needs no copy of what the core, or replay, already holds.
    const snapshotIndex = this.snapshotMeta?.index ?? 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.index > snapshotIndex) putAt(this.entries, e);
    }
  }

  /**
   * The records of the batch about to be written (the first `size` bytes staged) into the write
   * assembly, as all it holds.
   */
  private takeStaged(size: number): void {
    if (this.staged.length === size) {
      // Every save staged: their buffer becomes the write's; the write's, whose job has ended,
      // stages the saves made from now on.
      const write = this.staged;
      this.staged = this.assembly;
      this.assembly = write;
      this.staged.start();
      return;
    }
    // Saves are left for a later batch (past maxBatchBytes, or behind a task): the batch's
    // records are copied out and the rest moved to the front.
    assert(this.staged.length > size, () => `a batch of ${size} bytes of ${this.staged.length} staged`);
    this.assembly.start();
    this.staged.room(0).copy(this.assembly.room(size), 0, 0, size);
    this.assembly.length = size;
    this.staged.dropFront(size);
  }

  private segmentPath(seg: number): string {
    return inDir(this.walDir, `${String(seg).padStart(16, '0')}.wal`);
  }
}

/**
 * The path of file `name` in directory `dir`, a path join() made (so normal, never ending in a
 * separator): what join(dir, name) gives for a plain file name, without normalising it again (a
 * segment's or snapshot's path is made on every rotation, compaction and prune).
 */
function inDir(dir: string, name: string): string {
  return `${dir}${sep}${name}`;
}

/** About how many bytes a hard state takes encoded (a size hint: a protocol's may take more). */
const HARD_STATE_BYTES_ESTIMATE = 64;

/** The largest write buffer kept from one job to the next (a larger write gets a buffer of its own). */
export const MAX_KEPT_WRITE_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * The buffer a WAL write is assembled in (records, then their seal), kept from one job to the
 * next: jobs run one at a time and a write's buffer is the file system's until its callback, so
 * the next job never finds it in use. A buffer per write was most of the storage's large
 * allocations (each costs a share of a full garbage collection). The storage has two: the
 * running job's write, and the records of the saves queued (see DurableStorage's `staged`),
 * which save() encodes straight into it (as a RecordSink): no buffer per record, and for a
 * batch that takes every save queued, no copy (the two change places).
 */
export class WriteAssembly implements RecordSink {
  /** The buffer kept from one write to the next (at most MAX_KEPT_WRITE_BUFFER_BYTES). */
  private kept: Buffer | null = null;
  /** The buffer of the write being assembled: the kept one, or a larger one of its own. */
  private buf: Buffer | null = null;
  /** `kept` and `buf` as plain Uint8Arrays (what packInto encodes into), made with them. */
  private keptBytes: Uint8Array | null = null;
  private bytes: Uint8Array | null = null;
  /** Bytes of records added since start(). */
  length = 0;

  /**
   * Begin a write (what the previous one held is no longer needed: its job is done); also called
   * when a job ends, so a buffer of its own, larger than the kept one, is not held until the next.
   */
  start(): void {
    this.buf = this.kept;
    this.bytes = this.keptBytes;
    this.length = 0;
  }

  add(type: RecordType, payload: Uint8Array): void {
    const at = this.length;
    const bytes = walRecordBytes(payload);
    putWalRecord(this.room(at + bytes), at, type, payload);
    this.length = at + bytes;
  }

  /**
   * A record of `value`, encoded straight into place (no copy of its encoding, no view of it):
   * tried in the room the buffer has (at least `sizeHint` bytes for the value), and again in a
   * buffer twice as large while it does not fit.
   */
  addValue(type: RecordType, value: unknown, sizeHint: number): void {
    const at = this.length;
    const payloadAt = at + RECORD_HEADER_BYTES + 1;
    let bytes = payloadAt + sizeHint;
    for (;;) {
      const buf = this.room(bytes);
      const end = packInto(value, this.bytes!, payloadAt);
      if (end >= 0) {
        putWalRecordHead(buf, at, type, end - payloadAt);
        this.length = end;
        return;
      }
      bytes = 2 * buf.length;
    }
  }

  /** Drop the first `bytes` bytes added (copied into a write), moving the rest to the front. */
  dropFront(bytes: number): void {
    assert(this.buf !== null && bytes <= this.length, () => `dropping ${bytes} of ${this.length} bytes`);
    this.buf.copyWithin(0, bytes, this.length);
    this.length -= bytes;
  }

  /**
   * The write's buffer, with room for `bytes` bytes (not cleared) and the records added so far.
   * It grows by doubling, past MAX_KEPT_WRITE_BUFFER_BYTES too: a save encoded in place asks for
   * room once per record, and growing to the exact size there copied everything added so far for
   * every record (quadratic: a 64 MiB save in 64 KiB records copied about 32 GiB), then once more
   * for the seal's room.
   */
  room(bytes: number): Buffer {
    const buf = this.buf;
    if (buf !== null && buf.length >= bytes) return buf;
    const doubled = Math.max(bytes, 2 * (buf?.length ?? 0));
    const next = bytes > MAX_KEPT_WRITE_BUFFER_BYTES
      ? Buffer.allocUnsafe(doubled)
      : Buffer.allocUnsafeSlow(Math.min(MAX_KEPT_WRITE_BUFFER_BYTES, doubled));
    if (buf !== null && this.length > 0) buf.copy(next, 0, 0, this.length);
    const nextBytes = new Uint8Array(next.buffer, next.byteOffset, next.length);
    if (next.length <= MAX_KEPT_WRITE_BUFFER_BYTES) {
      this.kept = next;
      this.keptBytes = nextBytes;
    }
    this.buf = next;
    this.bytes = nextBytes;
    return next;
  }
}

type BadRecord = Extract<ReadResult, { kind: 'bad' }> & { readonly unreadable: boolean };

/** A record as read, with one that spans an unreadable sector counted as bad (and blamed on it). */
function readChecked(bytes: Buffer, offset: number, unreadable: readonly UnreadableRange[], verify: boolean): Exclude<ReadResult, { kind: 'bad' }> | BadRecord {
  const r = readRecord(bytes, offset, verify);
  if (r.kind === 'end') return r;
  const end = r.kind === 'record' ? r.next : claimedRecordEnd(bytes, offset);
  const bad = unreadableIn(unreadable, offset, Math.max(end, offset + 1));
  if (bad !== undefined) return { kind: 'bad', why: `unreadable sector at byte ${bad.from} (EIO)`, unreadable: true };
  return r.kind === 'bad' ? { ...r, unreadable: false } : r;
}

/** A chain record's payload (see RecordType.Chain). */
interface ChainRecord {
  readonly previous: number;
  readonly bytes: number;
  readonly lastCrc: number | null;
  readonly compaction: boolean;
}

function encodeChainRecord(chain: ChainRecord): Buffer {
  return encodeWalRecord(RecordType.Chain, packTransient(chain));
}

function chainRecordPayload(previous: number, bytes: number, lastCrc: number | null, compaction: boolean): ChainRecord {
  assert(Number.isSafeInteger(previous) && previous >= 1 && Number.isSafeInteger(bytes) && bytes >= 0, () => `a chain record naming segment ${previous} of ${bytes} bytes`);
  assert((bytes === 0) === (lastCrc === null), () => `a chain record of ${bytes} bytes with last CRC ${lastCrc}`);
  return { previous, bytes, lastCrc, compaction };
}

/** A chain record read from `path` at `offset`: only as a segment's first record, and well formed. */
function readChainRecord(payload: Buffer, path: string, offset: number): ChainRecord {
  if (offset !== 0) throw new StorageCorruptError(path, offset, 'a chain record that is not the first record of its segment', 'Its checksum matched');
  let value: unknown;
  try {
    value = unpack(new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength));
  } catch (err) {
    throw new StorageCorruptError(path, offset, `undecodable chain record (${(err as Error).message})`, 'Its checksum matched');
  }
  const c = value as Partial<ChainRecord> | null;
  const ok = c !== null && typeof c === 'object' && Number.isSafeInteger(c.previous) && Number.isSafeInteger(c.bytes) && (c.lastCrc === null || Number.isInteger(c.lastCrc)) && typeof c.compaction === 'boolean';
  if (!ok) throw new StorageCorruptError(path, offset, 'a malformed chain record', 'Its checksum matched');
  return c as ChainRecord;
}

/**
 * The segment before `nextPath` (`path`, read to `bytes` bytes ending in a record of CRC
 * `endCrc`) is the one `nextPath`'s chain record names, whole: else it lost its tail (cut at a
 * record boundary, where what is left reads whole) or is another file, and is refused.
 */
function checkChain(chain: ChainRecord, path: string, bytes: number, endCrc: number | null, nextPath: string): void {
  if (chain.bytes === bytes && chain.lastCrc === endCrc) return;
  const crc = (c: number | null): string => (c === null ? 'none (empty)' : `0x${c.toString(16).padStart(8, '0')}`);
  throw new StorageCorruptError(
    path,
    Math.min(bytes, chain.bytes),
    `it holds ${bytes} bytes ending in a record of CRC ${crc(endCrc)}, but the next segment ${nextPath} starts with a chain record saying it held ${chain.bytes} bytes ending in a record of CRC ${crc(chain.lastCrc)} (its tail was cut, or it is another file)`,
    'It is not in the last segment',
  );
}

/** Entries right after they are read: what the writer wrote (a CRC match says the bytes are). */
function assertEntries(entries: readonly LogEntry[], path: string, offset: number): void {
  assert(Array.isArray(entries), () => `entries record in ${path} at ${offset} holds entries`);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    assert(Number.isInteger(e.index) && e.index >= 1 && e.data instanceof Uint8Array, () => `entry ${i} of the record in ${path} at ${offset}`);
    assert(i === 0 || e.index > entries[i - 1]!.index, () => `entries in index order in ${path} at ${offset}`);
  }
}

/** Directories among `paths` and their ancestors that do not exist yet, outermost first. */
function missingDirs(fs: FileSystem, paths: readonly string[]): string[] {
  const missing = new Set<string>();
  for (const p of paths) {
    for (let d = p; !fs.exists(d); d = dirname(d)) {
      missing.add(d);
      if (dirname(d) === d) break;
    }
  }
  return [...missing].sort();
}

function tryClose(fs: FileSystem, fd: Fd): void {
  try {
    fs.close(fd);
  } catch {
    // Releasing after a failure: the storage already reported the error that matters.
  }
}

function definedLimits(o: StorageOptions): Partial<Limits> {
  const out: Partial<Record<keyof Limits, number>> = {};
  for (const k of Object.keys(DEFAULT_STORAGE_OPTIONS) as (keyof Limits)[]) {
    const v = o[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/**
 * A simulated member's disk: the storage the node runtime ships (DurableStorage, the WAL and the
 * snapshot files) on a model file system of its own. A process crash keeps what the kernel was
 * given; a power loss keeps only what was fsynced (and with disk faults, per seed, a torn or
 * reordered part of the rest, and directory entries that were never fsynced revert); a disk
 * fault flips a bit or ruins a sector of a file the member wrote, which the WAL's checksums and
 * seals must catch when it opens, or cuts an older segment short at a record boundary, which
 * only the chain record of the segment after it tells.
 */
import type { Random } from '../core/prng.js';
import { QuorateError } from '../core/errors.js';
import type { RestoredState } from '../core/replica.js';
import type { StoragePort } from '../driver/ports.js';
import { DurableStorage } from '../storage/durable-storage.js';
import { isStorageMutant } from '../storage/mutants.js';
import { readLocatingBadSectors } from '../storage/read-sectors.js';
import { recordBoundaries } from '../storage/record.js';
import { SECTOR_BYTES } from '../storage/fs.js';
import { AcknowledgedState } from './acknowledged.js';
import { SafetyViolation } from './invariants.js';
import { ModelFileSystem } from './model-fs.js';
import type { SimDisk } from './sim-node.js';
import type { TurnOwner, World } from './world.js';

/** Where a member keeps its storage on its model file system. */
const DATA_DIR = '/member/data';
/**
 * Small segments and snapshot chunks, so that the simulator runs segment rotation, compaction
 * and chunked snapshots all the time (the defaults are megabytes: a run would never reach them).
 */
export const SIM_SEGMENT_BYTES = 64 * 1024;
export const SIM_SNAPSHOT_CHUNK_BYTES = 8 * 1024;
/** Share of power losses right after a write that lose everything unsynced (the rest: as the seed decides). */
const IMMEDIATE_LOSS_SHARE = 0.8;
/**
 * Share of corruptions aimed at the end of the segment being appended to (its last
 * RECENT_WRITE_BYTES): the last write, where damage looks most like a torn write and where a
 * storage that confuses the two loses what it acknowledged last.
 */
const RECENT_WRITE_SHARE = 0.5;
const RECENT_WRITE_BYTES = 1024;
/** fsync latencies a member's disk draws from when disk faults are on (a slow disk among fast ones). */
const SLOW_DISK_SYNC_MS = [1, 2, 5, 25] as const;
/**
 * Share of disk damages, when the member has an older WAL segment, that cut one short at a record
 * boundary (a lost tail: every record left reads whole). Drawn from a stream of its own
 * (MemberDiskOptions.cutRandom), so a run in which no cut is drawn damages what it did before.
 */
const OLDER_SEGMENT_CUT_SHARE = 0.25;

/**
 * Chance, per WAL write of at least LARGE_WRITE_SECTORS sectors (a compaction restating the log's
 * tail, a batch of large values), with disk faults on, that power is lost before its datasync and
 * the disk kept the write's sectors but for a few (the model's sector-holes fate): the out-of-order
 * persistence a storage must tell from damage, which the small writes most power losses meet
 * cannot show. Drawn from a stream of the member's own (MemberDiskOptions.largeWriteRandom).
 */
const POWER_LOSS_IN_LARGE_WRITE_PROBABILITY = 0.05;
const LARGE_WRITE_SECTORS = 3;
/** A save that failed on an I/O error may have reached the disk in part; one refused (a limit, a closed storage) wrote nothing. */
function isIoError(err: Error): boolean {
  return err instanceof QuorateError && err.code === 'UNAVAILABLE';
}

export interface MemberDiskOptions {
  /** The member's name, for what a check reports. */
  readonly name: string;
  readonly syncLatencyMs: number;
  /** Disk faults on: torn and reordered writes on power loss, slow disks, corruption on demand. */
  readonly diskFaults: boolean;
  /** A storage mutant (test-only), if the run's mutant is one. */
  readonly mutant: string | undefined;
  /** The stream that draws older-segment cuts (see OLDER_SEGMENT_CUT_SHARE). */
  readonly cutRandom: Random;
  /** The stream that draws power losses in large writes (see POWER_LOSS_IN_LARGE_WRITE_PROBABILITY). */
  readonly largeWriteRandom: Random;
  /** Cut the member's power at the end of its turn (a fault aimed from the disk); false: not now (its run's faults are over). */
  readonly losePower: () => boolean;
}

export class MemberDisk implements SimDisk {
  readonly fs: ModelFileSystem;
  /** The process whose turns the file system's callbacks are (set once the member exists). */
  owner: TurnOwner | null = null;
  /** A write or datasync error is armed or happened: the storage stopping the member is then expected. */
  ioErrorArmed = false;
  /** The error code armed (EIO, ENOSPC): a storage failure with another code is a bug, not the fault. */
  ioErrorCode = '';
  /** What the storage acknowledged: each restart must find it (see AcknowledgedState). */
  private readonly acknowledged = new AcknowledgedState();
  /**
   * Damage was done to the disk since the storage last opened (each open reads all it relies on):
   * a refusal to start is then the storage doing its job, and after crashes and power losses
   * alone it is a storage that lost what it acknowledged.
   */
  get damagedSinceOpen(): boolean {
    return this.damagesSinceOpen > 0;
  }

  /** Disk damages done (corrupt()) since the storage last opened. */
  private damagesSinceOpen = 0;
  /** Sectors of the next power loss's unsynced writes never written (see POWER_LOSS_IN_LARGE_WRITE_PROBABILITY). */
  private holesAtPowerLoss = false;

  constructor(private readonly world: World<never>, private readonly random: Random, private readonly o: MemberDiskOptions) {
    const syncLatencyMs = o.diskFaults ? random.pick(SLOW_DISK_SYNC_MS) : o.syncLatencyMs;
    this.fs = new ModelFileSystem({ after: (ms, fn) => void this.world.after(ms, fn, this.owner) }, random.fork(), { syncLatencyMs });
    if (o.diskFaults) this.fs.landed = (path, bytes) => this.aimAtLargeWrite(path, bytes);
  }

  private aimAtLargeWrite(path: string, bytes: number): void {
    if (!path.endsWith('.wal') || bytes < LARGE_WRITE_SECTORS * SECTOR_BYTES || this.holesAtPowerLoss) return;
    if (!this.o.largeWriteRandom.chance(POWER_LOSS_IN_LARGE_WRITE_PROBABILITY) || !this.o.losePower()) return;
    this.holesAtPowerLoss = true;
  }

  open(ready: (storage: StoragePort<unknown>) => void): void {
    const storage = DurableStorage.open<unknown>(this.fs, DATA_DIR, {
      segmentBytes: SIM_SEGMENT_BYTES,
      snapshotChunkBytes: SIM_SNAPSHOT_CHUNK_BYTES,
      nowMs: () => this.world.now,
      ...(isStorageMutant(this.o.mutant) ? { mutant: this.o.mutant } : {}),
    });
    // What open restored (and repaired) must be durable before anything rests on it.
    storage.sync((err) => {
      if (err !== null && this.ioErrorArmed) {
        // The injected error hit the repair at start: the supervisor power-cycles and starts again.
        this.ioErrorArmed = false;
        storage.close(() => {});
        this.powerLoss(false);
        return this.open(ready);
      }
      if (err !== null) throw err;
      this.judgeRestart(storage.restored());
      ready(this.witnessed(storage));
    });
  }

  /**
   * After crashes and power losses, and one damage at most (a flipped bit, an unreadable sector,
   * an older segment cut short), a storage restores all it acknowledged, or, for the damage,
   * refuses to start (it did not: it opened). After two, the check is left to the protocols: two
   * faults in one write may read as a torn write, a stated limit (src/storage/README.md).
   */
  private judgeRestart(restored: RestoredState<unknown>): void {
    const lost = this.damagesSinceOpen <= 1 ? this.acknowledged.lost(restored) : null;
    if (lost !== null) {
      const after = this.damagesSinceOpen === 0 ? 'crashes and power losses alone' : 'crashes, power losses and one damage to its disk';
      throw new SafetyViolation('durability', `${this.o.name} restarted after ${after} without what its storage acknowledged: ${lost}`);
    }
    this.acknowledged.rebase(restored);
    this.damagesSinceOpen = 0;
  }

  /** The storage, telling the oracle what it was asked to make durable and what it acknowledged. */
  private witnessed(storage: StoragePort<unknown>): StoragePort<unknown> {
    const acknowledged = this.acknowledged;
    return {
      restored: () => storage.restored(),
      close: (done) => storage.close(done),
      stats: () => storage.stats(),
      save: (p, done) => {
        const made = acknowledged.saveMade(p);
        storage.save(p, (err) => {
          // Refused (a limit): nothing of it was written. Failed (an I/O error): its fate is open.
          if (err === null) acknowledged.saveAcknowledged();
          else if (!isIoError(err)) acknowledged.refused(made);
          done(err);
        });
      },
      saveSnapshot: (snapshot, done) => {
        const made = acknowledged.snapshotMade(snapshot);
        storage.saveSnapshot(snapshot, (err) => {
          if (err === null) acknowledged.snapshotAcknowledged(made);
          else if (!isIoError(err)) acknowledged.refused(made);
          done(err);
        });
      },
    };
  }

  crash(): void {
    this.holesAtPowerLoss = false; // aimed at a power loss this crash overtook
    this.fs.crash();
  }

  powerLoss(immediate: boolean): string {
    // Right after a write (an aimed power loss), the drive has most likely not flushed it on its
    // own: it is lost. Otherwise, with disk faults, the seed decides what of the rest survives.
    if (this.holesAtPowerLoss) {
      this.holesAtPowerLoss = false;
      this.fs.powerLoss({ files: 'sector-holes', dirs: 'kept' });
      return this.fs.lastPowerLoss();
    }
    const fresh = immediate && this.random.chance(IMMEDIATE_LOSS_SHARE);
    this.fs.powerLoss(this.o.diskFaults && !fresh ? {} : { files: 'lost', dirs: 'lost' });
    return this.fs.lastPowerLoss();
  }

  /** The next write fails (EIO or ENOSPC) or the next datasync fails (EIO); returns which (null: one is armed already). */
  armIoError(): string | null {
    if (this.ioErrorArmed) return null; // one at a time: each is expected to stop the member once
    this.ioErrorArmed = true;
    const kind = this.random.pick(['write EIO', 'write ENOSPC', 'datasync EIO'] as const);
    this.ioErrorCode = kind.endsWith('ENOSPC') ? 'ENOSPC' : 'EIO';
    if (kind === 'datasync EIO') this.fs.failNextSync();
    else this.fs.failNextWrite(kind === 'write EIO' ? 'EIO' : 'ENOSPC');
    return kind;
  }

  /**
   * Damage what the member wrote: a flipped bit or an unreadable sector anywhere in its WAL
   * segments and snapshot files, the end of the segment being appended to included (every write
   * ends with a seal, so damage there is told from a torn write). Returns what it did, or null
   * when nothing is written yet.
   */
  corrupt(): string | null {
    const candidates = this.writtenFiles();
    if (candidates.length === 0) return null;
    const segments = candidates.filter((c) => c.path.endsWith('.wal'));
    if (segments.length > 1 && this.o.cutRandom.chance(OLDER_SEGMENT_CUT_SHARE)) {
      const cut = this.cutOlderSegment(segments.slice(0, -1));
      if (cut !== null) {
        this.damagesSinceOpen++;
        return cut;
      }
    }
    const recent = segments.length > 0 && this.random.chance(RECENT_WRITE_SHARE);
    const { path, bytes } = recent ? segments[segments.length - 1]! : this.random.pick(candidates);
    const offset = this.random.int(recent ? Math.max(0, bytes - RECENT_WRITE_BYTES) : 0, bytes - 1);
    this.damagesSinceOpen++;
    if (this.random.chance(0.5)) return `bit flipped in ${path} at ${this.fs.flipBit(path, offset)}`;
    return `sector unreadable in ${path} at ${this.fs.failSector(path, offset)}`;
  }

  /**
   * Cut one of `older` (WAL segments before the one being appended to) at a record boundary
   * before its end: what is left reads whole, record by record. Returns what it did (null: the
   * segment drawn holds no whole record to cut at).
   */
  private cutOlderSegment(older: readonly { path: string; bytes: number }[]): string | null {
    const { path, bytes } = this.o.cutRandom.pick(older);
    // Read as the storage reads it: a sector an earlier damage made unreadable reads as zeros
    // (and ends the records walked there).
    // Its end is no cut: at least one record goes.
    const boundaries = recordBoundaries(Buffer.from(readLocatingBadSectors(this.fs, path).bytes)).slice(0, -1);
    if (boundaries.length === 0) return null;
    const at = this.o.cutRandom.pick(boundaries);
    this.fs.truncate(path, at);
    this.fs.persistFile(path); // on the platter, as a flipped bit is: a power loss does not undo it
    return `older segment ${path} cut at ${at} of ${bytes} bytes (a record boundary)`;
  }

  /** The member's WAL segments and snapshot files, with their sizes. */
  private writtenFiles(): { path: string; bytes: number }[] {
    const out: { path: string; bytes: number }[] = [];
    for (const dir of [`${DATA_DIR}/wal`, `${DATA_DIR}/snap`]) {
      if (!this.fs.exists(dir)) continue;
      for (const f of this.fs.readdir(dir).sort()) {
        if (!f.endsWith('.wal') && !f.endsWith('.snap')) continue;
        const path = `${dir}/${f}`;
        const bytes = this.fs.size(path);
        if (bytes > 0) out.push({ path, bytes });
      }
    }
    return out;
  }
}

/**
 * TEMPORARY: the storage port over the record-level ModelDisk, until the real WAL runs on the
 * model file system. Saves become durable `syncLatencyMs` later; a process crash keeps what was
 * written (the kernel has it); a power loss keeps only what was synced (with `torn`: a prefix of
 * the rest, as a disk that flushed part of its cache).
 */
import type { Random } from '../core/prng.js';
import type { StoragePort } from '../driver/ports.js';
import { ModelDisk } from './disk.js';
import type { SimDisk } from './sim-node.js';
import type { TurnOwner, World } from './world.js';

export class ModelDiskAdapter implements SimDisk {
  private readonly disk = new ModelDisk<unknown>();
  owner: TurnOwner | null = null;

  constructor(private readonly world: World<never>, private readonly random: Random, private readonly syncLatencyMs: number, private readonly torn: boolean) {}

  open(): StoragePort<unknown> {
    const disk = this.disk;
    const stats = { segments: 1, fsyncs: 0, saves: 0, bytesWritten: 0, lastFsyncMs: 0, repairs: [] as string[] };
    return {
      restored: () => disk.restore(),
      save: (p, done) => {
        disk.write(p);
        stats.saves++;
        this.world.after(this.syncLatencyMs, () => {
          disk.sync();
          stats.fsyncs++;
          done(null);
        }, this.owner);
      },
      saveSnapshot: (s, done) => {
        disk.saveSnapshot(s);
        this.world.after(this.syncLatencyMs, () => done(null), this.owner);
      },
      close: (done) => done(null),
      stats: () => ({ ...stats, repairs: [] }),
    };
  }

  crash(): void {
    this.disk.sync(); // the kernel keeps what the process wrote
  }

  powerLoss(): string {
    const before = this.disk.lostRecords;
    this.disk.crash(this.random, this.torn);
    return `${this.disk.lostRecords - before} unsynced records lost`;
  }
}

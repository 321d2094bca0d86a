/**
 * The ports the one driver (driver.ts) works through. The node runtime plugs in real ones
 * (files through node:fs, TCP, timers); the simulator plugs in models (a model file system
 * under the same WAL code, a model network, virtual time). Every operation that waits for the
 * outside world completes through a callback, never a Promise: the simulator runs all of them
 * on its own clock, in an order its seed fixes.
 */
import type { Persist, RestoredState, Snapshot } from '../core/replica.js';

export type Done = (err: Error | null) => void;

/** What a storage port has done since it opened (metrics, tests). */
export interface StorageStats {
  segments: number;
  fsyncs: number;
  saves: number;
  bytesWritten: number;
  lastFsyncMs: number;
  repairs: string[];
}

/** Durable protocol state of one replica: the write-ahead log and the snapshot files. */
export interface StoragePort<H> {
  /** What was durable when the storage was opened. */
  restored(): RestoredState<H>;
  /**
   * Make `persist` durable. `done` runs once it is (one fsync may serve many saves: group
   * commit); saves complete in the order they were made. After an error every later save fails
   * too: the log's state is unknown and the replica must stop.
   */
  save(persist: Persist<H>, done: Done): void;
  /**
   * The state machine's own snapshot at `snapshot.meta.index`: written atomically (temp file,
   * fsync, rename, directory fsync), recorded in the log, and the log behind it dropped.
   */
  saveSnapshot(snapshot: Snapshot, done: Done): void;
  /** Finish every save already made, then release the files. */
  close(done: Done): void;
  stats(): StorageStats;
}

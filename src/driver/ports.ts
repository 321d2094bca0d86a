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

/** A timer set through the clock port. */
export interface TimerHandle {
  cancel(): void;
}

/**
 * Time and scheduling. Real: performance.now(), setTimeout, setImmediate. Simulated: the virtual
 * clock of the simulator's event loop (which also skews and pauses it per node).
 */
export interface ClockPort {
  /** Monotonic milliseconds. */
  now(): number;
  /** Run `fn` once after `ms` (a timeout, never a tick: ticks are the runtime's). */
  setTimer(ms: number, fn: () => void): TimerHandle;
  /**
   * Run `fn` once the current turn of the event loop is over: inputs that arrive in one turn (a
   * batch of socket reads) are handled as one Ready.
   */
  defer(fn: () => void): void;
}

/** Frames between members; `send` returns false when the peer cannot be reached now. */
export interface NetworkPort<F> {
  send(frame: F): boolean;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;
export const silentLogger: Logger = () => {};

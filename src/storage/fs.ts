/**
 * The file-system port under the write-ahead log and the snapshot files. In production it is
 * `node:fs` (node-fs.ts); in the simulator a model file system (src/sim/model-fs.ts) that keeps
 * written-but-unsynced data volatile, loses it on a power loss (keeping, per seed, a torn or
 * reordered part of it) and injects read faults. The storage code is the same in both worlds,
 * so what the simulator finds in it is in the code that ships.
 *
 * The port is split by cost. Operations that only touch the page cache or directory metadata
 * are synchronous (they are what a real kernel does in microseconds). The operations that wait
 * for the disk, `datasync` and `fsyncDir`, and bulk writes (`write`), complete through a
 * callback: off the event loop in production, at a later virtual time in the simulator.
 *
 * Durability rules, the same in both worlds:
 * - data written to a file is durable once a `datasync` of that file issued after the write
 *   has completed without error;
 * - a file's existence (created, renamed into place, unlinked) is durable once a `fsyncDir` of
 *   its directory issued after the change has completed;
 * - a process crash loses nothing the kernel already has (unsynced data survives it); a power
 *   loss keeps only what is durable, and may keep any part of the rest.
 */

/** An open file. */
export type Fd = number;

/**
 * The unit a disk writes atomically and fails reads in: a power loss tears a write at a sector
 * boundary (or leaves garbage up to one), and a latent sector error makes one unreadable.
 */
export const SECTOR_BYTES = 512;

export type FsErrorCode = 'ENOENT' | 'EEXIST' | 'EIO' | 'ENOSPC' | 'EBADF' | 'ENOTDIR' | 'EISDIR';

/** A file-system error with a POSIX-style code (what node:fs errors carry in `code`). */
export class FsError extends Error {
  override readonly name = 'FsError';
  constructor(readonly code: FsErrorCode, readonly path: string, what: string) {
    super(`${code}: ${what} '${path}'`);
  }
}

export type Done = (err: Error | null) => void;

export interface FileSystem {
  // ---- metadata and reads (synchronous) ----------------------------------------------------
  /** Create `path` and any missing parents. Durable once each parent directory is fsynced. */
  mkdir(path: string): void;
  /** Names in a directory (not paths), in no particular order. ENOENT if it does not exist. */
  readdir(path: string): string[];
  exists(path: string): boolean;
  /** A file's whole content as the kernel sees it now. EIO on an unreadable sector. */
  readFile(path: string): Uint8Array;
  /** A file's size in bytes as the kernel sees it now. */
  size(path: string): number;
  /**
   * Bytes [offset, offset + length) of a file as the kernel sees it now (fewer if the file ends
   * first). EIO if an unreadable sector lies in the range. Separate from readFile so a reader can
   * tell which sector is bad (and repair a torn tail rather than refuse a whole segment), and read
   * a file in pieces (a snapshot may exceed one buffer: node's readFile stops at 2 GiB).
   * The bytes are a new array the caller owns (no later change to the file shows in them).
   */
  readRange(path: string, offset: number, length: number): Uint8Array;
  /** Open for appending, creating the file if it is missing. */
  openAppend(path: string): Fd;
  /** Create (or truncate to empty) and open for writing. */
  openTruncate(path: string): Fd;
  close(fd: Fd): void;
  /** Atomically replace `to` with `from`. Durable once the directory is fsynced. */
  rename(from: string, to: string): void;
  unlink(path: string): void;
  /** Cut a file to `length` bytes (volatile until the file is datasynced). */
  truncate(path: string, length: number): void;

  // ---- data and durability (callback) ------------------------------------------------------
  /**
   * Append `data` to an open file (into the page cache: volatile until `datasync`). `data` is the
   * file system's until `done` runs (node's fs.write reads it from another thread): the caller
   * must not change it before then.
   */
  write(fd: Fd, data: Uint8Array, done: Done): void;
  /** Make everything written to the file so far durable. */
  datasync(fd: Fd, done: Done): void;
  /** Make the directory's entries (files created, renamed, removed in it) durable. */
  fsyncDir(path: string, done: Done): void;
}

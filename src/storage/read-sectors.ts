/**
 * Reading a whole file while locating unreadable sectors. A latent sector error (EIO) fails a
 * read; rather than lose the whole segment to one bad sector, the reader retries the failed block
 * sector by sector, so the replay can tell a bad sector in the last record (a repairable tail)
 * from one in the middle of the log (corruption), and name the byte where it is.
 */
import { assert } from '../core/assert.js';
import { FsError, SECTOR_BYTES, type FileSystem } from './fs.js';

/** Bytes read per call when nothing fails: large enough to be cheap, small enough to retry. */
export const READ_BLOCK_BYTES = 1024 * 1024;

export interface UnreadableRange {
  readonly from: number;
  readonly to: number;
}

export interface SectorRead {
  /** The file's bytes; unreadable sectors are zeros here. */
  readonly bytes: Buffer;
  /** Sector-aligned ranges that failed with EIO, in order. */
  readonly unreadable: readonly UnreadableRange[];
}

export function readLocatingBadSectors(fs: FileSystem, path: string): SectorRead {
  const size = fs.size(path);
  const unreadable: UnreadableRange[] = [];
  let bytes: Buffer | null = null;
  for (let offset = 0; offset < size; offset += READ_BLOCK_BYTES) {
    const length = Math.min(READ_BLOCK_BYTES, size - offset);
    const block = tryRead(fs, path, offset, length);
    // A file read whole in one block is used as read (readRange's bytes are the caller's): no copy.
    if (block !== null && length === size) return { bytes: Buffer.from(block.buffer, block.byteOffset, block.byteLength), unreadable };
    bytes ??= Buffer.alloc(size);
    if (block !== null) {
      bytes.set(block, offset);
      continue;
    }
    // A transient error may leave every sector readable on the retry: then nothing is marked.
    for (let s = offset; s < offset + length; s += SECTOR_BYTES) {
      const n = Math.min(SECTOR_BYTES, offset + length - s);
      const sector = tryRead(fs, path, s, n);
      if (sector !== null) bytes.set(sector, s);
      else unreadable.push({ from: s, to: s + n });
    }
  }
  return { bytes: bytes ?? Buffer.alloc(0), unreadable };
}

/** The first unreadable range overlapping [from, to), if any. */
export function unreadableIn(ranges: readonly UnreadableRange[], from: number, to: number): UnreadableRange | undefined {
  return ranges.find((r) => r.from < to && r.to > from);
}

function tryRead(fs: FileSystem, path: string, offset: number, length: number): Uint8Array | null {
  try {
    const got = fs.readRange(path, offset, length);
    assert(got.byteLength === length, () => `read ${got.byteLength} of ${length} bytes at ${offset} of ${path} inside its size`);
    return got;
  } catch (err) {
    if (err instanceof FsError && err.code === 'EIO') return null;
    throw err;
  }
}

/**
 * CRC-32 (the IEEE polynomial, zlib's), of a range of a byte array without a view of it.
 *
 * Why not zlib's crc32 alone: each call costs about 0.4 µs before the first byte (argument checks
 * and the native boundary), which dominates the short ranges the WAL checks most: a seal's
 * sector pieces and records of a few hundred bytes. Below SHORT_RANGE_BYTES a table-driven loop
 * (slicing by 8, about 1 ns a byte) is faster; above it zlib's native code is.
 */
import { crc32 as zlibCrc32 } from 'node:zlib';

/** Ranges shorter than this are checked here; longer ones by zlib (measured break-even: ~350 bytes). */
export const SHORT_RANGE_BYTES = 384;

/** TABLE[k * 256 + b]: the CRC of byte b followed by k zero bytes (slicing-by-8). */
const TABLE = makeTable();

function makeTable(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[b] = c;
  }
  for (let b = 0; b < 256; b++) {
    for (let k = 1; k < 8; k++) {
      const prev = t[(k - 1) * 256 + b]!;
      t[k * 256 + b] = (prev >>> 8) ^ t[prev & 0xff]!;
    }
  }
  return t;
}

/** The CRC-32 of bytes[from, to), as an unsigned 32-bit number (what zlib's crc32 returns). */
export function crc32Range(bytes: Uint8Array, from = 0, to = bytes.length): number {
  // A plain view: a Buffer's subarray goes through Buffer's own (slower) constructor.
  if (to - from >= SHORT_RANGE_BYTES) return zlibCrc32(new Uint8Array(bytes.buffer, bytes.byteOffset + from, to - from));
  const t = TABLE;
  let c = -1;
  let i = from;
  for (; i + 8 <= to; i += 8) {
    c ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    c = t[1792 + (c & 0xff)]! ^ t[1536 + ((c >>> 8) & 0xff)]! ^ t[1280 + ((c >>> 16) & 0xff)]! ^ t[1024 + (c >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^ t[512 + bytes[i + 5]!]! ^ t[256 + bytes[i + 6]!]! ^ t[bytes[i + 7]!]!;
  }
  for (; i < to; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

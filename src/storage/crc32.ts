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

// ---- combining CRCs ------------------------------------------------------------------------------
//
// CRC-32 is linear over GF(2): with Z(c, n) the CRC register c advanced over n zero bytes,
//   crc32(A ‖ B) = Z(crc32(A), |B|) ^ crc32(B)                  (zlib's crc32_combine)
// so the CRC of parts P1 ‖ ... ‖ Pn is the XOR of each crc32(Pi) advanced over the bytes after it,
// and changing bytes of a message changes its CRC by the register those bytes alone (fed from
// zero) leave, advanced over the bytes after them. That lets a writer CRC each byte once and
// derive the CRC of a range from the CRCs of its parts (see writeSeal in record.ts).

/** The longest shift combine() and shiftZeros() take: a seal's pieces are at most this long. */
export const MAX_SHIFT_BYTES = 512;
/** log2(MAX_SHIFT_BYTES): shifts over 1, 2, 4, ... MAX_SHIFT_BYTES zero bytes have a table each. */
const SHIFT_TABLES = 10;

/**
 * SHIFT[(k << 10) + (j << 8) + b]: the register holding byte b at byte j (and zeros elsewhere),
 * advanced over 2^k zero bytes. A shift is linear in the register, so a shift over n bytes is one
 * four-lookup step per set bit of n (40 KiB of tables; a multiplication modulo the polynomial,
 * zlib's way, was a loop of 32 steps per shift).
 */
const SHIFT = makeShiftTables();

function makeShiftTables(): Int32Array {
  const t = new Int32Array(SHIFT_TABLES << 10);
  const t0 = TABLE;
  // Over one zero byte: what the byte-at-a-time loop does with a zero byte.
  for (let j = 0; j < 4; j++) for (let b = 0; b < 256; b++) {
    const c = b << (8 * j);
    t[(j << 8) + b] = t0[c & 0xff]! ^ (c >>> 8);
  }
  // Over 2^k zero bytes: over 2^(k-1) (the entry of table k-1), then over 2^(k-1) again.
  for (let k = 1; k < SHIFT_TABLES; k++) {
    const o = (k - 1) << 10;
    for (let i = 0; i < 1024; i++) {
      const c = t[o + i]!;
      t[(k << 10) + i] = t[o + (c & 0xff)]! ^ t[o + 256 + ((c >>> 8) & 0xff)]! ^ t[o + 512 + ((c >>> 16) & 0xff)]! ^ t[o + 768 + (c >>> 24)]!;
    }
  }
  return t;
}

/** The register `c` advanced over `n` zero bytes (0 ≤ n ≤ MAX_SHIFT_BYTES). */
export function shiftZeros(c: number, n: number): number {
  if (!(Number.isInteger(n) && n >= 0 && n <= MAX_SHIFT_BYTES)) throw new RangeError(`shift over ${n} zero bytes (at most ${MAX_SHIFT_BYTES})`);
  const t = SHIFT;
  let r = c | 0;
  // One step per set bit of n, highest first (shifts commute: the order does not matter).
  while (n !== 0) {
    const k = 31 - Math.clz32(n);
    n ^= 1 << k;
    const o = k << 10;
    r = t[o + (r & 0xff)]! ^ t[o + 256 + ((r >>> 8) & 0xff)]! ^ t[o + 512 + ((r >>> 16) & 0xff)]! ^ t[o + 768 + (r >>> 24)]!;
  }
  return r >>> 0;
}

/** crc32(A ‖ B) from crc32(A), crc32(B) and |B| (at most MAX_SHIFT_BYTES). */
export function combine(crcA: number, crcB: number, bytesB: number): number {
  return (shiftZeros(crcA, bytesB) ^ crcB) >>> 0;
}

/**
 * The register bytes[from, to) leave when fed from zero (no pre- or post-inversion): how much
 * those bytes add to the CRC of any range holding them, before the bytes after them shift it.
 */
export function rawRegister(bytes: Uint8Array, from: number, to: number): number {
  const t = TABLE;
  let c = 0;
  for (let i = from; i < to; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

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
// and changing bytes of a message changes its CRC by the register those bytes alone (fed from
// zero) leave, advanced over the bytes after them. That lets a writer CRC each byte once and
// derive the CRC of a range from the CRCs of its parts (see record.ts: sealWrite).

/** The reflected CRC-32 polynomial. */
const POLY = 0xedb88320;

/** The longest shift combine() and shiftZeros() take: a seal's pieces are at most this long. */
export const MAX_SHIFT_BYTES = 512;

/** a · b modulo the polynomial, both in the reflected representation (zlib's multmodp). */
function multModP(a: number, b: number): number {
  if (a === 0) return 0;
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if ((a & m) !== 0) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = (b & 1) !== 0 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** X8N[n] = x^(8n) modulo the polynomial: advancing a register over n zero bytes multiplies it by this. */
const X8N = makeShiftFactors();

function makeShiftFactors(): Uint32Array {
  const t = new Uint32Array(MAX_SHIFT_BYTES + 1);
  t[0] = 0x80000000; // x^0
  for (let n = 1; n <= MAX_SHIFT_BYTES; n++) t[n] = multModP(t[n - 1]!, 0x00800000 /* x^8 */);
  return t;
}

/**
 * Z(c, MAX_SHIFT_BYTES) by bytes of c: ZFULL[k * 256 + b] is the shift of b << 8k. A seal's whole
 * pieces are all that long, so the common shift is four lookups rather than a multiplication.
 */
const ZFULL = makeFullShiftTable();

function makeFullShiftTable(): Uint32Array {
  const t = new Uint32Array(4 * 256);
  for (let k = 0; k < 4; k++) for (let b = 0; b < 256; b++) t[k * 256 + b] = multModP(X8N[MAX_SHIFT_BYTES]!, (b << (8 * k)) >>> 0);
  return t;
}

/** The register `c` advanced over `n` zero bytes (0 ≤ n ≤ MAX_SHIFT_BYTES). */
export function shiftZeros(c: number, n: number): number {
  if (n === MAX_SHIFT_BYTES) {
    const z = ZFULL;
    return (z[c & 0xff]! ^ z[256 + ((c >>> 8) & 0xff)]! ^ z[512 + ((c >>> 16) & 0xff)]! ^ z[768 + (c >>> 24)]!) >>> 0;
  }
  const factor = X8N[n];
  if (factor === undefined || !Number.isInteger(n)) throw new RangeError(`shift over ${n} zero bytes (at most ${MAX_SHIFT_BYTES})`);
  return multModP(factor, c >>> 0);
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

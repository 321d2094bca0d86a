import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { combine, crc32Range, MAX_SHIFT_BYTES, rawRegister, shiftZeros, SHORT_RANGE_BYTES } from '../../src/storage/crc32.js';
import { Prng } from '../../src/core/prng.js';

test('crc32Range matches zlib on every length around the switch to zlib, at every alignment', () => {
  const random = new Prng(7);
  const bytes = new Uint8Array(4 * SHORT_RANGE_BYTES + 64);
  for (let i = 0; i < bytes.length; i++) bytes[i] = random.int(0, 255);
  for (let from = 0; from < 9; from++) {
    for (let length = 0; length <= 2 * SHORT_RANGE_BYTES + 9; length++) {
      assert.equal(crc32Range(bytes, from, from + length), crc32(bytes.subarray(from, from + length)), `from ${from}, ${length} bytes`);
    }
  }
});

test('crc32Range of a whole array and of known strings', () => {
  assert.equal(crc32Range(new Uint8Array(0)), 0);
  // The check value of CRC-32/ISO-HDLC.
  assert.equal(crc32Range(new TextEncoder().encode('123456789')), 0xcbf43926);
  const zeros = new Uint8Array(1000);
  assert.equal(crc32Range(zeros), crc32(zeros));
});

test('combine gives the CRC of a concatenation from the CRCs of its parts, for every length of the second part', () => {
  const random = new Prng(11);
  const bytes = new Uint8Array(3 * MAX_SHIFT_BYTES);
  for (let i = 0; i < bytes.length; i++) bytes[i] = random.int(0, 255);
  for (let split = 0; split <= 9; split++) {
    for (let length = 0; length <= MAX_SHIFT_BYTES; length++) {
      const a = bytes.subarray(0, 100 + split);
      const b = bytes.subarray(100 + split, 100 + split + length);
      assert.equal(combine(crc32(a), crc32(b), length), crc32(bytes.subarray(0, 100 + split + length)), `a of ${a.length}, b of ${length} bytes`);
    }
  }
  assert.throws(() => shiftZeros(1, MAX_SHIFT_BYTES + 1), RangeError);
});

test('changing bytes changes the CRC by their raw register shifted over the bytes after them', () => {
  const random = new Prng(12);
  const bytes = new Uint8Array(MAX_SHIFT_BYTES + 16);
  for (let i = 0; i < bytes.length; i++) bytes[i] = random.int(0, 255);
  for (let at = 0; at + 4 <= bytes.length; at += 7) {
    for (const width of [1, 2, 3, 4]) {
      const zeroed = bytes.slice();
      zeroed.fill(0, at, at + width);
      const after = Math.min(MAX_SHIFT_BYTES, bytes.length - at - width);
      const whole = bytes.subarray(0, at + width + after);
      const delta = shiftZeros(rawRegister(bytes, at, at + width), after);
      assert.equal((crc32(zeroed.subarray(0, at + width + after)) ^ delta) >>> 0, crc32(whole), `${width} bytes at ${at}`);
    }
  }
});

test('shiftZeros is the byte-at-a-time loop over zero bytes, for registers past 2^31 (and given as int32) and every length', () => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  const random = new Prng(13);
  const registers = [0, 1, 0xff, 0x7fffffff, 0x80000000, 0xffffffff, -1, -0x80000000, random.int(0, 0xffffffff), random.int(0, 0xffffffff)];
  for (const register of registers) {
    let c = register >>> 0;
    for (let n = 0; n <= MAX_SHIFT_BYTES; n++) {
      assert.equal(shiftZeros(register, n), c >>> 0, `register ${register} over ${n} zero bytes`);
      c = table[c & 0xff]! ^ (c >>> 8);
    }
  }
  for (const n of [-1, 0.5, NaN, 2 ** 31, 2 ** 32]) assert.throws(() => shiftZeros(1, n), RangeError, `shift over ${n}`);
});

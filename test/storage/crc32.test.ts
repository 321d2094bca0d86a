import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { crc32Range, SHORT_RANGE_BYTES } from '../../src/storage/crc32.js';
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

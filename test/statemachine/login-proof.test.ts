/**
 * Login signatures are verified at apply on bytes a liar may choose, so every member must give
 * the same answer whatever its Node or OpenSSL version: keys and signatures outside the pinned
 * rule (ed25519-strict.ts) are refused before node:crypto sees them. Among them the identity key
 * with R = identity, S = 0, which node:crypto (OpenSSL 3.0) verifies for any message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { loginKeyOf, signLogin, verifyLogin } from '../../src/statemachine/mvcc/login-proof.js';
import { addPoints, decodePoint, encodePoint, isStrictPublicKey, isStrictSignature } from '../../src/statemachine/mvcc/ed25519-strict.js';

const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const le = (n: bigint): Uint8Array => {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
};
const withSign = (b: Uint8Array): Uint8Array => { const c = new Uint8Array(b); c[31]! |= 0x80; return c; };

/** The encodings of small-order points libsodium refuses (canonical and not), without the sign bit. */
const SMALL_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000', // order 4
  '0100000000000000000000000000000000000000000000000000000000000000', // the identity
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p - 1: order 2
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p: 0, not canonical
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p + 1: the identity, not canonical
].map(hex);
const IDENTITY = SMALL_ORDER[1]!;

test('the identity key with R = identity, S = 0 is refused for any message (node:crypto alone may accept it)', (t) => {
  const signature = new Uint8Array([...IDENTITY, ...new Uint8Array(32)]);
  const raw = (() => {
    try {
      return verify(null, Buffer.from('any message'), createPublicKey({ key: Buffer.concat([hex('302a300506032b6570032100'), IDENTITY]), format: 'der', type: 'spki' }), signature);
    } catch {
      return 'refused';
    }
  })();
  t.diagnostic(`node:crypto ${process.version} (OpenSSL ${process.versions.openssl}) alone answers ${String(raw)}`);
  for (const message of ['any message', 'another', '']) assert.equal(verifyLogin(IDENTITY, Buffer.from(message), signature), false, message);
});

test('small-order keys and R values are refused, under either sign bit', () => {
  for (const point of SMALL_ORDER) {
    for (const p of [point, withSign(point)]) {
      assert.equal(isStrictPublicKey(p), false, Buffer.from(p).toString('hex'));
      const signature = new Uint8Array([...p, ...new Uint8Array(32)]);
      assert.equal(isStrictSignature(signature), false);
      for (const key of SMALL_ORDER) assert.equal(verifyLogin(key, Buffer.from('m'), signature), false);
    }
  }
});

test('an honest key and signature pass; non-canonical and mixed-order variants of them do not', () => {
  const seed = randomBytes(32);
  const key = loginKeyOf(seed);
  const message = Buffer.from('quorate login');
  const signature = signLogin(seed, message);
  assert.equal(isStrictPublicKey(key), true);
  assert.equal(isStrictSignature(signature), true);
  assert.equal(verifyLogin(key, message, signature), true);
  assert.equal(verifyLogin(key, Buffer.from('another'), signature), false);
  const point = decodePoint(key)!;
  assert.deepEqual(encodePoint(point), key, 'decoding and encoding round-trip');
  // S + L: the same scalar, not canonical.
  let s = 0n;
  for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(signature[32 + i]!);
  const malleated = new Uint8Array([...signature.subarray(0, 32), ...le(s + L)]);
  assert.equal(isStrictSignature(malleated), false);
  assert.equal(verifyLogin(key, message, malleated), false);
  // The key plus a point of order 8: a key no honest signer has (its torsion part makes
  // cofactored and cofactorless verification disagree).
  const mixed = encodePoint(addPoints(point, decodePoint(SMALL_ORDER[2]!)!));
  assert.equal(isStrictPublicKey(mixed), false);
  assert.equal(verifyLogin(mixed, message, signature), false);
  // R with a torsion part too.
  const mixedR = encodePoint(addPoints(decodePoint(signature.subarray(0, 32))!, decodePoint(SMALL_ORDER[3]!)!));
  assert.equal(isStrictSignature(new Uint8Array([...mixedR, ...signature.subarray(32)])), false);
});

test('non-canonical encodings decode to nothing: y at or above p, x = 0 with its sign bit set', () => {
  assert.equal(decodePoint(SMALL_ORDER[5]!), null, 'y = p');
  assert.equal(decodePoint(SMALL_ORDER[6]!), null, 'y = p + 1');
  assert.equal(decodePoint(withSign(IDENTITY)), null, 'x = 0, "negative"');
  assert.notEqual(decodePoint(IDENTITY), null);
  assert.equal(decodePoint(hex('02' + '00'.repeat(31))), null, 'y = 2 is on no point of the curve');
  assert.equal(verifyLogin(new Uint8Array(31), Buffer.from('m'), new Uint8Array(64)), false, 'wrong lengths');
});

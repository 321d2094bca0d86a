/**
 * A pinned rule for which Ed25519 public keys and signatures a login may carry, checked before
 * node:crypto verifies (see login-proof.ts), so that every member answers alike whatever its
 * Node or OpenSSL version.
 *
 * Ed25519 implementations disagree on edge cases: non-canonical encodings (a coordinate at or
 * above p, a "negative" zero x, S at or above the group order L), and points with a small-order
 * component, where cofactored and cofactorless verification give different answers. Worse, some
 * accept a small-order public key: node:crypto (OpenSSL 3.0) verifies the signature R = identity,
 * S = 0 under the identity key (01 00..00) for any message. A login verified at apply must give
 * one answer on every member, so only the encodings an honest signer produces pass here: A and R
 * canonical encodings of points in the prime-order subgroup (neither the identity), S < L. On
 * these every conforming implementation agrees (the verification equation has no torsion part).
 *
 * Plain BigInt arithmetic in extended twisted Edwards coordinates (RFC 8032, section 5.1): slow
 * (a few milliseconds a check), but it runs only for an `auth-login` or `auth-login-use` at apply.
 */

const P = 2n ** 255n - 19n;
/** The order of the prime-order subgroup. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const D = mod(-121665n * inverse(121666n));
const D2 = mod(2n * D);
/** A square root of -1 mod p. */
const SQRT_M1 = power(2n, (P - 1n) / 4n);

/** A point (X : Y : Z : T), x = X/Z, y = Y/Z, xy = T/Z. */
export interface Point { readonly x: bigint; readonly y: bigint; readonly z: bigint; readonly t: bigint }

const IDENTITY: Point = { x: 0n, y: 1n, z: 1n, t: 0n };

function mod(a: bigint): bigint {
  const r = a % P;
  return r >= 0n ? r : r + P;
}

function power(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  for (let e = exponent; e > 0n; e >>= 1n) {
    if ((e & 1n) === 1n) result = (result * b) % P;
    b = (b * b) % P;
  }
  return result;
}

function inverse(a: bigint): bigint {
  return power(a, P - 2n);
}

/** Little-endian bytes to an integer. */
function integerOf(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.byteLength - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

/** RFC 8032 5.1.3, strictly: null for a y at or above p, no point on the curve, or x = 0 with its sign bit set. */
export function decodePoint(bytes: Uint8Array): Point | null {
  if (bytes.byteLength !== 32) return null;
  const n = integerOf(bytes);
  const sign = n >> 255n;
  const y = n & ((1n << 255n) - 1n);
  if (y >= P) return null;
  const y2 = (y * y) % P;
  const u = mod(y2 - 1n);
  const v = mod(D * y2 + 1n);
  const v3 = (v * v * v) % P;
  let x = (u * v3 % P) * power(u * v3 % P * v3 % P * v % P, (P - 5n) / 8n) % P;
  const vx2 = (v * x % P) * x % P;
  if (vx2 === mod(-u)) x = (x * SQRT_M1) % P;
  else if (vx2 !== u) return null;
  if (x === 0n && sign === 1n) return null;
  if ((x & 1n) !== sign) x = P - x;
  return { x, y, z: 1n, t: (x * y) % P };
}

export function encodePoint(p: Point): Uint8Array {
  const zi = inverse(p.z);
  const x = (p.x * zi) % P;
  let n = (p.y * zi) % P;
  if ((x & 1n) === 1n) n |= 1n << 255n;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}

/** RFC 8032's complete addition (it doubles too). */
export function addPoints(p: Point, q: Point): Point {
  const a = mod((p.y - p.x) * (q.y - q.x));
  const b = mod((p.y + p.x) * (q.y + q.x));
  const c = (p.t * D2 % P) * q.t % P;
  const d = (2n * p.z * q.z) % P;
  const e = mod(b - a);
  const f = mod(d - c);
  const g = (d + c) % P;
  const h = (b + a) % P;
  return { x: (e * f) % P, y: (g * h) % P, t: (e * h) % P, z: (f * g) % P };
}

function multiply(p: Point, scalar: bigint): Point {
  let result = IDENTITY;
  let addend = p;
  for (let k = scalar; k > 0n; k >>= 1n) {
    if ((k & 1n) === 1n) result = addPoints(result, addend);
    addend = addPoints(addend, addend);
  }
  return result;
}

function isIdentity(p: Point): boolean {
  return p.x % P === 0n && mod(p.y - p.z) === 0n;
}

/** A canonical encoding of a point of order exactly L (the prime-order subgroup, not the identity). */
function isStrictPoint(bytes: Uint8Array): boolean {
  const p = decodePoint(bytes);
  return p !== null && !isIdentity(p) && isIdentity(multiply(p, L));
}

/** A public key an honest signer can have: see the module's comment. */
export function isStrictPublicKey(key: Uint8Array): boolean {
  return key.byteLength === 32 && isStrictPoint(key);
}

/** A signature (R, S) an honest signer can produce: R as a public key, S below L. */
export function isStrictSignature(signature: Uint8Array): boolean {
  return signature.byteLength === 64 && integerOf(signature.subarray(32)) < L && isStrictPoint(signature.subarray(0, 32));
}

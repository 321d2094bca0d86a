/**
 * Login proofs: how a member shows every other member that a client authenticated as a user
 * through it, in a way no member can fake for a password it never saw.
 *
 * Under a Byzantine protocol the member that orders a command fills in its `user`, and a lying
 * one could claim `root`. Everything in the replicated state (password hashes, the token key) is
 * known to a liar, so no secret kept there can tell an honest member's claim from a lie; only the
 * password can. So a password also yields an Ed25519 key pair: its seed is drawn from the same
 * scrypt run as the password hash (the second 32 bytes of a 64-byte output, which the first 32
 * bytes, the stored hash, do not reveal), and only the public key (`loginKey`) is replicated.
 * The member that checks a password at Authenticate signs, with the private key, a statement
 * naming the user, its credential revision and itself; every member checks that signature at
 * apply and only then lets that member act as that user (see AuthStore.login). The statement
 * names the ordering member, so another member cannot replay it from the log; and the token key
 * in force (drawn anew at each auth enable), so that a login voided by `auth disable` cannot be
 * ordered again once auth is back on.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { isStrictPublicKey, isStrictSignature } from './ed25519-strict.js';

/** An Ed25519 seed, public key and signature, in bytes. */
export const LOGIN_SEED_BYTES = 32;
export const LOGIN_KEY_BYTES = 32;
export const LOGIN_SIGNATURE_BYTES = 64;

// DER wrappings of a raw Ed25519 seed (PKCS #8) and public key (SPKI): node:crypto reads keys
// only in such containers, and these prefixes are fixed for the algorithm (RFC 8410).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * What a login signs: the user, the credential revision it authenticated at, the member it did it
 * through, and (by its digest) the replicated token key of the auth it logged in to.
 */
export function loginStatement(user: string, credentialRevision: number, origin: string, tokenKey: Uint8Array): Uint8Array {
  return Buffer.from(JSON.stringify(['quorate-login', user, credentialRevision, origin, loginEpoch(tokenKey)]), 'utf8');
}

/** The digest of a token key a login names (and is kept with): it does not reveal the key. */
export function loginEpoch(tokenKey: Uint8Array): string {
  return createHash('sha256').update('quorate-login-epoch').update(tokenKey).digest('hex');
}

function privateKeyOf(seed: Uint8Array) {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** The public key of a seed (stored with the password hash). */
export function loginKeyOf(seed: Uint8Array): Uint8Array {
  const der = createPublicKey(privateKeyOf(seed)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(SPKI_PREFIX.byteLength));
}

export function signLogin(seed: Uint8Array, statement: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, statement, privateKeyOf(seed)));
}

/**
 * Total and deterministic (run at apply, on bytes a liar may have chosen): false for any bad input.
 * Keys and signatures outside the pinned rule of ed25519-strict.ts (small-order or mixed-order
 * points, non-canonical encodings) are refused before node:crypto sees them, so that the answer
 * does not depend on the Node or OpenSSL version a member runs.
 */
export function verifyLogin(loginKey: Uint8Array, statement: Uint8Array, signature: Uint8Array): boolean {
  if (loginKey.byteLength !== LOGIN_KEY_BYTES || signature.byteLength !== LOGIN_SIGNATURE_BYTES) return false;
  if (!isStrictPublicKey(loginKey) || !isStrictSignature(signature)) return false;
  try {
    const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, loginKey]), format: 'der', type: 'spki' });
    return verify(null, statement, key, signature);
  } catch {
    return false; // bytes that are no point on the curve
  }
}

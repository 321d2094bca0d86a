/**
 * Login proofs: how a member shows every other member that a client authenticated as a user, in a
 * way no member can fake for a password it never saw, and how a token issued by one member lets
 * another act as that user.
 *
 * Under a Byzantine protocol the member that orders a command fills in its `user`, and a lying
 * one could claim `root`. Everything in the replicated state (password hashes, the token key) is
 * known to a liar, so no secret kept there can tell an honest member's claim from a lie; only the
 * password can. So a password also yields an Ed25519 key pair: its seed is drawn from the same
 * scrypt run as the password hash (the second 32 bytes of a 64-byte output, which the first 32
 * bytes, the stored hash, do not reveal), and only the public key (`loginKey`) is replicated.
 *
 * A login opens a session. The password's seed, the user's credential revision and the token key
 * in force yield a session seed (sessionSeedOf: one-way, so the session seed reveals neither the
 * password's seed nor any other session's), whose public half is the session key. The member
 * that checks a password at Authenticate signs with the password's key a statement naming the
 * user, its credential revision, the session key and the token key in force (by its digest, so
 * that a login voided by `auth disable` cannot be ordered again once auth is back on), and every
 * member checks it at apply: from then on that session key is the user's (until its credentials
 * change or auth is disabled). The statement names no member.
 *
 * What lets a member act as the user is a binding: a statement naming the user, the session key
 * and the member, signed with the session seed (loginUseStatement). The session seed travels in
 * the client's token and never in the log, so a member can sign a binding only after a client
 * showed it a token (or logged in through it); a binding names its member, so no other member can
 * replay it from the log. The member that orders the login binds itself in the same entry; any
 * other member shown the token orders a binding of its own (`auth-login-use`) before it acts as
 * the user. Logins ordered before sessions existed (legacyLoginStatement, which names the
 * ordering member and binds it) are still applied alike, so that a member replaying an old log
 * agrees with one restored from a snapshot of it.
 */
import { createHash, createHmac, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { assert } from '../../core/assert.js';
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
 * What a login signs: the user, the credential revision it authenticated at, the session key it
 * opens, and (by its digest) the replicated token key of the auth it logged in to.
 */
export function loginStatement(user: string, credentialRevision: number, sessionKey: Uint8Array, tokenKey: Uint8Array, generation = 0): Uint8Array {
  return Buffer.from(JSON.stringify(['quorate-login-session', user, credentialRevision, Buffer.from(sessionKey).toString('hex'), loginEpoch(tokenKey), ...generationPart(generation)]), 'utf8');
}

/**
 * The cluster's generation (AuthStore.generation: how many times its state was restored from a
 * snapshot as a new cluster), named by sessions from the first restore on. A restored cluster keeps
 * its users' credential revisions, and its missing token key is filled by whichever member orders
 * one first, a liar possibly, with the old cluster's key: the generation keeps the old sessions'
 * seeds and logins from being good there again all the same.
 */
function generationPart(generation: number): number[] {
  assert(Number.isSafeInteger(generation) && generation >= 0, 'a generation is a natural number');
  return generation > 0 ? [generation] : [];
}

/** What a binding signs (with the session seed): the user, the session key and the member it lets act as the user. */
export function loginUseStatement(user: string, sessionKey: Uint8Array, member: string): Uint8Array {
  return Buffer.from(JSON.stringify(['quorate-login-use', user, Buffer.from(sessionKey).toString('hex'), member]), 'utf8');
}

/**
 * What a login signed before sessions existed: the user, the credential revision, the member it
 * went through (whom it binds) and the token key's digest. Still verified, never made any more.
 */
export function legacyLoginStatement(user: string, credentialRevision: number, origin: string, tokenKey: Uint8Array): Uint8Array {
  return Buffer.from(JSON.stringify(['quorate-login', user, credentialRevision, origin, loginEpoch(tokenKey)]), 'utf8');
}

/**
 * The seed of the session a password opens at a credential revision under a token key: an HMAC
 * keyed with the password's seed, so the same on every member that checks the password (one
 * session per user and credentials: repeated Authenticates anywhere order nothing new), and it
 * reveals nothing of the password's seed to whoever holds a token.
 */
export function sessionSeedOf(passwordSeed: Uint8Array, credentialRevision: number, tokenKey: Uint8Array, generation = 0): Uint8Array {
  const seed = createHmac('sha256', passwordSeed).update(JSON.stringify(['quorate-login-session-seed', credentialRevision, loginEpoch(tokenKey), ...generationPart(generation)])).digest();
  assert(seed.byteLength === LOGIN_SEED_BYTES, 'an Ed25519 seed of 32 bytes');
  return new Uint8Array(seed);
}

/** The digest of a token key a login names (and is kept with): it does not reveal the key. */
export function loginEpoch(tokenKey: Uint8Array): string {
  return createHash('sha256').update('quorate-login-epoch').update(tokenKey).digest('hex');
}

function privateKeyOf(seed: Uint8Array) {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** The public key of a seed (a password's: stored with the password hash; a session's: its session key). */
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

/**
 * The simulator's Authenticator: cheap, deterministic, and still unforgeable inside the
 * simulation. Every principal has a secret drawn from the run's seed; a MAC is a keyed 64-bit
 * hash under the pair's key, a "signature" a keyed hash under the signer's secret. Secrets live
 * in a runtime-private field of the keyring, and an adversary is handed Authenticators for its
 * own identities only: to make a message another replica would accept as coming from an honest
 * one it would have to guess a 64-bit value, and so its forgeries fail and are counted, as they
 * would against HMAC-SHA256 and Ed25519. (Verifying a signature needs no secret of the caller,
 * as with a public key: the keyring does it on the verifier's behalf.)
 */
import type { Authenticator, Principal } from '../core/authenticator.js';
import type { Random } from '../core/prng.js';

export class SimKeyring {
  readonly #secrets = new Map<Principal, number>();

  constructor(private readonly random: Random) {}

  #secret(p: Principal): number {
    let s = this.#secrets.get(p);
    if (s === undefined) {
      s = this.random.nextUint32() | 1;
      this.#secrets.set(p, s);
    }
    return s;
  }

  /** The Authenticator that holds `self`'s secrets (give it only to `self`). */
  authenticatorFor(self: Principal): Authenticator {
    const own = this.#secret(self);
    const pair = (a: Principal, b: Principal): number => Math.imul(this.#secret(a) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(this.#secret(b), 0xc2b2ae35);
    const verifySignature = (payload: string, signer: Principal, signature: string): boolean => signature === keyedHash(this.#secret(signer), payload);
    return {
      self,
      digest: (payload) => (typeof payload === 'string' ? keyedHash(0x2545f491, payload) : keyedHashBytes(0x2545f491, payload)),
      mac: (payload, to) => keyedHash(pair(self, to), payload),
      verifyMac: (payload, from, mac) => mac === keyedHash(pair(from, self), payload),
      sign: (payload) => keyedHash(own, payload),
      verifySignature,
    };
  }
}

/** Two independent 32-bit multiplicative hashes seeded by the key: 64 bits, hex. */
function keyedHash(key: number, s: string): string {
  let a = 0x811c9dc5 ^ key;
  let b = 0x01000193 ^ Math.imul(key, 0x5bd1e995);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a ^= a >>> 13;
  a = Math.imul(a, 0xc2b2ae35);
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

function keyedHashBytes(key: number, bytes: Uint8Array): string {
  let a = 0x811c9dc5 ^ key;
  let b = 0x01000193 ^ Math.imul(key, 0x5bd1e995);
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a ^= a >>> 13;
  a = Math.imul(a, 0xc2b2ae35);
  return `${bytes.length.toString(16)}:${(a >>> 0).toString(16).padStart(8, '0')}${(b >>> 0).toString(16).padStart(8, '0')}`;
}

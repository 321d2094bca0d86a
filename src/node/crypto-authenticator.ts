/**
 * The real Authenticator for BFT cores: HMAC-SHA256 under pairwise keys for MACs, Ed25519 for
 * signatures, SHA-256 for digests (node:crypto). Protocol cores never import this; the node
 * runtime injects it.
 */
import { createHash, createHmac, createPrivateKey, createPublicKey, hkdfSync, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import type { Authenticator, Principal } from '../core/authenticator.js';

export interface CryptoKeys {
  readonly self: Principal;
  /** The key this principal shares with each other principal (the same bytes on both sides). */
  readonly macKeys: ReadonlyMap<Principal, Uint8Array>;
  readonly privateKey: KeyObject;
  /** Every principal's Ed25519 public key. */
  readonly publicKeys: ReadonlyMap<Principal, KeyObject>;
}

export class CryptoAuthenticator implements Authenticator {
  readonly self: Principal;
  constructor(private readonly keys: CryptoKeys) {
    this.self = keys.self;
  }

  digest(payload: string | Uint8Array): string {
    return createHash('sha256').update(payload).digest('hex');
  }

  mac(payload: string, to: Principal): string {
    const key = this.keys.macKeys.get(to);
    if (key === undefined) return '';
    return createHmac('sha256', key).update(payload).digest('base64');
  }

  verifyMac(payload: string, from: Principal, mac: string): boolean {
    const key = this.keys.macKeys.get(from);
    if (key === undefined || typeof mac !== 'string') return false;
    const want = createHmac('sha256', key).update(payload).digest();
    const got = Buffer.from(mac, 'base64');
    return got.length === want.length && timingSafeEqual(got, want);
  }

  sign(payload: string): string {
    return sign(null, Buffer.from(payload), this.keys.privateKey).toString('base64');
  }

  verifySignature(payload: string, signer: Principal, signature: string): boolean {
    const key = this.keys.publicKeys.get(signer);
    if (key === undefined || typeof signature !== 'string') return false;
    try {
      return verify(null, Buffer.from(payload), key, Buffer.from(signature, 'base64'));
    } catch {
      return false;
    }
  }
}

const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * Keys derived from one shared secret: for tests, and for `serve --bft-insecure-keys-from-token`
 * trials only, since whoever holds the secret can derive every principal's keys and so act as
 * any of them. A deployment provisions each member's own keys (bft-keys.ts).
 */
export function deriveKeys(secret: string, self: Principal, principals: readonly Principal[]): CryptoKeys {
  const seedOf = (p: Principal): Buffer => Buffer.from(hkdfSync('sha256', secret, 'quorate-ed25519', p, 32));
  const privateOf = (p: Principal): KeyObject => createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seedOf(p)]), format: 'der', type: 'pkcs8' });
  const macKeys = new Map<Principal, Uint8Array>();
  const publicKeys = new Map<Principal, KeyObject>();
  for (const p of principals) {
    publicKeys.set(p, createPublicKey(privateOf(p)));
    if (p === self) continue;
    const [a, b] = self < p ? [self, p] : [p, self];
    macKeys.set(p, new Uint8Array(hkdfSync('sha256', secret, 'quorate-hmac', `${a}|${b}`, 32)));
  }
  return { self, macKeys, privateKey: privateOf(self), publicKeys };
}

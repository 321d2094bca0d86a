/**
 * Which member is at the other end of an inbound peer connection, and what happens to the links a
 * member already holds when one more comes in.
 *
 * A handshake names the member it comes `from`. A cluster secret (peer-secret.ts) proves only that
 * the dialer is *a* member: every member holds the secret, so any of them (or anyone who took it
 * from one) can name another. Where each member holds its own signing key (the BFT runtime's
 * Ed25519 keys, bft-keys.ts), the dialer also signs the listener's fresh nonce with the key of the
 * member it names, and the listener verifies it with that member's public key:
 *
 *   dialer  → listener   hello { clusterId, from, to, nonce: N_d, identity: PEER_IDENTITY_VERSION }
 *   listener → dialer    challenge { nonce: N_l, ... }
 *   dialer  → listener   answer { signature: Sign(key of `from`, peerIdentityPayload(...N_d, N_l)), ... }
 *
 * N_l is fresh per connection, so a signature recorded on one connection is worth nothing on
 * another; the role, the cluster and both member ids are inside the payload, so it cannot be
 * reflected or moved to another pair. A connection that cannot prove it is closed before a frame
 * is delivered, counted (`identityFailures`) and reported as a PeerLinkRefused.
 *
 * Over maxConnectionsPerPeer (transport.ts) the links of a member whose key was proven give way
 * oldest first (only that member can open them: the newest is the one it uses). Links whose `from`
 * nobody proved give way only if idle (no valid frame for liveConnectionMs): a newcomer that would
 * have to close a live one is refused instead (`liveConnectionsRefused`), so whoever can complete
 * a handshake cannot close a member's link in use by opening links in its name. A member that
 * restarts gets its new links in once its old ones went quiet (a dead process sends nothing) or
 * closed. What this does not stop: whoever can complete a handshake may hold all of a member's
 * maxConnectionsPerPeer places with links it keeps live (a frame within every liveConnectionMs),
 * taken while the member's own link is down; the member is then refused for as long as they talk
 * (each refusal counted; only member keys prevent it).
 */
import { createHash, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { QuorateError } from '../core/errors.js';
import type { NodeId } from '../core/ids.js';

/** Marks the bytes a dialer signs, so that no other signature of the member's key is one. */
export const PEER_IDENTITY_MAGIC = 'QRT1-PEER-IDENTITY';
/** The identity-proof scheme, announced in a hello; a listener that needs one refuses any other. */
export const PEER_IDENTITY_VERSION = 1;
/** Largest signature an answer may carry (Ed25519's are 64 bytes): a larger one is refused unread. */
export const MAX_PEER_SIGNATURE_BYTES = 512;

/**
 * How a transport proves its own member's key and checks another's. The BFT runtime builds one
 * from the member's key files (peerIdentityFromKeys); a transport without one proves nothing
 * beyond the cluster secret. A separate port, not a flag on the secret: a cluster may hold keys
 * without a secret, a secret without keys, or both.
 */
export interface PeerIdentity {
  /** This member's signature over `payload`. */
  sign(payload: Uint8Array): Uint8Array;
  /** Whether `signature` over `payload` is `member`'s; false for a member with no known key. */
  verify(member: NodeId, payload: Uint8Array, signature: Uint8Array): boolean;
}

/** A PeerIdentity over Ed25519 keys: this member's private key and every member's public key. */
export function peerIdentityFromKeys(privateKey: KeyObject, publicKeys: ReadonlyMap<string, KeyObject>): PeerIdentity {
  return {
    sign: (payload) => edSign(null, payload, privateKey),
    verify(member, payload, signature) {
      const key = publicKeys.get(member);
      if (key === undefined) return false;
      try {
        return edVerify(null, payload, key, signature);
      } catch {
        return false;
      }
    },
  };
}

/**
 * What the dialer signs on one connection: a SHA-256 over the magic, the cluster id, the dialer's
 * and the listener's ids and both nonces, each length-prefixed (no two tuples give the same bytes).
 */
export function peerIdentityPayload(clusterId: string, dialer: string, listener: string, dialerNonce: Uint8Array, listenerNonce: Uint8Array): Buffer {
  const h = createHash('sha256');
  for (const part of [PEER_IDENTITY_MAGIC, 'dialer', clusterId, dialer, listener, dialerNonce, listenerNonce]) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(bytes.length, 0);
    h.update(len).update(bytes);
  }
  return h.digest();
}

/** Why an inbound link was refused after its peer named itself. */
export type PeerLinkRefusal =
  /** It could not prove the key of the member it named (a wrong, missing or unreadable signature). */
  | 'identity-not-proven'
  /** Its member held maxConnectionsPerPeer links, each live: it would have had to close one in use. */
  | 'too-many-live-links';

/**
 * An inbound peer link refused (logged, counted, and handed to the transport's onLinkRefused). For
 * 'too-many-live-links' the dialer need do nothing: it re-dials with backoff and gets in once one
 * of the links held in its name goes quiet (liveConnectionMs) or closes. Repeated refusals of a member
 * whose process is up mean someone else holds links in its name: provision member keys.
 */
export class PeerLinkRefused extends QuorateError {
  override readonly name = 'PeerLinkRefused';
  constructor(readonly reason: PeerLinkRefusal, readonly peer: NodeId, message: string) {
    super(reason === 'identity-not-proven' ? 'UNAUTHENTICATED' : 'TOO_MANY_REQUESTS', message);
  }
}

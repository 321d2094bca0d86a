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
 * Over TLS the signature is also bound to the TLS channel it travels on (identity version 2,
 * PEER_IDENTITY_TLS_VERSION): the payload holds the connection's exported keying material
 * (RFC 5705 / RFC 8446 section 7.5, with RFC 9266's label "EXPORTER-Channel-Binding"), which
 * both ends of one TLS connection compute alike and no other connection shares. A relay that
 * terminates TLS (a proxy holding a certificate the dialer accepts, say) and opens its own TLS
 * connection to the listener sees a different exporter on each side: it can forward the hello,
 * the challenge and the answer, but the signature covers the dialer's channel, not the relay's,
 * and the listener refuses it. Peer TLS is TLS 1.3 only (transport.ts), where the exporter is
 * unique to the connection; in TLS 1.2 it is only with the extended master secret (RFC 7627),
 * which Node does not let us check. Over plain TCP there is no channel to bind to (version 1,
 * PEER_IDENTITY_VERSION): whoever sits on the path can forward a member's handshake and then
 * speak on its link, unless a cluster secret puts a MAC on every frame (frame-mac.ts: the relay
 * has no key for them). A listener needs exactly the version of its own link (TLS or not), so a
 * relay cannot talk a TLS link down to an unbound proof by rewriting the hello.
 *
 * With mutual TLS the certificate itself must also name the member (certificateNamesMember): its
 * subject common name is the member's id, the `from` of its hello. Otherwise any holder of a
 * certificate from the cluster CA could name any member (the CA proves only "one of ours").
 *
 * Over maxConnectionsPerPeer (transport.ts) the links of a member whose key was proven give way
 * oldest first (only that member can open them: the newest is the one it uses), unless the keys
 * are shared (PeerIdentity.sharedKeys: derived from the cluster token, so any holder of the token
 * can sign as any member): then, as without member keys, only idle links give way. Links whose `from`
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
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { QuorateError } from '../core/errors.js';
import type { NodeId } from '../core/ids.js';

/** Marks the bytes a dialer signs, so that no other signature of the member's key is one. */
export const PEER_IDENTITY_MAGIC = 'QRT1-PEER-IDENTITY';
/**
 * The identity-proof scheme over plain TCP, announced in a hello; a listener that needs one refuses
 * any other. The signature covers no channel (there is none to bind to: see the file comment).
 */
export const PEER_IDENTITY_VERSION = 1;
/**
 * The identity-proof scheme over TLS: the signature also covers the connection's TLS exporter
 * (peerChannelBinding). A build from before channel binding announces PEER_IDENTITY_VERSION over
 * TLS too, and is refused with a log line that says so (accepting it would let a relay rewrite a
 * newer dialer's hello down to the unbound proof).
 */
export const PEER_IDENTITY_TLS_VERSION = 2;
/** RFC 9266's exporter label for channel binding (tls-exporter): the same on both ends of a connection. */
export const PEER_CHANNEL_BINDING_LABEL = 'EXPORTER-Channel-Binding';
/** Bytes of exported keying material signed over (RFC 9266's length). */
export const PEER_CHANNEL_BINDING_BYTES = 32;
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
  /**
   * True when every member's private key can be derived from something more than that member holds
   * (`--bft-insecure-keys-from-token`: all keys come from the cluster token). A proof then shows only
   * that its dialer holds the token, not that it is the member it names, so it grants no more than a
   * link without member keys: over maxConnectionsPerPeer a newcomer makes room by closing idle
   * links only, never the member's live ones (transport.ts). Absent or false: each member's own key.
   */
  readonly sharedKeys?: boolean;
}

/**
 * A PeerIdentity over Ed25519 keys: this member's private key and every member's public key.
 * `sharedKeys`: the keys were derived from a secret every member (and whoever else holds it) knows
 * (see PeerIdentity.sharedKeys).
 */
export function peerIdentityFromKeys(privateKey: KeyObject, publicKeys: ReadonlyMap<string, KeyObject>, o: { readonly sharedKeys?: boolean } = {}): PeerIdentity {
  return {
    sharedKeys: o.sharedKeys === true,
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
 * and the listener's ids and both nonces, and over TLS the connection's channel binding
 * (peerChannelBinding, after a 'tls-exporter' label), each length-prefixed (no two tuples give
 * the same bytes, so a payload with a channel is never one without).
 */
export function peerIdentityPayload(
  clusterId: string, dialer: string, listener: string, dialerNonce: Uint8Array, listenerNonce: Uint8Array, channel: Uint8Array | null = null,
): Buffer {
  if (channel !== null && channel.byteLength !== PEER_CHANNEL_BINDING_BYTES) throw new Error(`assertion: a channel binding is ${PEER_CHANNEL_BINDING_BYTES} bytes, got ${channel.byteLength}`);
  const h = createHash('sha256');
  const parts = [PEER_IDENTITY_MAGIC, 'dialer', clusterId, dialer, listener, dialerNonce, listenerNonce, ...(channel === null ? [] : ['tls-exporter', channel])];
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(bytes.length, 0);
    h.update(len).update(bytes);
  }
  return h.digest();
}

/**
 * The channel binding of a TLS connection (RFC 9266 tls-exporter): the same bytes at both of its
 * ends once its handshake is done, and at no end of any other connection. Throws if the handshake
 * is not done (a bug: the transport asks only after secureConnect, or in the secure connection's handler).
 */
export function peerChannelBinding(socket: TLSSocket): Buffer {
  // RFC 9266: an empty context (in TLS 1.3 the same value as none, RFC 8446 section 7.5).
  const binding = socket.exportKeyingMaterial(PEER_CHANNEL_BINDING_BYTES, PEER_CHANNEL_BINDING_LABEL, Buffer.alloc(0));
  if (binding.byteLength !== PEER_CHANNEL_BINDING_BYTES) throw new Error(`assertion: TLS exported ${binding.byteLength} bytes, not ${PEER_CHANNEL_BINDING_BYTES}`);
  return binding;
}

/**
 * How a peer certificate names its member (mutual TLS, PeerTls.memberBinding):
 * - 'common-name' (the default): the certificate's subject holds exactly one common name (CN), and
 *   it is the member's id in the cluster, the `from` of its hello and the `to` a dialer calls: for a
 *   member of the initial cluster its name (`--name`), for one added later (MemberAdd) the 16 hex
 *   digits of its member id (as quorate logs it; etcdctl prints it without leading zeros). Not the
 *   name of an added member: MemberAdd carries none, and the member publishes it over the very links
 *   this check guards, so nobody could know it in time. The CN is the field etcd's peer
 *   certificates are named by (`--peer-cert-allowed-cn`, and its guides issue one per member with
 *   CN = the member's name); the subject alternative names keep their meaning
 *   of host names and addresses, which a dialer already checks against the peer URL it dials.
 * - 'none': any certificate from the cluster CA may name any member. For clusters whose CA issues
 *   one certificate to every member, or certificates named after hosts; chosen explicitly, never
 *   fallen back to (see PeerTls.memberBinding).
 */
export type PeerCertMemberBinding = 'common-name' | 'none';

/**
 * Why the certificate `cert` (as getPeerCertificate returns it) does not name `member`, or null if
 * it does: its subject must hold exactly one common name, equal to the member's id (compared
 * exactly: no case folding, no wildcards).
 */
export function certificateNamesMember(cert: PeerCertificate | Record<string, never> | null | undefined, member: string): string | null {
  const subject = (cert as Partial<PeerCertificate> | null | undefined)?.subject;
  // Node gives a repeated attribute as an array; one CN that is not the member's is the usual mismatch.
  const cn: unknown = (subject as Record<string, unknown> | undefined)?.['CN'];
  const names = cn === undefined ? [] : Array.isArray(cn) ? cn : [cn];
  if (names.length === 1 && names[0] === member) return null;
  if (names.length === 0) return `its certificate's subject has no common name (CN), and peer certificates name their member there (CN=${member})`;
  if (names.length > 1) return `its certificate's subject has ${names.length} common names (${names.map(String).join(', ')}), and a peer certificate names one member (CN=${member})`;
  return `its certificate names member ${JSON.stringify(String(names[0]))} (CN), not ${member}`;
}

/** Why an inbound link was refused after its peer named itself. */
export type PeerLinkRefusal =
  /** It could not prove the key of the member it named (a wrong, missing or unreadable signature). */
  | 'identity-not-proven'
  /** Mutual TLS: its certificate does not name the member its hello names (certificateNamesMember). */
  | 'certificate-not-member'
  /** Its member held maxConnectionsPerPeer links, each live: it would have had to close one in use. */
  | 'too-many-live-links';

/**
 * An inbound peer link refused (logged, counted, and handed to the transport's onLinkRefused). For
 * 'too-many-live-links' the dialer need do nothing: it re-dials with backoff and gets in once one
 * of the links held in its name goes quiet (liveConnectionMs) or closes. Repeated refusals of a member
 * whose process is up mean someone else holds links in its name: provision member keys. For
 * 'certificate-not-member' (code UNAUTHENTICATED, like 'identity-not-proven'): issue the member a
 * certificate with its id as CN (its name, for a member of the initial cluster), or, if the cluster's certificates cannot carry member names,
 * choose memberBinding 'none' on every member (`--peer-cert-member-binding none`).
 */
export class PeerLinkRefused extends QuorateError {
  override readonly name = 'PeerLinkRefused';
  constructor(readonly reason: PeerLinkRefusal, readonly peer: NodeId, message: string) {
    super(reason === 'too-many-live-links' ? 'TOO_MANY_REQUESTS' : 'UNAUTHENTICATED', message);
  }
}

/**
 * Peer authentication without TLS: every member holds one shared cluster secret and proves it at
 * each connection's handshake, by challenge and response, without sending it.
 *
 *   dialer  → listener   hello { clusterId, from, to, nonce: N_d }
 *   listener → dialer    challenge { nonce: N_l, proof: HMAC(secret, listener | ids | N_d | N_l) }
 *   dialer  → listener   answer { proof: HMAC(secret, dialer | ids | N_d | N_l) }
 *
 * Each side picks a fresh random nonce per connection, so a recorded proof is worth nothing on
 * another connection (the other side's nonce differs): no replay. The role and both member ids
 * are inside the MAC, so a listener's proof cannot be reflected as a dialer's, nor one member's
 * as another's. Each side verifies with timingSafeEqual. The listener delivers no frame before
 * the dialer's proof verified, and the dialer sends none before the listener's did.
 *
 * Both the hello and the challenge carry `frameMac: PEER_FRAME_MAC_VERSION`: every frame after the
 * handshake carries a MAC under a key derived from it (peerFrameKey, frame-mac.ts). A member of a
 * build without frame MACs sends neither, and is refused with a log line that says so (it would
 * pass the handshake and then fail every frame, or take frames with a tag it does not read).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Bytes of each side's nonce. */
export const PEER_NONCE_BYTES = 32;
/** Bytes of a proof (HMAC-SHA256). */
export const PEER_PROOF_BYTES = 32;
/** A shorter secret is refused at start: it could be guessed. */
export const MIN_PEER_SECRET_BYTES = 16;
/** Largest handshake frame a dialer accepts from a listener (a challenge is under 100 bytes). */
export const MAX_HANDSHAKE_FRAME_BYTES = 1024;
/** Marks the challenge and the answer frames. */
export const PEER_AUTH_MAGIC = 'QRT1-AUTH';
/**
 * The frame-MAC scheme a member with a secret speaks after the handshake (frame-mac.ts), announced
 * in its hello and its challenge. A peer announcing none or another is refused: there is no
 * fallback to unauthenticated frames, so nobody on the path can talk two members down to one.
 */
export const PEER_FRAME_MAC_VERSION = 1;
/** Inside the frame-key derivation, so that no key is ever a proof sent on the wire (nor the reverse). */
export const PEER_FRAME_KEY_MAGIC = 'QRT1-FRAME-KEY-V1';
/** Inside a join query's proofs, so that no peer connection's proof is one (and the reverse). */
export const JOIN_AUTH_MAGIC = 'QRT1-JOIN-AUTH';
/** Marks a join query's answer that carries its listener's proof (joinAnswerProof). */
export const JOIN_ANSWER_MAGIC = 'QRT1-JOIN-ANSWER';

export type PeerRole = 'dialer' | 'listener';

export function freshNonce(): Buffer {
  return randomBytes(PEER_NONCE_BYTES);
}

/** What the `prover` (in `role`) proves to `verifier` on the connection with these nonces. */
export function peerProof(
  secret: Uint8Array, role: PeerRole, clusterId: string, prover: string, verifier: string, dialerNonce: Uint8Array, listenerNonce: Uint8Array,
): Buffer {
  return proof(secret, [PEER_AUTH_MAGIC, role, clusterId, prover, verifier], dialerNonce, listenerNonce);
}

/** Which way a frame key's frames travel on a connection. */
export type FrameDirection = 'dialer-to-listener' | 'listener-to-dialer';

/**
 * The key of one direction of one authenticated connection's frames (frame-mac.ts): HMAC-SHA256
 * keyed by the secret over the direction, the cluster id, the dialer's and the listener's ids (by
 * role, so both ends compute the same bytes) and both nonces. HMAC is a PRF here, so the key is a
 * fresh 32-byte value per connection and direction, never sent, and unrelated to the proofs that
 * were sent (another magic). Both ends must have verified each other's proof before using it.
 */
export function peerFrameKey(
  secret: Uint8Array, direction: FrameDirection, clusterId: string, dialer: string, listener: string, dialerNonce: Uint8Array, listenerNonce: Uint8Array,
): Buffer {
  return proof(secret, [PEER_FRAME_KEY_MAGIC, direction, clusterId, dialer, listener], dialerNonce, listenerNonce);
}

/**
 * What a side of a join query (join.ts) proves: the same challenge and response as a peer
 * connection's, with the query's own bytes in place of the member ids (a joining member has no
 * id yet, and the leader's hashkv query needs none), so a proof is good for one query only: the
 * listener answers the query the proof covers, and a query altered in flight is refused.
 */
export function joinProof(secret: Uint8Array, role: PeerRole, query: Uint8Array, dialerNonce: Uint8Array, listenerNonce: Uint8Array): Buffer {
  return proof(secret, [JOIN_AUTH_MAGIC, role, query], dialerNonce, listenerNonce);
}

/**
 * What a join query's listener proves of its answer: the answer's bytes, bound to the query and to
 * both nonces of the connection, so an answer forged or altered in flight (a "you were removed", a
 * HashKV that raises the CORRUPT alarm) or one replayed from another connection is refused.
 */
export function joinAnswerProof(secret: Uint8Array, query: Uint8Array, answer: Uint8Array, dialerNonce: Uint8Array, listenerNonce: Uint8Array): Buffer {
  return proof(secret, [JOIN_ANSWER_MAGIC, query, answer], dialerNonce, listenerNonce);
}

function proof(secret: Uint8Array, parts: readonly (string | Uint8Array)[], dialerNonce: Uint8Array, listenerNonce: Uint8Array): Buffer {
  const mac = createHmac('sha256', secret);
  // Every part length-prefixed: no two different tuples hash the same bytes.
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(bytes.length, 0);
    mac.update(len).update(bytes);
  }
  return mac.update(dialerNonce).update(listenerNonce).digest();
}

/** Whether `proof` (what the peer sent, any value) is the expected one; constant time in the proof. */
export function proofMatches(proof: unknown, expected: Buffer): boolean {
  return proof instanceof Uint8Array && proof.byteLength === expected.byteLength && timingSafeEqual(proof, expected);
}

export function isNonce(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array && v.byteLength === PEER_NONCE_BYTES;
}

/**
 * The secret as read from a file: trailing line breaks and spaces dropped (`echo secret > file`
 * adds one). Throws when what is left is shorter than MIN_PEER_SECRET_BYTES.
 */
export function peerSecretFromFile(contents: Uint8Array): Uint8Array {
  let end = contents.byteLength;
  while (end > 0 && [0x0a, 0x0d, 0x20, 0x09].includes(contents[end - 1]!)) end--;
  if (end < MIN_PEER_SECRET_BYTES) {
    throw new Error(`the peer secret is ${end} bytes; use at least ${MIN_PEER_SECRET_BYTES} random bytes (e.g. openssl rand -hex 32 > peer-secret)`);
  }
  return contents.slice(0, end);
}

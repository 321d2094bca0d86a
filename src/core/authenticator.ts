/**
 * Authentication for Byzantine-fault-tolerant cores. A BFT core never trusts the `from` of an
 * envelope (a faulty replica may write any name there); it trusts only what an Authenticator
 * verifies. The core gets one injected, so that:
 *
 * - the node runtime uses real cryptography (HMAC-SHA256 with pairwise keys, Ed25519, SHA-256;
 *   `src/node/crypto-authenticator.ts`), and
 * - the simulator uses a cheap deterministic scheme (`src/sim/sim-authenticator.ts`) in which an
 *   adversary still cannot produce a MAC or a signature for an identity whose secret it was
 *   not given: forgery fails honestly, and is counted.
 *
 * Payloads are canonical strings built by the protocol (fields joined in a fixed order), so a
 * core needs no serializer to authenticate.
 */

/** A principal: a replica id ("n1") or a client id ("c7"). */
export type Principal = string;

export interface Authenticator {
  /** Whose secrets this instance holds. */
  readonly self: Principal;
  /** Collision-resistant digest of a payload or of bytes (hex). */
  digest(payload: string | Uint8Array): string;
  /** MAC of `payload` from `self` to `to`, under their pairwise key. */
  mac(payload: string, to: Principal): string;
  /** Does `mac` authenticate `payload` as sent by `from` to `self`? */
  verifyMac(payload: string, from: Principal, mac: string): boolean;
  /** A signature anyone can verify (it may be forwarded as proof). */
  sign(payload: string): string;
  verifySignature(payload: string, signer: Principal, signature: string): boolean;
}

/** A MAC vector: one MAC per receiver, so one broadcast message serves every receiver. */
export type MacVector = Readonly<Record<Principal, string>>;

export function macVector(auth: Authenticator, payload: string, receivers: readonly Principal[]): MacVector {
  const out: Record<Principal, string> = {};
  for (const r of receivers) if (r !== auth.self) out[r] = auth.mac(payload, r);
  return out;
}

/** Check the receiver's own entry of a MAC vector. */
export function verifyMacVector(auth: Authenticator, payload: string, from: Principal, vector: MacVector | undefined): boolean {
  if (vector === undefined || typeof vector !== 'object') return false;
  const m = vector[auth.self];
  return typeof m === 'string' && auth.verifyMac(payload, from, m);
}

/**
 * The member a principal belongs to: replica "m1" is itself, client "m1#k" is hosted by m1 and
 * uses m1's keys (trusting a member's clients is trusting the member). Drivers route a message
 * to the member that hosts its addressee.
 */
export function principalMember(principal: Principal): string {
  const hash = principal.indexOf('#');
  return hash < 0 ? principal : principal.slice(0, hash);
}

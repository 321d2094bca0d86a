/**
 * The canonical strings PBFT authenticates: fields in a fixed order, so that a MAC or a
 * signature covers exactly what the protocol acts on. Containers (VIEW-CHANGE, NEW-VIEW) sign
 * over the signatures of what they carry, which bind those items' content in turn.
 */
import type { Authenticator, Principal } from '../../core/authenticator.js';
import type { NodeId } from '../../core/ids.js';
import type { ClientRequest, PreparedCertificate, SignedCheckpoint, SignedViewChange, SignedPrePrepare, StateMeta } from './types.js';

import { toHex } from '../../core/bytes.js';

export { toHex };

/** The digest of a batch: of its requests' digests in order. The empty batch is the null request. */
export function batchDigestOf(auth: Pick<Authenticator, 'digest'>, batch: readonly ClientRequest[], requestDigest = (r: ClientRequest): string => auth.digest(requestPayload(auth, r))): string {
  let s = 'B';
  for (const r of batch) s += `|${requestDigest(r)}`;
  return auth.digest(s);
}

/**
 * What a request's signature and digest cover: its fields and the digest of its operation's bytes
 * (hashed as bytes: spelling a 1 MiB value out in hex made a 2 MiB string to build, sign and hash
 * again at every check). The op digest is bound by the collision resistance of `digest`.
 */
export function requestPayload(auth: Pick<Authenticator, 'digest'>, r: Pick<ClientRequest, 'client' | 'timestamp' | 'readOnly' | 'op'>): string {
  return `R|${r.client}|${r.timestamp}|${r.readOnly ? 1 : 0}|${auth.digest(r.op)}`;
}

export function prePreparePayload(view: number, seq: number, digest: string, primary: NodeId): string {
  return `PP|${view}|${seq}|${digest}|${primary}`;
}

export function preparePayload(view: number, seq: number, digest: string, replica: NodeId): string {
  return `P|${view}|${seq}|${digest}|${replica}`;
}

export function commitPayload(view: number, seq: number, digest: string, replica: NodeId): string {
  return `C|${view}|${seq}|${digest}|${replica}`;
}

export function decidedPayload(view: number, seq: number, digest: string, replica: NodeId): string {
  return `D|${view}|${seq}|${digest}|${replica}`;
}

export function checkpointPayload(seq: number, stateDigest: string, replica: NodeId): string {
  return `K|${seq}|${stateDigest}|${replica}`;
}

export function certificatePayload(c: PreparedCertificate): string {
  return `${c.prePrepare.signature}:${c.prepares.map((p) => p.signature).join(':')}`;
}

export function viewChangePayload(vc: Omit<SignedViewChange, 'signature'>): string {
  const proof = vc.checkpointProof.map((c: SignedCheckpoint) => c.signature).join(':');
  const certs = vc.prepared.map(certificatePayload).join(';');
  return `VC|${vc.newView}|${vc.stableSeq}|${vc.stableDigest}|${vc.replica}|${proof}|${certs}`;
}

export function newViewPayload(view: number, primary: NodeId, viewChanges: readonly SignedViewChange[], prePrepares: readonly SignedPrePrepare[]): string {
  return `NV|${view}|${primary}|${viewChanges.map((v) => v.signature).join(':')}|${prePrepares.map((p) => p.signature).join(':')}`;
}

/** What FETCH-STATE's MACs cover: `part` null asks for the meta-data. */
export function fetchPayload(seq: number, part: number | null, replica: NodeId): string {
  return `F|${seq}|${part === null ? 'meta' : part}|${replica}`;
}

/**
 * What a checkpoint digest is the digest of: the state's size, its part size and its parts'
 * digests. Two replicas agree on a checkpoint only if they split its state alike.
 */
export function stateMetaPayload(meta: StateMeta): string {
  return `SM|${meta.totalBytes}|${meta.partBytes}|${meta.partDigests.join(',')}`;
}

/**
 * A checkpoint's digest: the digest of its meta-data, followed by `@` and the part size it was
 * made with. The signature of a CHECKPOINT covers the digest, so a replica learns from its peers'
 * CHECKPOINTs which part size they use (see partBytesOfCheckpointDigest).
 */
export function checkpointDigestOf(auth: Pick<Authenticator, 'digest'>, meta: StateMeta): string {
  return `${auth.digest(stateMetaPayload(meta))}@${meta.partBytes}`;
}

/** The part size a checkpoint digest names (null for one made before parts, or not a checkpoint digest at all). */
export function partBytesOfCheckpointDigest(digest: string): number | null {
  const at = digest.lastIndexOf('@');
  if (at < 0) return null;
  const n = Number(digest.slice(at + 1));
  return Number.isSafeInteger(n) && n >= 1 ? n : null;
}

/** The meta-data of `state` cut into parts of `partBytes` (the last may be shorter; an empty state has none). */
export function stateMetaOf(auth: Pick<Authenticator, 'digest'>, state: Uint8Array, partBytes: number): StateMeta {
  const partDigests: string[] = [];
  for (let at = 0; at < state.byteLength; at += partBytes) partDigests.push(auth.digest(state.subarray(at, Math.min(state.byteLength, at + partBytes))));
  return { totalBytes: state.byteLength, partBytes, partDigests };
}

export function fetchBatchPayload(seq: number, digest: string, replica: NodeId): string {
  return `FB|${seq}|${digest}|${replica}`;
}

export function replyPayload(view: number, client: Principal, timestamp: number, replica: NodeId, readOnly: boolean, result: Uint8Array): string {
  return `RP|${view}|${client}|${timestamp}|${replica}|${readOnly ? 1 : 0}|${toHex(result)}`;
}

/** Sign a client request (what a client library does before sending it). */
export function signRequest(auth: Authenticator, r: Omit<ClientRequest, 'signature' | 'client'>): ClientRequest {
  const unsigned = { client: auth.self, timestamp: r.timestamp, op: r.op, readOnly: r.readOnly };
  return { ...unsigned, signature: auth.sign(requestPayload(auth, unsigned)) };
}

export function statusPayload(view: number, lastExecuted: number, replica: NodeId): string {
  return `S|${view}|${lastExecuted}|${replica}`;
}

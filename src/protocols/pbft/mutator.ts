/**
 * The message mutator: a liar takes what its honest core sends and changes one field — a view,
 * a sequence number, a digest, a batch (a request dropped, repeated, reordered, or its operation
 * replaced), a timestamp, a result, a certificate left out or altered — and then signs and MACs
 * the result validly with its own keys, as a real Byzantine replica would. Honest replicas may
 * accept only what the protocol's checks allow; a check that trusts a signature over less than
 * it acts on is what this finds (for instance a NEW-VIEW whose signature covers its pre-prepares'
 * signatures, which cover only digests, while the replica executes the batches they carry).
 * A lying primary also rewrites another replica's VIEW-CHANGE inside its NEW-VIEW under that
 * replica's signature (rewriteViewChange): a signature over a message is no proof of what the
 * certificates inside it sign.
 */
import type { Authenticator } from '../../core/authenticator.js';
import { macVector } from '../../core/authenticator.js';
import type { NodeId } from '../../core/ids.js';
import type { Random } from '../../core/prng.js';
import {
  batchDigestOf, checkpointPayload, commitPayload, decidedPayload, newViewPayload, prePreparePayload, preparePayload, replyPayload, statusPayload, viewChangePayload,
} from './payloads.js';
import type { ClientRequest, PbftMessage, PreparedCertificate, SignedNewView, SignedPrePrepare, SignedViewChange } from './types.js';

const enc = new TextEncoder();

/** What the mutator needs besides the message: the liar's keys, the replicas, and randomness. */
export interface MutatorContext {
  readonly random: Random;
  readonly auth: Authenticator;
  readonly replicas: readonly NodeId[];
}

/** A changed copy of `m`, validly authenticated by the liar `m.from`; null when there is nothing to change. */
export function mutateMessage(m: PbftMessage, c: MutatorContext): PbftMessage | null {
  const { random, auth } = c;
  const me = m.from;
  switch (m.type) {
    case 'pre-prepare': {
      if (m.prePrepare.primary !== me) return null;
      return { ...m, prePrepare: resignPrePrepare(mutatePrePrepare(m.prePrepare, random), auth) };
    }
    case 'prepare': {
      const p = { ...m.prepare, ...tweak(random, { view: m.prepare.view, seq: m.prepare.seq, digest: m.prepare.digest }) };
      return { ...m, prepare: { ...p, signature: auth.sign(preparePayload(p.view, p.seq, p.digest, p.replica)) } };
    }
    case 'commit': {
      const t = tweak(random, { view: m.view, seq: m.seq, digest: m.digest });
      return { ...m, ...t, macs: macVector(auth, commitPayload(t.view, t.seq, t.digest, m.replica), c.replicas) };
    }
    case 'decided': {
      const t = tweak(random, { view: m.view, seq: m.seq, digest: m.digest });
      return { ...m, ...t, macs: macVector(auth, decidedPayload(t.view, t.seq, t.digest, m.replica), c.replicas) };
    }
    case 'checkpoint': {
      const seq = random.chance(0.5) ? m.checkpoint.seq + random.pick([-1, 1, 4]) : m.checkpoint.seq;
      const stateDigest = seq === m.checkpoint.seq ? `${m.checkpoint.stateDigest}x` : m.checkpoint.stateDigest;
      return { ...m, checkpoint: { ...m.checkpoint, seq, stateDigest, signature: auth.sign(checkpointPayload(seq, stateDigest, m.checkpoint.replica)) } };
    }
    case 'state-part': {
      // A part of a checkpoint's state with a byte changed, or named as another part: its digest no longer matches.
      if (random.chance(0.5) && m.data.length > 0) {
        const data = m.data.slice();
        const i = random.int(0, data.length - 1);
        data[i] = data[i]! ^ (1 << random.int(0, 7));
        return { ...m, data };
      }
      return { ...m, part: Math.max(0, m.part + random.pick([-1, 1])) };
    }
    case 'state-meta': {
      // Meta-data with one part digest changed, or a part size that does not cut the state as its digest says.
      const meta = m.meta;
      if (meta.partDigests.length > 0 && random.chance(0.5)) {
        const i = random.int(0, meta.partDigests.length - 1);
        const d = meta.partDigests[i]!;
        return { ...m, meta: { ...meta, partDigests: meta.partDigests.map((x, j) => (j === i ? `${d.slice(0, -1)}${d.endsWith('0') ? '1' : '0'}` : x)) } };
      }
      const partBytes = meta.partBytes * 2;
      const partDigests = meta.partDigests.slice(0, Math.ceil(meta.totalBytes / partBytes));
      return { ...m, meta: { ...meta, partBytes, partDigests } };
    }
    case 'batch':
      // A batch answered by digest, changed: the digest no longer names it.
      return m.batch.length === 0 ? null : { ...m, batch: mutateBatch(m.batch, random) };
    case 'view-change':
      return { ...m, viewChange: mutateViewChange(m.viewChange, random, auth) };
    case 'new-view': {
      const nv = m.newView;
      if (nv.primary !== me) return null;
      let prePrepares = nv.prePrepares;
      let viewChanges = nv.viewChanges;
      // One draw decides, as before this rewrite: u < 0.7 is what chance(0.7) drew (the same
      // float), so a run whose liar never mutates a NEW-VIEW keeps its random stream; the lower
      // half of that range now tries the rewrite of another replica's VIEW-CHANGE first.
      const u = prePrepares.length > 0 ? random.float() : 1;
      const rewritten = u < REWRITE_VIEW_CHANGE_SHARE ? rewriteViewChange(nv, m.to, random, auth, c.replicas) : null;
      if (rewritten !== null) return { ...m, newView: rewritten };
      if (u < 0.7) {
        // Change one re-issued pre-prepare (re-signed half the time), or attach a batch to it
        // that its digest does not name: a replica must take neither.
        const i = random.int(0, prePrepares.length - 1);
        const pp = prePrepares[i]!;
        const changed = random.chance(0.5) ? mutatePrePrepare(pp, random) : { ...pp, batch: [forgedRequest(random)] };
        prePrepares = prePrepares.map((x, j) => (j === i ? (random.chance(0.5) ? changed : resignPrePrepare(changed, auth)) : x));
      } else if (viewChanges.length > 0) {
        viewChanges = random.chance(0.5) ? viewChanges.slice(1) : [...viewChanges].reverse();
      }
      return { ...m, newView: { ...nv, prePrepares, viewChanges, signature: auth.sign(newViewPayload(nv.view, nv.primary, viewChanges, prePrepares)) } };
    }
    case 'status': {
      const view = random.chance(0.5) ? m.view + random.int(1, 3) : m.view;
      const lastExecuted = view === m.view ? m.lastExecuted + random.int(1, 20) : m.lastExecuted;
      return { ...m, view, lastExecuted, macs: macVector(auth, statusPayload(view, lastExecuted, m.replica), c.replicas) };
    }
    case 'reply': {
      const timestamp = random.chance(0.3) ? m.timestamp + 1 : m.timestamp;
      const result = timestamp === m.timestamp ? enc.encode(`mutated-${random.int(1, 3)}`) : m.result;
      return { ...m, timestamp, result, mac: auth.mac(replyPayload(m.view, m.client, timestamp, m.replica, m.readOnly, result), m.client) };
    }
    default:
      return null;
  }
}

/**
 * The share of mutated NEW-VIEWs (with something to re-issue) in which the liar tries to rewrite
 * another replica's VIEW-CHANGE: half of the 0.7 that changed a re-issued pre-prepare before.
 */
export const REWRITE_VIEW_CHANGE_SHARE = 0.35;

/**
 * A NEW-VIEW in which one VIEW-CHANGE of another replica (neither the liar's nor the receiver's:
 * the receiver checks its own whole, and the others it has likely verified when they were
 * broadcast) carries a prepared certificate the replica never had, under that replica's own
 * signature: at a sequence number another certificate names, a digest that some certificate
 * names at another sequence number (a batch honest replicas hold, so it can be fetched), in the
 * view just below the NEW-VIEW's (so it beats every honest certificate there). When the replica
 * has a certificate at that sequence number, the forged one takes its place and its signatures,
 * over the changed fields: the VIEW-CHANGE's signature covers those signatures, in that order,
 * not what they sign, so the payload is the one the replica signed, its signature verifies, and
 * only a replica that checks the certificates again sees the change (the bug of
 * trust-view-change-by-signature, and of any shortcut that takes a VIEW-CHANGE whose signature
 * verified for checked whole). When it has none, the certificate (the honest signatures at that
 * sequence number) is added, which changes the payload: its signature no longer verifies. The
 * pre-prepares are recomputed from the changed set as an honest primary would (so the NEW-VIEW
 * is self-consistent) and signed, with the NEW-VIEW, by the liar. Null when no such rewrite
 * exists (no other replica's VIEW-CHANGE, or the certificates name fewer than two digests).
 */
function rewriteViewChange(nv: SignedNewView, to: NodeId, random: Random, auth: Authenticator, replicas: readonly NodeId[]): SignedNewView | null {
  const victims = nv.viewChanges.filter((vc) => vc.replica !== nv.primary && vc.replica !== to);
  // Certificates at or below the NEW-VIEW's checkpoint re-issue nothing.
  const stableSeq = Math.max(0, ...nv.viewChanges.map((vc) => vc.stableSeq));
  const certs = nv.viewChanges.flatMap((vc) => vc.prepared).filter((c) => c.prePrepare.seq > stableSeq);
  if (victims.length === 0 || certs.length === 0) return null;
  const victim = random.pick(victims);
  const target = random.pick(certs).prePrepare;
  const others = [...new Set(certs.filter((c) => c.prePrepare.seq !== target.seq && c.prePrepare.digest !== target.digest).map((c) => c.prePrepare.digest))];
  if (others.length === 0) return null;
  const digest = random.pick(others);
  const view = nv.view - 1;
  // The victim's own certificate at that sequence number, changed in place (its signature still
  // verifies: see above); else the first one there, added. Its pre-prepare names the primary of
  // that view, as a replica checks before any signature (the field is not in the payload).
  const at = victim.prepared.findIndex((c) => c.prePrepare.seq === target.seq);
  const source = at >= 0 ? victim.prepared[at]! : certs.find((c) => c.prePrepare.seq === target.seq)!;
  const primary = replicas.length > 0 ? replicas[view % replicas.length]! : source.prePrepare.primary;
  const cert: PreparedCertificate = {
    prePrepare: { ...source.prePrepare, view, digest, primary },
    prepares: source.prepares.map((p) => ({ ...p, view, digest })),
  };
  const prepared = at >= 0 ? victim.prepared.map((c, i) => (i === at ? cert : c)) : [...victim.prepared, cert];
  const forged: SignedViewChange = { ...victim, prepared };
  // First in the set, so that a tie in view (an honest certificate of view nv.view - 1) goes to it.
  const viewChanges = [forged, ...nv.viewChanges.filter((vc) => vc !== victim)];
  const prePrepares = newViewPrePrepares(nv, viewChanges, auth);
  return { ...nv, viewChanges, prePrepares, signature: auth.sign(newViewPayload(nv.view, nv.primary, viewChanges, prePrepares)) };
}

/** The pre-prepares an honest primary re-issues for `viewChanges` (PbftReplica.computeNewView), by digest, signed by `nv.primary`. */
function newViewPrePrepares(nv: SignedNewView, viewChanges: readonly SignedViewChange[], auth: Authenticator): SignedPrePrepare[] {
  let stableSeq = 0;
  for (const vc of viewChanges) stableSeq = Math.max(stableSeq, vc.stableSeq);
  const best = new Map<number, SignedPrePrepare>();
  let maxSeq = stableSeq;
  for (const vc of viewChanges) {
    for (const c of vc.prepared) {
      const pp = c.prePrepare;
      if (pp.seq <= stableSeq) continue;
      const b = best.get(pp.seq);
      if (b === undefined || pp.view > b.view) best.set(pp.seq, pp);
      maxSeq = Math.max(maxSeq, pp.seq);
    }
  }
  const nullDigest = batchDigestOf(auth, []);
  const out: SignedPrePrepare[] = [];
  for (let seq = stableSeq + 1; seq <= maxSeq; seq++) {
    const digest = best.get(seq)?.digest ?? nullDigest;
    out.push({ view: nv.view, seq, digest, batch: [], primary: nv.primary, signature: auth.sign(prePreparePayload(nv.view, seq, digest, nv.primary)) });
  }
  return out;
}

/** One of view, sequence number or digest changed. */
function tweak(random: Random, f: { view: number; seq: number; digest: string }): { view: number; seq: number; digest: string } {
  const roll = random.int(0, 2);
  if (roll === 0) return { ...f, view: Math.max(0, f.view + random.pick([-1, 1])) };
  if (roll === 1) return { ...f, seq: Math.max(1, f.seq + random.pick([-1, 1, 2])) };
  return { ...f, digest: `${f.digest.slice(0, -1)}${f.digest.endsWith('0') ? '1' : '0'}` };
}

function mutatePrePrepare(pp: SignedPrePrepare, random: Random): SignedPrePrepare {
  const roll = random.int(0, 3);
  if (roll === 0) return { ...pp, batch: mutateBatch(pp.batch, random) };
  const t = tweak(random, { view: pp.view, seq: pp.seq, digest: pp.digest });
  return { ...pp, ...t };
}

/** A request no client signed. */
function forgedRequest(random: Random): ClientRequest {
  return { client: 'c1', timestamp: random.int(1, 1_000_000), op: enc.encode(`EVIL${random.int(1, 9)}`), readOnly: false, signature: 'not-a-signature' };
}

/** A batch with one request dropped, repeated or moved, or its operation replaced (the client's signature then no longer matches). */
function mutateBatch(batch: readonly ClientRequest[], random: Random): ClientRequest[] {
  if (batch.length === 0) return [];
  const out = [...batch];
  const i = random.int(0, out.length - 1);
  switch (random.int(0, 3)) {
    case 0: out.splice(i, 1); break;
    case 1: out.push(out[i]!); break;
    case 2: out.reverse(); break;
    default: out[i] = { ...out[i]!, op: enc.encode(`EVIL${random.int(1, 9)}`) };
  }
  return out;
}

function mutateViewChange(vc: SignedViewChange, random: Random, auth: Authenticator): SignedViewChange {
  const { signature: _, ...rest } = vc;
  let next: Omit<SignedViewChange, 'signature'> = rest;
  const roll = random.int(0, 3);
  if (roll === 0) next = { ...rest, newView: rest.newView + 1 };
  else if (roll === 1 && rest.prepared.length > 0) next = { ...rest, prepared: rest.prepared.slice(1) };
  else if (roll === 2 && rest.prepared.length > 0) {
    // A certificate whose pre-prepare names another digest (its signatures stay: they are the honest ones).
    const i = random.int(0, rest.prepared.length - 1);
    next = { ...rest, prepared: rest.prepared.map((c, j) => (j === i ? { ...c, prePrepare: { ...c.prePrepare, ...tweak(random, c.prePrepare) } } : c)) };
  } else next = { ...rest, stableSeq: rest.stableSeq + random.pick([0, 1]) };
  return { ...next, signature: auth.sign(viewChangePayload(next)) };
}

function resignPrePrepare(pp: SignedPrePrepare, auth: Authenticator): SignedPrePrepare {
  return { ...pp, signature: auth.sign(prePreparePayload(pp.view, pp.seq, pp.digest, pp.primary)) };
}

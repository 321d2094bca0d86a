/**
 * The message mutator: a liar takes what its honest core sends and changes one field — a view,
 * a sequence number, a digest, a batch (a request dropped, repeated, reordered, or its operation
 * replaced), a timestamp, a result, a certificate left out or altered — and then signs and MACs
 * the result validly with its own keys, as a real Byzantine replica would. Honest replicas may
 * accept only what the protocol's checks allow; a check that trusts a signature over less than
 * it acts on is what this finds (for instance a NEW-VIEW whose signature covers its pre-prepares'
 * signatures, which cover only digests, while the replica executes the batches they carry).
 */
import type { Authenticator } from '../../core/authenticator.js';
import { macVector } from '../../core/authenticator.js';
import type { NodeId } from '../../core/ids.js';
import type { Random } from '../../core/prng.js';
import {
  checkpointPayload, commitPayload, decidedPayload, newViewPayload, prePreparePayload, preparePayload, replyPayload, statusPayload, viewChangePayload,
} from './payloads.js';
import type { ClientRequest, PbftMessage, SignedPrePrepare, SignedViewChange } from './types.js';

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
      if (prePrepares.length > 0 && random.chance(0.7)) {
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

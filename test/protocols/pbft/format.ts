/**
 * PBFT messages on a page, in Castro & Liskov's words. Signatures and MACs are left out (what
 * they vouch for is the message itself); a digest is shown as the batch it stands for, which
 * this printer learned from the pre-prepare that carried it, so a PREPARE or COMMIT reads
 * `[c1#1 "x"]` whatever the authenticator (digests differ between the simulator's keyring and
 * real cryptography).
 */
import { unpack } from '../../../src/core/codec.js';
import type { LogEntry } from '../../../src/core/replica.js';
import type {
  ClientRequest, PbftHardState, PbftMessage, PbftSlotRecord, PreparedCertificate, SignedPrePrepare, SignedViewChange,
} from '../../../src/protocols/pbft/index.js';

const dec = new TextDecoder();

export function describeRequest(r: ClientRequest): string {
  return `${r.client}#${r.timestamp} ${JSON.stringify(dec.decode(r.op))}${r.readOnly ? ' read-only' : ''}`;
}

export function describeBatch(batch: readonly ClientRequest[]): string {
  return batch.length === 0 ? 'null' : `[${batch.map(describeRequest).join(', ')}]`;
}

export class PbftPrinter {
  /** digest → the batch it is the digest of, as seen in pre-prepares. */
  private readonly batches = new Map<string, string>();

  /** Remember what a digest stands for (every pre-prepare printed or built passes here). */
  learn(pp: SignedPrePrepare): void {
    // An empty batch is the null request, or a pre-prepare carried by digest only (in a
    // VIEW-CHANGE or NEW-VIEW): it must not overwrite what the digest was seen to stand for.
    if (pp.batch.length > 0 || !this.batches.has(pp.digest)) this.batches.set(pp.digest, describeBatch(pp.batch));
  }

  /** A pre-prepare's batch as printed: by digest when it carries none but its digest names one. */
  private batchOf(pp: SignedPrePrepare): string {
    this.learn(pp);
    const known = this.batches.get(pp.digest)!;
    return pp.batch.length === 0 && known !== 'null' ? `${known} by digest` : describeBatch(pp.batch);
  }

  /** The batch a digest stands for, or the digest itself when no pre-prepare carried it. */
  digest(d: string): string {
    return this.batches.get(d) ?? `digest=${d.length > 12 ? `${d.slice(0, 12)}…` : d}`;
  }

  prePrepare(pp: SignedPrePrepare): string {
    return `v=${pp.view} n=${pp.seq} ${this.batchOf(pp)}`;
  }

  certificate(c: PreparedCertificate): string {
    return `n=${c.prePrepare.seq} v=${c.prePrepare.view} ${this.prePrepareBatch(c.prePrepare)} (${c.prepares.length} prepares)`;
  }

  private prePrepareBatch(pp: SignedPrePrepare): string {
    return this.batchOf(pp);
  }

  viewChange(vc: SignedViewChange): string {
    return `to v=${vc.newView} stable=${vc.stableSeq} prepared=[${vc.prepared.map((c) => this.certificate(c)).join('; ')}]`;
  }

  message(m: PbftMessage): string {
    const head = `${m.from}->${m.to} ${m.type}`;
    const again = 'retransmitted' in m && m.retransmitted === true ? ' (retransmitted)' : '';
    switch (m.type) {
      case 'request':
        return `${head} ${describeRequest(m.request)}`;
      case 'pre-prepare':
        return `${head} ${this.prePrepare(m.prePrepare)}${again}`;
      case 'prepare':
        return `${head} v=${m.prepare.view} n=${m.prepare.seq} ${this.digest(m.prepare.digest)} by ${m.prepare.replica}${again}`;
      case 'commit':
        return `${head} v=${m.view} n=${m.seq} ${this.digest(m.digest)} by ${m.replica}${again}`;
      case 'decided':
        return `${head} v=${m.view} n=${m.seq} ${this.digest(m.digest)} by ${m.replica}`;
      case 'checkpoint':
        return `${head} n=${m.checkpoint.seq} state=${shortDigest(m.checkpoint.stateDigest)} by ${m.checkpoint.replica}`;
      case 'view-change':
        return `${head} ${this.viewChange(m.viewChange)} by ${m.viewChange.replica}`;
      case 'new-view':
        return `${head} v=${m.newView.view} view-changes=(${m.newView.viewChanges.map((v) => v.replica).join(',')}) pre-prepares=[${m.newView.prePrepares.map((pp) => `n=${pp.seq} ${this.prePrepareBatch(pp)}`).join(', ')}]`;
      case 'status':
        return `${head} v=${m.view} executed=${m.lastExecuted}`;
      case 'fetch-state':
        return `${head} n=${m.seq} ${m.part === null ? 'meta' : `part=${m.part}`}`;
      case 'state-meta':
        return `${head} n=${m.seq} (${m.meta.totalBytes} bytes in ${m.meta.partDigests.length} parts of ${m.meta.partBytes}, digest ${shortDigest(m.stateDigest)})`;
      case 'state-part':
        return `${head} n=${m.seq} part=${m.part} (${m.data.byteLength} bytes, digest ${shortDigest(m.stateDigest)})`;
      case 'fetch-batch':
        return `${head} n=${m.seq} ${this.digest(m.digest)}`;
      case 'batch':
        return `${head} n=${m.seq} ${describeBatch(m.batch)} for ${this.digest(m.digest)}`;
      case 'reply':
        return `${head} v=${m.view} ${m.client}#${m.timestamp} result=${JSON.stringify(dec.decode(m.result))}${m.readOnly ? ' read-only' : ''}`;
    }
  }

  hardState(h: PbftHardState): string {
    const parts = [`view=${h.view}`];
    if (h.viewChange !== null) parts.push(`view-change ${this.viewChange(h.viewChange)}`);
    if (h.newView !== null) parts.push(`new-view v=${h.newView.view}`);
    return parts.join(' ');
  }

  /** A slot's durable record: what was accepted, prepared and committed at a sequence number. */
  slot(e: LogEntry): string {
    const rec = unpack(e.data) as PbftSlotRecord;
    const parts = [`n=${e.index}`];
    if (rec.prePrepare !== null) parts.push(`pre-prepare ${this.prePrepare(rec.prePrepare)}`);
    if (rec.cert !== null) parts.push(`prepared in v=${rec.cert.prePrepare.view}`);
    if (rec.decided !== null) parts.push(`committed ${this.digest(rec.decided.digest)}`);
    return parts.join(', ');
  }
}

/** A state digest differs between authenticators; eight characters are enough to tell two apart. */
function shortDigest(d: string): string {
  return d.length > 8 ? d.slice(0, 8) : d;
}

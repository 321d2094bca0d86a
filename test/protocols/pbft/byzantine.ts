/**
 * How a PBFT scenario plays a Byzantine replica: rules that rewrite what it sends, signed and
 * MAC'd with its own keys only (so it can lie about its own view of the world, but anything it
 * says in another replica's name fails verification and is counted), and forged or replayed
 * messages put in flight by hand.
 */
import { macVector } from '../../../src/core/authenticator.js';
import { nodeId, type NodeId } from '../../../src/core/ids.js';
import {
  commitPayload, checkpointPayload, newViewPayload, prePreparePayload, preparePayload, replyPayload, viewChangePayload,
  type PbftHardState, type PbftMessage, type SignedPrePrepare, type SignedViewChange,
} from '../../../src/protocols/pbft/index.js';
import type { Command } from '../interaction/adapter.js';
import { arg, intOption } from '../interaction/commands.js';
import type { Directive } from '../interaction/datadriven.js';
import { UsageError, type Environment } from '../interaction/environment.js';
import { messageFilter } from '../interaction/network.js';
import { listValue } from '../interaction/option-values.js';
import type { PbftWorld } from './interaction.js';

type Env = Environment<PbftMessage, PbftHardState>;

const dec = new TextDecoder();

function option(d: Directive, key: string): string {
  const v = d.options.get(key);
  if (v === undefined) throw new UsageError(`'${d.command}' needs ${key}=...`);
  return v;
}

/** The view a normal-case message belongs to, if it has one. */
function viewOf(m: PbftMessage): number | null {
  switch (m.type) {
    case 'pre-prepare':
      return m.prePrepare.view;
    case 'prepare':
      return m.prepare.view;
    case 'commit':
      return m.view;
    default:
      return null;
  }
}

function addRule(env: Env, name: string, apply: (m: PbftMessage) => PbftMessage | readonly PbftMessage[] | null): void {
  env.network.addRule({ name, apply });
  env.out.always(`ok: rule '${name}'`);
}

export function byzantineCommands(w: PbftWorld): Record<string, Command<PbftMessage, PbftHardState>> {
  /** A pre-prepare for (view, seq) carrying `client`'s signed request, signed by the primary of that view. */
  const prePrepare = (view: number, seq: number, client: string, timestamp: number, op: string): SignedPrePrepare => {
    const request = w.signedRequest(client, timestamp, op);
    const digest = w.batchDigest([request]);
    const primary = w.primaryOf(view);
    const pp = { view, seq, digest, batch: [request], primary, signature: w.auth(primary).sign(prePreparePayload(view, seq, digest, primary)) };
    w.printer.learn(pp);
    return pp;
  };

  let recorded: PbftMessage[] = [];

  return {
    /**
     * `equivocate n1 to=n2 seq=1 client=c2 op=y`: the primary n1 sends n2, at that sequence
     * number, a pre-prepare for another request than the one everybody else gets.
     */
    equivocate: (d, env) => {
      const liar = env.node(arg(d, 0, 'the primary')).id;
      const to = new Set(listValue(option(d, 'to')));
      const seq = intOption(d, 'seq');
      const forged = new Map<number, SignedPrePrepare>();
      addRule(env, `${liar} equivocates to ${[...to].join(',')} at n=${seq}`, (m) => {
        if (m.from !== liar || m.type !== 'pre-prepare' || !to.has(m.to) || m.prePrepare.seq !== seq) return m;
        const view = m.prePrepare.view;
        if (!forged.has(view)) forged.set(view, prePrepare(view, seq, option(d, 'client'), intOption(d, 't', 1), option(d, 'op')));
        return { ...m, prePrepare: forged.get(view)! };
      });
    },

    /**
     * `split byzantine=(n1,n2) victims=(n4) client=c2 op=y`: the Byzantine replicas tell the
     * victims another story at sequence 1 of view 0: pre-prepare, prepares and commits for `op`.
     */
    split: (d, env) => {
      const liars = new Set(listValue(option(d, 'byzantine')));
      const victims = new Set(listValue(option(d, 'victims')));
      const pp = prePrepare(0, 1, option(d, 'client'), 1, option(d, 'op'));
      addRule(env, `${[...liars].join(',')} tell ${[...victims].join(',')} another story at n=1`, (m) => {
        if (!liars.has(m.from) || !victims.has(m.to)) return m;
        const auth = w.auth(m.from);
        if (m.type === 'pre-prepare') return { ...m, prePrepare: pp };
        if (m.type === 'prepare') return { ...m, prepare: { ...m.prepare, digest: pp.digest, signature: auth.sign(preparePayload(0, 1, pp.digest, m.from)) } };
        if (m.type === 'commit') return { ...m, digest: pp.digest, macs: { [m.to]: auth.mac(commitPayload(0, 1, pp.digest, m.from), m.to) } };
        return m;
      });
    },

    /**
     * `lie-checkpoint n4 [to=(n2)]`: n4's CHECKPOINTs name a state digest nobody else has ("lie"),
     * signed by n4; with `to`, only those it sends to these replicas (the others get its honest ones).
     */
    'lie-checkpoint': (d, env) => {
      const liar = env.node(arg(d, 0, 'the liar')).id;
      const to = d.options.has('to') ? new Set(listValue(option(d, 'to'))) : null;
      addRule(env, `${liar} lies about its checkpoint digest${to === null ? '' : ` to ${[...to].join(',')}`}`, (m) => {
        if (m.type !== 'checkpoint' || m.from !== liar || m.checkpoint.replica !== liar || (to !== null && !to.has(m.to))) return m; // its own: another's it forwards would not verify
        const seq = m.checkpoint.seq;
        return { ...m, checkpoint: { ...m.checkpoint, stateDigest: 'lie', signature: w.auth(liar).sign(checkpointPayload(seq, 'lie', liar)) } };
      });
    },

    /**
     * `claim-checkpoints n6 to=(n2) seqs=(8,12) digest=ahead`: n6 sends n2 CHECKPOINTs, signed by
     * itself, at these sequence numbers with this digest (checkpoints nobody reached yet, say).
     */
    'claim-checkpoints': (d, env) => {
      const liar = env.node(arg(d, 0, 'the liar')).id;
      const digest = option(d, 'digest');
      for (const seq of listValue(option(d, 'seqs')).map(Number)) {
        if (!Number.isSafeInteger(seq)) throw new UsageError(`seqs=${option(d, 'seqs')}: sequence numbers, e.g. seqs=(8,12)`);
        for (const to of listValue(option(d, 'to')).map(nodeId)) {
          const checkpoint = { seq, stateDigest: digest, replica: liar, signature: w.auth(liar).sign(checkpointPayload(seq, digest, liar)) };
          const m: PbftMessage = { type: 'checkpoint', from: liar, to, checkpoint };
          env.network.inject(m);
          env.out.always(`in flight: ${env.fmt(m)}`);
        }
      }
    },

    /**
     * `lie-read n4 result=read:0`: n4 answers read-only requests with `result` (a state from
     * before the writes it has seen), MAC'd with its own keys as any reply of its own.
     */
    'lie-read': (d, env) => {
      const liar = env.node(arg(d, 0, 'the liar')).id;
      const result = new TextEncoder().encode(option(d, 'result'));
      addRule(env, `${liar} answers reads with an old state`, (m) => {
        if (m.type !== 'reply' || m.from !== liar || !m.readOnly) return m;
        const body = new TextDecoder().decode(m.result);
        const lie = new Uint8Array([...result, ...new TextEncoder().encode(body.slice(body.indexOf(':', 5)))]);
        return { ...m, result: lie, mac: w.auth(liar).mac(replyPayload(m.view, m.client, m.timestamp, m.replica, m.readOnly, lie), m.client) };
      });
    },

    /**
     * `corrupt-state n1`: every part of the state n1 serves in a state transfer has one bit
     * flipped: in its last letter or digit ("x3" becomes "x2"), so that the state still decodes and
     * a replica that took it unchecked shows a service nobody executed; in its last byte if none.
     */
    'corrupt-state': (d, env) => {
      const liar = env.node(arg(d, 0, 'the replica')).id;
      const alnum = (b: number): boolean => (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7a);
      addRule(env, `${liar} serves a corrupt state`, (m) => {
        if (m.type !== 'state-part' || m.from !== liar) return m;
        let at = m.data.length - 1;
        for (let i = m.data.length - 1; i >= 0; i--) {
          if (alnum(m.data[i]!) && alnum(m.data[i]! ^ 1)) {
            at = i;
            break;
          }
        }
        return { ...m, data: m.data.map((b, i) => (i === at ? b ^ 1 : b)) };
      });
    },

    /** `forge-new-view n2`: n2's NEW-VIEW re-issues the null request at every sequence number (signed by n2). */
    'forge-new-view': (d, env) => {
      const liar = env.node(arg(d, 0, 'the new primary')).id;
      const nullDigest = w.batchDigest([]);
      addRule(env, `${liar} puts null requests in its NEW-VIEW`, (m) => {
        if (m.type !== 'new-view' || m.from !== liar) return m;
        const nv = m.newView;
        const auth = w.auth(liar);
        const prePrepares = nv.prePrepares.map((pp) => ({ ...pp, digest: nullDigest, batch: [], signature: auth.sign(prePreparePayload(pp.view, pp.seq, nullDigest, pp.primary)) }));
        return { ...m, newView: { ...nv, prePrepares, signature: auth.sign(newViewPayload(nv.view, nv.primary, nv.viewChanges, prePrepares)) } };
      });
    },

    /**
     * `forge-new-view-batch n2 op=EVIL`: n2's NEW-VIEW keeps every re-issued digest (and re-signs
     * each pre-prepare and itself, validly, with n2's keys) but carries another batch: each request's
     * operation replaced, so its client's signature no longer matches. The signatures cover digests
     * only; a replica must check the batch against its digest and its requests' signatures.
     */
    'forge-new-view-batch': (d, env) => {
      const liar = env.node(arg(d, 0, 'the new primary')).id;
      const op = new TextEncoder().encode(option(d, 'op'));
      addRule(env, `${liar} swaps the batches in its NEW-VIEW`, (m) => {
        if (m.type !== 'new-view' || m.from !== liar) return m;
        const nv = m.newView;
        const auth = w.auth(liar);
        const prePrepares = nv.prePrepares.map((pp) => ({
          ...pp, batch: pp.batch.map((r) => ({ ...r, op })), signature: auth.sign(prePreparePayload(pp.view, pp.seq, pp.digest, pp.primary)),
        }));
        return { ...m, newView: { ...nv, prePrepares, signature: auth.sign(newViewPayload(nv.view, nv.primary, nv.viewChanges, prePrepares)) } };
      });
    },

    /**
     * `forge-batches n1 op=EVIL`: every BATCH n1 sends (its answer to a replica fetching a batch by
     * digest) carries each request's operation replaced, the digest kept: the clients' signatures
     * no longer match, and the batch is not the one the digest names.
     */
    'forge-batches': (d, env) => {
      const liar = env.node(arg(d, 0, 'the liar')).id;
      const op = new TextEncoder().encode(option(d, 'op'));
      addRule(env, `${liar} forges the batches it sends`, (m) => (m.type !== 'batch' || m.from !== liar ? m : { ...m, batch: m.batch.map((r) => ({ ...r, op })) }));
    },

    /**
     * `forge-commits by=n4 as=(n1,n2,n3) to=(n1,n2,n3) seq=1 digest=bogus`: n4 fabricates
     * COMMITs in other replicas' names; it can only MAC them with its own keys.
     */
    'forge-commits': (d, env) => {
      const forger = env.node(option(d, 'by')).id;
      const ids = [...env.nodes.keys()];
      const view = intOption(d, 'view', 0);
      const seq = intOption(d, 'seq');
      const digest = option(d, 'digest');
      for (const victim of listValue(option(d, 'as')).map(nodeId)) {
        const macs = macVector(w.auth(forger), commitPayload(view, seq, digest, victim), ids);
        for (const to of listValue(option(d, 'to')).map(nodeId)) {
          const m: PbftMessage = { type: 'commit', from: victim, to, view, seq, digest, replica: victim, macs };
          env.network.inject(m);
          env.out.always(`in flight: ${env.fmt(m)}`);
        }
      }
    },

    /** `pre-prepare to=n2 v=0 n=1 client=c1 t=1 op=a`: the primary of view v (played by the scenario) sends this. */
    'pre-prepare': (d, env) => {
      const view = intOption(d, 'v');
      const to: NodeId = env.node(option(d, 'to')).id;
      const pp = prePrepare(view, intOption(d, 'n'), option(d, 'client'), intOption(d, 't', 1), option(d, 'op'));
      const m: PbftMessage = { type: 'pre-prepare', from: pp.primary, to, prePrepare: pp };
      env.network.inject(m);
      env.out.always(`in flight: ${env.fmt(m)}`);
    },

    /** `record`: from now on, keep a copy of every replica-to-replica message sent (see `replay`). */
    record: (_d, env) => {
      recorded = [];
      env.network.addRule({ name: 'record', apply: (m) => {
        if (m.type !== 'request' && m.type !== 'reply') recorded.push(m);
        return m;
      } });
    },

    /** `replay`: put every recorded message in flight again (an attacker replaying old traffic). */
    replay: (_d, env) => {
      for (const m of recorded) env.network.inject(m);
      env.out.always(`in flight again: ${recorded.length} recorded messages`);
    },

    /**
     * `second-new-view n2 to=n4 with=(n1,n4) drop-seq=1`: n2, primary of the view it leads, sends
     * n4 a second NEW-VIEW for that view, valid too: its own VIEW-CHANGE signed again without
     * its certificate at drop-seq, with the recorded VIEW-CHANGEs (see `record`) of the replicas
     * `with`, and the pre-prepares those VIEW-CHANGEs call for. A primary picks which 2f + 1
     * VIEW-CHANGEs go in, and may say what it likes about what it prepared itself.
     */
    'second-new-view': (d, env) => {
      const liar = env.node(arg(d, 0, 'the primary')).id;
      const to: NodeId = env.node(option(d, 'to')).id;
      const dropSeq = intOption(d, 'drop-seq');
      const sent = recorded.filter((m): m is Extract<PbftMessage, { type: 'new-view' }> => m.type === 'new-view' && m.from === liar);
      const first = sent[sent.length - 1];
      if (first === undefined) throw new UsageError(`no NEW-VIEW from ${liar} recorded`);
      const view = first.newView.view;
      const own = first.newView.viewChanges.find((vc) => vc.replica === liar);
      if (own === undefined) throw new UsageError(`${liar}'s NEW-VIEW holds no VIEW-CHANGE of its own`);
      const auth = w.auth(liar);
      const unsigned = { ...own, prepared: own.prepared.filter((c) => c.prePrepare.seq !== dropSeq) };
      const viewChanges: SignedViewChange[] = [{ ...unsigned, signature: auth.sign(viewChangePayload(unsigned)) }];
      for (const r of listValue(option(d, 'with')).map(nodeId)) {
        const vc = recorded.find((m) => m.type === 'view-change' && m.from === r && m.viewChange.newView === view);
        if (vc === undefined || vc.type !== 'view-change') throw new UsageError(`no VIEW-CHANGE of ${r} for view ${view} recorded`);
        viewChanges.push(vc.viewChange);
      }
      const prePrepares = w.newViewBatches(view, viewChanges).map(({ seq, digest }) => ({
        view, seq, digest, batch: [], primary: liar, signature: auth.sign(prePreparePayload(view, seq, digest, liar)),
      }));
      const m: PbftMessage = { type: 'new-view', from: liar, to, newView: { view, primary: liar, viewChanges, prePrepares, signature: auth.sign(newViewPayload(view, liar, viewChanges, prePrepares)) } };
      env.network.inject(m);
      env.out.always(`in flight: ${env.fmt(m)}`);
    },

    /** `block-view v=0 [from=] [to=] [type=]`: normal-case messages of view v matching the filter are lost. */
    'block-view': (d, env) => {
      const view = intOption(d, 'v');
      const options = new Map(d.options);
      options.delete('v');
      const f = messageFilter(options);
      addRule(env, `block view ${view} ${[...options].map(([k, v]) => `${k}=${v}`).join(' ')}`.trimEnd(), (m) => (viewOf(m) === view && env.network.matches(f, m) ? null : m));
    },

    /** `block-request op=x`: requests for `op` that replicas relay are lost (the client's own still arrive). */
    'block-request': (d, env) => {
      const op = option(d, 'op');
      addRule(env, `block relayed requests for ${op}`, (m) => (m.type === 'request' && dec.decode(m.request.op) === op ? null : m));
    },
  };
}

/**
 * PBFT in the interaction environment. Replicas get an injected Authenticator (the
 * simulator's keyring by default, so forgery fails honestly), and each replica's Readys are
 * handled the way the driver handles them, with PbftHost (the protocol's ReplicaHost) executing
 * batches on the service, answering clients and handing checkpoints back to the core. This is
 * the only scenario file that touches PbftHost.
 *
 * Clients (c1, c2, ...) are BftClients: they sign requests and accept a result on f + 1
 * matching replies (2f + 1 for read-only requests); replies addressed to them are delivered to
 * them, and an accepted result is printed as an event.
 */
import type { Authenticator } from '../../../src/core/authenticator.js';
import type { NodeId } from '../../../src/core/ids.js';
import { Prng } from '../../../src/core/prng.js';
import type { ApplyOutput } from '../../../src/core/protocol.js';
import type { LogEntry, Membership, Replica, RestoredState, SnapshotEncoding, StateMachine } from '../../../src/core/replica.js';
import { BftClient } from '../../../src/protocols/pbft/client.js';
import { PbftHost } from '../../../src/protocols/pbft/host.js';
import {
  PbftReplica, signRequest, type ClientRequest, type PbftHardState, type PbftMessage, type PbftOptions, type PbftReady, type PbftReply,
  type SignedViewChange,
} from '../../../src/protocols/pbft/index.js';
import { SimKeyring } from '../../../src/sim/sim-authenticator.js';
import type { Adapter, ClusterSpec, Command, DriverIO } from '../interaction/adapter.js';
import { arg } from '../interaction/commands.js';
import { UsageError, type EnvNode } from '../interaction/environment.js';
import { intValue, refuseUnknown } from '../interaction/option-values.js';
import { byzantineCommands } from './byzantine.js';
import { describeBatch, PbftPrinter } from './format.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

const OPTION_NAMES = [
  'checkpointIntervalSeqs', 'logWindowSeqs', 'maxBatchRequests', 'maxInFlightBatches', 'requestTimeoutTicks', 'viewChangeTimeoutTicks',
  'retransmitTicks', 'announceTicks', 'statePartBytes', 'maxInflightStateBytes',
] as const;

/** Scenario timers: short, so that view changes and retransmissions happen within a few dozen ticks. */
const SCENARIO_DEFAULTS: Partial<PbftOptions> = {
  checkpointIntervalSeqs: 4, requestTimeoutTicks: 10, viewChangeTimeoutTicks: 10, retransmitTicks: 5, announceTicks: 20,
};

/** The service: appends each operation to a list; the result names the position and the op ("3:x"). */
class ListMachine implements StateMachine<string> {
  ops: string[] = [];
  apply(command: Uint8Array): string {
    const op = dec.decode(command);
    this.ops.push(op);
    return `${this.ops.length}:${op}`;
  }
  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify(this.ops));
  }
  restore(data: Uint8Array): void {
    this.ops = JSON.parse(dec.decode(data)) as string[];
  }
  /** A read-only request: names how many operations were applied, and the request. */
  query(command: Uint8Array): string {
    return `read:${this.ops.length}:${dec.decode(command)}`;
  }
}

/**
 * A service whose checkpoints are encoded the way the etcd state machine's are (beginSnapshot: the
 * state as of the begin), held until the scenario says `encode-checkpoint`: later batches execute
 * meanwhile, as while a large state is encoded in slices. A node line `n2 checkpoints=held` gives it.
 */
class HeldListMachine extends ListMachine {
  beginSnapshot(): SnapshotEncoding {
    const bytes = this.snapshot();
    let state: 'encoding' | 'done' | 'abandoned' = 'encoding';
    return {
      // The host steps it only to finish it (encode-checkpoint, or the next checkpoint first): whole.
      step: () => {
        if (state !== 'encoding') throw new Error(`a held checkpoint encoding stepped once ${state}`);
        state = 'done';
        return bytes;
      },
      abandon: () => {
        if (state === 'encoding') state = 'abandoned';
      },
    };
  }
}

function pbft(r: Replica<PbftMessage, PbftHardState>): PbftReplica {
  if (!(r instanceof PbftReplica)) throw new Error('not a PbftReplica');
  return r;
}

/** What the Byzantine commands need from the cluster: keys, digests, and a way to print. */
export interface PbftWorld {
  readonly printer: PbftPrinter;
  auth(principal: string): Authenticator;
  /** A live replica (any): digests are computed the way replicas compute them. */
  batchDigest(batch: readonly ClientRequest[]): string;
  primaryOf(view: number): NodeId;
  /** A request signed by `client` (what that client would send). */
  signedRequest(client: string, timestamp: number, op: string): ClientRequest;
  /** The sequence numbers and digests a NEW-VIEW for `view` must re-issue, given these VIEW-CHANGEs (as any replica computes them). */
  newViewBatches(view: number, viewChanges: readonly SignedViewChange[]): readonly { seq: number; digest: string }[];
}

export class PbftAdapter implements Adapter<PbftMessage, PbftHardState>, PbftWorld {
  readonly stateMachineSurvivesRestart = false;
  readonly printer = new PbftPrinter();
  private ids: NodeId[] = [];
  private membership: Membership = { voters: [], outgoingVoters: [], learners: [] };
  private options: Partial<PbftOptions> = {};
  private authenticators = new Map<string, Authenticator>();
  private keyring = new SimKeyring(new Prng(7));
  private readonly hosts = new Map<NodeId, PbftHost<string>>();
  private readonly machines = new Map<NodeId, ListMachine>();
  /** Replicas whose checkpoints are encoded only when the scenario says so (node line `checkpoints=held`). */
  private heldCheckpoints = new Set<NodeId>();
  /** Per replica, what it executed at each sequence number; kept across restarts. */
  private readonly executed = new Map<NodeId, Map<number, string>>();
  private readonly clients = new Map<string, BftClient>();
  private readonly results = new Map<string, string[]>();

  /** `authenticators`: who signs and verifies (default: the simulator's keyring); real cryptography in crypto.test.ts. */
  constructor(private readonly makeAuthenticator: ((principal: string) => Authenticator) | null = null) {}

  /** The cluster's mutant, if it is one of the client's (small-read-quorum). */
  private clientMutant: string | undefined;

  configure(spec: ClusterSpec) {
    this.clientMutant = spec.options.get('mutant');
    refuseUnknown(spec.options, ['seed', 'mutant', ...OPTION_NAMES], 'a pbft cluster');
    this.ids = [...spec.ids];
    this.membership = { voters: this.ids, outgoingVoters: [], learners: [] };
    const options: Record<string, unknown> = { ...SCENARIO_DEFAULTS };
    for (const k of OPTION_NAMES) if (spec.options.has(k)) options[k] = intValue(k, spec.options.get(k)!);
    this.options = options as Partial<PbftOptions>;
    this.keyring = new SimKeyring(new Prng(intValue('seed', spec.options.get('seed') ?? '7')));
    this.authenticators = new Map();
    for (const m of [this.hosts, this.machines, this.executed, this.clients, this.results]) m.clear();
    this.heldCheckpoints = new Set();
    for (const [id, no] of spec.nodeOptions) {
      refuseUnknown(no, ['mutant', 'checkpoints'], `node line ${id}`);
      const checkpoints = no.get('checkpoints');
      if (checkpoints !== undefined && checkpoints !== 'held') throw new UsageError(`node line ${id}: checkpoints=held or nothing, not ${checkpoints}`);
      if (checkpoints === 'held') this.heldCheckpoints.add(id);
    }
    return { initial: new Map<NodeId, RestoredState<PbftHardState>>(), monitor: null };
  }

  auth(principal: string): Authenticator {
    let a = this.authenticators.get(principal);
    if (a === undefined) {
      a = this.makeAuthenticator?.(principal) ?? this.keyring.authenticatorFor(principal);
      this.authenticators.set(principal, a);
    }
    return a;
  }

  create(id: NodeId, restored: RestoredState<PbftHardState> | null, o: { mutant: string | undefined }): Replica<PbftMessage, PbftHardState> {
    // A first start has nothing on disk: the replica starts fresh rather than "restoring" nothing.
    const onDisk = restored !== null && (restored.hardState !== null || restored.snapshot !== null || restored.entries.length > 0) ? restored : null;
    const auth = this.auth(id);
    const replica = new PbftReplica({
      ...this.options, id, membership: this.membership, random: new Prng(1), authenticator: auth,
      ...(o.mutant === undefined ? {} : { mutant: o.mutant }),
      ...(onDisk === null ? {} : { restored: onDisk }),
    });
    const sm = this.heldCheckpoints.has(id) ? new HeldListMachine() : new ListMachine();
    const host = new PbftHost<string>(replica, { replica, stateMachine: sm, encodeResult: (r: string) => enc.encode(r), authenticator: auth });
    host.restart(onDisk?.snapshot ?? null);
    this.hosts.set(id, host);
    this.machines.set(id, sm);
    if (!this.executed.has(id)) this.executed.set(id, new Map());
    return replica;
  }

  /** The PBFT driver: PbftHost persists (synced before anything is sent), executes, replies. */
  handleReadys(node: EnvNode<PbftMessage, PbftHardState>, io: DriverIO<PbftMessage>): void {
    const host = this.hosts.get(node.id);
    if (host === undefined || host.replica !== node.replica) throw new Error(`${node.id} has no host`);
    const executed = this.executed.get(node.id)!;
    const replica = node.replica;
    // What the driver does with each Ready (persist, keep a stable checkpoint, install a
    // transferred state, execute); the messages leave once every Ready of this round is durable.
    const out: PbftMessage[] = [];
    const output: ApplyOutput<PbftMessage, string> = { applied: () => {}, configApplied: () => {}, executed: () => {}, send: (m) => out.push(m) };
    while (replica.hasReady()) {
      const rd = replica.ready() as PbftReady;
      const p = rd.persist;
      if (p !== null) {
        if (p.snapshot !== null) io.print(`persist state transfer: checkpoint ${p.snapshot.meta.index}`);
        for (const e of p.entries) io.print(`persist slot: ${this.printer.slot(e)}`);
        if (p.hardState !== null) io.print(`persist hard state: ${this.printer.hardState(p.hardState)}`);
        node.store.write(p);
        node.store.sync();
      }
      const keep = host.snapshotToKeep(rd);
      if (keep !== null) {
        io.print(`stable checkpoint: ${keep.meta.index}`);
        node.store.saveSnapshot(keep);
      }
      if (p?.snapshot != null) {
        const at = host.install(p.snapshot);
        io.print(`state machine restored from checkpoint ${at.index}`);
        io.restoredTo(at.index);
      }
      out.push(...rd.send);
      host.apply(rd, output);
      for (const batch of rd.batches) {
        executed.set(batch.seq, batch.requests.map((r) => dec.decode(r.op)).join(',') || 'null');
        io.applied(batch.seq, `${batch.seq}: ${describeBatch(batch.requests)}`);
      }
      replica.advance(rd);
    }
    for (const m of out) io.send(m, 'send');
  }

  deliverElsewhere(m: PbftMessage): string[] {
    if (m.type !== 'reply') return [`(${m.to} is not a replica; ${m.type} dropped)`];
    const client = this.clients.get(m.to);
    const accepted = client?.onReply(m as PbftReply) ?? null;
    if (accepted === null) return [];
    const result = dec.decode(accepted.result);
    this.results.set(m.to, [...(this.results.get(m.to) ?? []), result]);
    return [`${m.to} accepts ${JSON.stringify(result)}${accepted.readOnly ? ' (read-only)' : ''}`];
  }

  client(name: string): BftClient {
    let c = this.clients.get(name);
    if (c === undefined) {
      c = new BftClient(this.auth(name), this.ids, 0, this.clientMutant);
      this.clients.set(name, c);
    }
    return c;
  }

  batchDigest(batch: readonly ClientRequest[]): string {
    const host = this.hosts.values().next().value;
    if (host === undefined) throw new UsageError('no replica');
    return host.replica.batchDigest(batch);
  }

  newViewBatches(view: number, viewChanges: readonly SignedViewChange[]): readonly { seq: number; digest: string }[] {
    const host = this.hosts.values().next().value;
    if (host === undefined) throw new UsageError('no replica');
    return host.replica.computeNewView(view, viewChanges).batches;
  }

  primaryOf(view: number): NodeId {
    const p = this.ids[view % this.ids.length];
    if (p === undefined) throw new UsageError('no replicas');
    return p;
  }

  signedRequest(client: string, timestamp: number, op: string): ClientRequest {
    return signRequest(this.auth(client), { timestamp, op: enc.encode(op), readOnly: false });
  }

  messageType(m: PbftMessage): string {
    return m.type;
  }

  formatMessage(m: PbftMessage): string {
    return this.printer.message(m);
  }

  formatHardState(h: PbftHardState): string {
    return this.printer.hardState(h);
  }

  formatEntry(e: LogEntry): string {
    return this.printer.slot(e);
  }

  summary(r: Replica<PbftMessage, PbftHardState>): string {
    const s = pbft(r).status();
    switch (s.role) {
      case 'primary':
        return `primary of view ${s.view}`;
      case 'backup':
        return `backup in view ${s.view}`;
      case 'view-change':
        return `changing to view ${s.view}`;
    }
  }

  status(r: Replica<PbftMessage, PbftHardState>): string {
    const s = pbft(r).status();
    // Refused NEW-VIEWs are rare (a lying primary's second): shown only when there are some.
    const refused = s.refusedNewViews > 0 ? ` refused-new-views=${s.refusedNewViews}` : '';
    return `${s.role} view=${s.view} executed=${s.lastExecuted} stable=${s.stableCheckpoint} invalid-authenticators=${s.invalidAuthenticators}${refused} view-changes=${s.viewChanges} state-transfers=${s.stateTransfers}`;
  }

  leaderTerm(r: Replica<PbftMessage, PbftHardState>): number | null {
    const s = pbft(r).status();
    return s.role === 'primary' ? s.view : null;
  }

  readonly commands: Readonly<Record<string, Command<PbftMessage, PbftHardState>>> = {
    /** `request c1 x [read-only] [to-all]`: the client signs and sends (to the primary it knows; to-all: as after a timeout). */
    request: (d, env) => {
      const c = this.client(arg(d, 0, 'a client'));
      const msgs = c.begin(enc.encode(arg(d, 1, 'the operation')), d.args.includes('read-only'));
      for (const m of d.args.includes('to-all') ? [...msgs, ...c.retry()] : msgs) {
        env.network.inject(m);
        env.out.always(`in flight: ${env.fmt(m)}`);
      }
    },

    /** `retry c1`: the client's timer fired: it sends the request to every replica. */
    retry: (d, env) => {
      for (const m of this.client(arg(d, 0, 'a client')).retry()) {
        env.network.inject(m);
        env.out.always(`in flight: ${env.fmt(m)}`);
      }
    },

    /** `accepted c1`: the results the client accepted, in order. */
    accepted: (d, env) => {
      const r = this.results.get(arg(d, 0, 'a client')) ?? [];
      env.out.always(r.length === 0 ? 'nothing' : r.map((x) => JSON.stringify(x)).join('\n'));
    },

    /** `encode-checkpoint n2`: the checkpoint n2 holds (checkpoints=held) is encoded now and handed to its core. */
    'encode-checkpoint': (d, env) => {
      const node = env.node(arg(d, 0, 'a replica'));
      const host = this.hosts.get(node.id);
      if (host === undefined || !this.heldCheckpoints.has(node.id)) throw new UsageError(`${node.id} does not hold its checkpoints (checkpoints=held)`);
      const encoding = host.encodingInFlight();
      if (encoding === null) {
        env.out.always(`${node.id} encodes no checkpoint`);
        return;
      }
      const before = pbft(node.live()).status().stableCheckpoint;
      if (!encoding.step(Number.POSITIVE_INFINITY)) throw new Error('a held checkpoint encoding is whole once stepped');
      env.processReady(node);
      env.out.always(`${node.id}: checkpoint encoded; stable ${before} -> ${pbft(node.live()).status().stableCheckpoint}`);
    },

    /** `executed n3`: what the replica executed at each sequence number (kept across restarts). */
    executed: (d, env) => {
      const e = this.executed.get(env.node(arg(d, 0, 'a replica')).id) ?? new Map<number, string>();
      env.out.always(e.size === 0 ? 'nothing' : [...e].sort((a, b) => a[0] - b[0]).map(([seq, what]) => `${seq}: ${what}`).join('\n'));
    },

    /** `service n3`: the replica's service state (its list of operations). */
    service: (d, env) => {
      const sm = this.machines.get(env.node(arg(d, 0, 'a replica')).id);
      env.out.always(sm === undefined || sm.ops.length === 0 ? 'empty' : sm.ops.join(' '));
    },

    /** `agree n2 n3 n4` (or all): do these replicas agree on what they executed at every sequence number? */
    agree: (d, env) => {
      const nodes = env.pick(d.args, true);
      const first = new Map<number, { what: string; by: NodeId }>();
      const disagreements: string[] = [];
      for (const n of nodes) {
        for (const [seq, what] of this.executed.get(n.id) ?? []) {
          const f = first.get(seq);
          if (f === undefined) first.set(seq, { what, by: n.id });
          else if (f.what !== what) disagreements.push(`n=${seq}: ${f.by} executed ${f.what}, ${n.id} executed ${what}`);
        }
      }
      env.out.always(disagreements.length === 0 ? `agree: ${nodes.map((n) => n.id).join(' ')}` : disagreements.join('\n'));
    },

    ...byzantineCommands(this),
  };
}

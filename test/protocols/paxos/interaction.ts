/**
 * Multi-Paxos in the interaction environment: replicas from a `cluster` line (flexible quorum
 * sizes among the options), messages in the papers' words (prepare/promise, accept/accepted,
 * ballots as (counter,node)), and Paxos's own monitor watching every message, as the simulator
 * does (one value per ballot and slot, a chosen value never replaced, acceptances durable).
 */
import { nodeId, type Index, type NodeId } from '../../../src/core/ids.js';
import { Prng } from '../../../src/core/prng.js';
import type { LogEntry, Membership, Replica, RestoredState } from '../../../src/core/replica.js';
import { snapshotDigest } from '../../../src/protocols/paxos/digest.js';
import {
  DEFAULT_PAXOS_LIMITS, describeBallot, PaxosConfig, type Ballot, MultiPaxosReplica, PaxosMonitor, type MultiPaxosOptions, type PaxosConfigChange, type PaxosHardState, type PaxosMessage, type Slot,
} from '../../../src/protocols/paxos/index.js';
import type { Adapter, ClusterSpec, Command } from '../interaction/adapter.js';
import { boolValue, intValue, jointChangeOptions, listValue, refuseUnknown } from '../interaction/option-values.js';
import { arg } from '../interaction/commands.js';
import type { Directive } from '../interaction/datadriven.js';
import { UsageError } from '../interaction/environment.js';

const dec = new TextDecoder();
const enc = new TextEncoder();

const LIMIT_NAMES = Object.keys(DEFAULT_PAXOS_LIMITS);
const CLUSTER_OPTIONS = ['seed', 'mutant', 'spares', 'phase1QuorumSize', 'phase2QuorumSize', ...LIMIT_NAMES];

/** Scenarios run with a heartbeat every tick (the default is every other), so catch-up is quick to read. */
const SCENARIO_DEFAULTS: Partial<MultiPaxosOptions> = { electionTimeoutTicks: 10, heartbeatIntervalTicks: 1 };

function paxos(r: Replica<PaxosMessage, PaxosHardState>): MultiPaxosReplica {
  if (!(r instanceof MultiPaxosReplica)) throw new Error('not a MultiPaxosReplica');
  return r;
}

function value(e: LogEntry): string {
  if (e.kind === 'config') {
    const c = JSON.parse(dec.decode(e.data)) as { kind: string; node?: string; voters?: string[]; learners?: string[]; autoLeave?: boolean };
    const what = c.kind === 'joint' ? `joint voters=(${(c.voters ?? []).join(',')}) learners=(${(c.learners ?? []).join(',')})${c.autoLeave === false ? ' autoLeave=false' : ''}` : c.node === undefined ? c.kind : `${c.kind} ${c.node}`;
    return `config(${what})`;
  }
  return e.kind === 'command' ? JSON.stringify(dec.decode(e.data)) : e.kind;
}

/** A configuration as `voters=(..) [outgoing=(..)] [learners=(..)] [learnersNext=(..)] [autoLeave=false] ranks=(n1:1,..) next=N`. */
function formatMembership(m: Membership, ranks: ReadonlyMap<NodeId, number>, nextRank: number): string {
  const list = (xs: readonly string[]): string => `(${xs.join(',')})`;
  return `voters=${list(m.voters)}${m.outgoingVoters.length > 0 ? ` outgoing=${list(m.outgoingVoters)}` : ''}${m.learners.length > 0 ? ` learners=${list(m.learners)}` : ''}` +
    `${(m.learnersNext ?? []).length > 0 ? ` learnersNext=${list(m.learnersNext ?? [])}` : ''}${m.autoLeave === false ? ' autoLeave=false' : ''}` +
    ` ranks=(${[...ranks].map(([id, r]) => `${id}:${r}`).join(',')}) next=${nextRank}`;
}

/** `3 "x" (1,1)`: slot, value, and the ballot that proposed it (the value's identity). */
export function formatEntry(e: LogEntry): string {
  return `${e.index} ${value(e)} ${describeBallot(e.term)}`;
}

/** What an acceptor holds: the value and the ballot it accepted it in. */
function formatAccepted(e: LogEntry): string {
  return `${formatEntry(e)} accepted in ${describeBallot(e.acceptedBallot ?? e.term)}`;
}

export function formatMessage(m: PaxosMessage): string {
  const head = `${m.from}->${m.to} ${m.type} ballot=${describeBallot(m.ballot)}`;
  switch (m.type) {
    case 'pre-prepare':
      return head;
    case 'pre-promise':
      return `${head} ${m.granted ? 'granted' : 'refused'} promised=${describeBallot(m.promised)}`;
    case 'prepare':
      return `${head} from-slot=${m.fromSlot}${m.transfer === true ? ' transfer' : ''}`;
    case 'timeout-now':
      return `${head}${m.through === undefined ? '' : ` through=${m.through}`}`;
    case 'promise':
      return `${head} slots=${m.fromSlot}..${m.throughSlot}${m.more ? ' more' : ''} chosen-through=${m.chosenThrough} accepted=[${m.accepted.map(formatAccepted).join(', ')}]${m.snapshot === null ? '' : ` snapshot=${m.snapshot.meta.index}`}`;
    case 'nack':
      return `${head} promised=${describeBallot(m.promised)}${m.compactedThrough > 0 ? ` compacted-through=${m.compactedThrough}` : ''}${m.leader === undefined ? '' : ` lease-of=${m.leader}`}`;
    case 'accept':
      return `${head} commit=${m.commit} entries=[${m.entries.map(formatEntry).join(', ')}]${m.readRound > 0 ? ` read=${m.readRound}` : ''}`;
    case 'accepted':
      return `${head} slots=[${m.slots.join(',')}] match=${m.match}${m.readRound > 0 ? ` read=${m.readRound}` : ''}`;
    case 'install-snapshot':
      return `${head} snapshot=${m.meta.index} bytes=${m.offset}..${m.offset + m.chunk.byteLength}${m.done ? ' done' : ''} commit=${m.commit}`;
    case 'snapshot-ack':
      return `${head} snapshot=${m.index} received=${m.received}${m.done ? ' done' : ''}${m.gap === true ? ' gap' : ''}`;
    case 'snapshot-pull':
      return `${head} snapshot=${m.index} from-byte=${m.offset} window=${m.bytes}`;
    case 'snapshot-piece':
      return `${head} snapshot=${m.meta.index} bytes=${m.offset}..${m.offset + m.chunk.byteLength}${m.done ? ' done' : ''}`;
    case 'read-index':
      return `${head} id=${m.requestId}`;
    case 'read-index-response':
      return `${head} id=${m.requestId} index=${m.index}`;
  }
}

/**
 * A message a scenario writes by hand (a stale or duplicated one, or one of a leader whose election
 * the scenario does not show): `inject snapshot-ack from=n3 to=n1 ballot=1025 index=11 received=150`,
 * or a chunk of another leader's snapshot: `inject install-snapshot from=n2 to=n3 ballot=2050
 * snapshot-of=n2 encoding=spaced offset=200 bytes=200` (the snapshot node n2 holds, encoded as
 * `encoding` says: `same`, or `spaced`, the same state written with JSON's indentation, as a member
 * whose encoding differs would; its digest, unless `digest=` names another).
 */
function parseMessage(d: Directive, replicas: ReadonlyMap<string, MultiPaxosReplica>): PaxosMessage {
  const type = arg(d, 0, 'a message type');
  const o = d.options;
  const from = o.get('from');
  const to = o.get('to');
  if (from === undefined || to === undefined) throw new UsageError('inject needs from= and to=');
  const ballot = intValue('ballot', o.get('ballot') ?? '') as Ballot;
  if (type === 'install-snapshot') {
    refuseUnknown(o, ['from', 'to', 'ballot', 'snapshot-of', 'encoding', 'offset', 'bytes', 'commit', 'digest'], type);
    const holder = replicas.get(o.get('snapshot-of') ?? '');
    const snap = holder?.heldSnapshot() ?? null;
    if (snap === null) throw new UsageError('inject install-snapshot needs snapshot-of= a node that holds a snapshot');
    const encoding = o.get('encoding') ?? 'same';
    if (encoding !== 'same' && encoding !== 'spaced') throw new UsageError(`encoding is same or spaced, not '${encoding}'`);
    const data = encoding === 'same' ? snap.data : enc.encode(JSON.stringify(JSON.parse(dec.decode(snap.data)), null, 1));
    const offset = intValue('offset', o.get('offset') ?? '0');
    const end = Math.min(data.byteLength, offset + intValue('bytes', o.get('bytes') ?? String(data.byteLength)));
    return {
      type, from: from as NodeId, to: to as NodeId, ballot, meta: snap.meta, offset, chunk: data.subarray(offset, end),
      done: end === data.byteLength, commit: intValue('commit', o.get('commit') ?? '0') as Slot, digest: o.get('digest') ?? snapshotDigest(data),
    };
  }
  if (type !== 'snapshot-ack') throw new UsageError(`inject knows snapshot-ack and install-snapshot, not '${type}'`);
  refuseUnknown(o, ['from', 'to', 'ballot', 'index', 'received', 'done'], type);
  return {
    type, from: from as NodeId, to: to as NodeId, ballot,
    index: intValue('index', o.get('index') ?? '') as Slot, received: intValue('received', o.get('received') ?? ''), done: o.get('done') === 'true',
  };
}

export class MultiPaxosAdapter implements Adapter<PaxosMessage, PaxosHardState> {
  /** The scenario's state machine persists itself through what it applied (as the simulator's does). */
  readonly stateMachineSurvivesRestart = true;
  /** The replicas created last, by id (an injected chunk carries a node's snapshot). */
  private readonly replicas = new Map<string, MultiPaxosReplica>();
  parseMessage = (d: Directive): PaxosMessage => parseMessage(d, this.replicas);
  private random = new Prng(1);
  private membership: Membership = { voters: [], outgoingVoters: [], learners: [] };
  /** Nodes started by `join`: the configuration they were told (as the server's join answer tells a joining member). */
  private readonly told = new Map<NodeId, Membership>();
  private options: Partial<MultiPaxosOptions> = {};
  /** Status lines show each node's configuration (clusters with spares, which membership scenarios use). */
  private showMembership = false;

  readonly commands: Readonly<Record<string, Command<PaxosMessage, PaxosHardState>>> = {
    /** `propose-conf-change n1 add-voter|add-learner|remove n4`, `... joint voters=(..) learners=(..) [autoLeave=false]`, `... leave-joint`. */
    'propose-conf-change': (d, env) => {
      const n = env.node(arg(d, 0, 'a node'));
      const kind = arg(d, 1, 'the change');
      let change: PaxosConfigChange;
      if (kind === 'add-voter' || kind === 'add-learner' || kind === 'remove') change = { kind, node: nodeId(arg(d, 2, 'the node')) }; // (a node to `join` later need not exist yet)
      else if (kind === 'joint') change = { kind, ...jointChangeOptions(d.options) };
      else if (kind === 'leave-joint') change = { kind };
      else throw new UsageError(`unknown change '${kind}': add-voter, add-learner, remove, joint or leave-joint`);
      const res = paxos(n.live()).proposeConfigChange(change);
      env.out.always(`ok: index ${res.index} ballot ${describeBallot(res.term)}`);
      env.observe(n);
    },
    /** `transfer-leadership n1 n2`. */
    'transfer-leadership': (d, env) => {
      const n = env.node(arg(d, 0, 'the leader'));
      paxos(n.live()).transferLeadership(env.node(arg(d, 1, 'the target')).id);
      env.observe(n);
    },
    /**
     * `join n6 from=n1 [mutant=M]`: a node with an empty disk started with the configuration n1 shows (its
     * applied one, ranks included), as a member joins the server (`--initial-cluster-state
     * existing`: the join answer).
     */
    join: (d, env) => {
      refuseUnknown(d.options, ['from', 'mutant'], 'join');
      const from = env.node(d.options.get('from') ?? '');
      const id = nodeId(arg(d, 0, 'the joining node'));
      const s = paxos(from.live()).status();
      this.told.set(id, { ...s.membership, since: s.appliedIndex });
      env.addNode(id, undefined, d.options.get('mutant'));
      env.out.always(`${id}: ${formatMembership(s.membership, PaxosConfig.from(s.membership).ranks, PaxosConfig.from(s.membership).nextRank)}`);
    },
    /** `config n1 [n2 ...]`: the configuration each node shows (at its applied slot), with the ballot ranks. */
    config: (d, env) => {
      for (const name of d.args) {
        const m = paxos(env.node(name).live()).status().membership;
        const c = PaxosConfig.from(m);
        env.out.always(`${name}: ${formatMembership(m, c.ranks, c.nextRank)}`);
      }
    },
  };

  configure(spec: ClusterSpec) {
    refuseUnknown(spec.options, CLUSTER_OPTIONS, 'a multi-paxos cluster');
    const o = spec.options;
    this.random = new Prng(intValue('seed', o.get('seed') ?? '1'));
    this.told.clear();
    const spares = new Set(listValue(o.get('spares')));
    this.showMembership = spares.size > 0;
    this.membership = { voters: spec.ids.filter((id) => !spares.has(id)), outgoingVoters: [], learners: [] };
    const options: Record<string, unknown> = { ...SCENARIO_DEFAULTS };
    for (const k of ['phase1QuorumSize', 'phase2QuorumSize', ...LIMIT_NAMES]) {
      if (o.has(k)) options[k] = typeof DEFAULT_PAXOS_LIMITS[k as keyof typeof DEFAULT_PAXOS_LIMITS] === 'boolean' ? boolValue(k, o.get(k)!) : intValue(k, o.get(k)!);
    }
    this.options = options as Partial<MultiPaxosOptions>;
    for (const [id, no] of spec.nodeOptions) refuseUnknown(no, ['mutant'], `node line ${id}`);
    return {
      initial: new Map<NodeId, RestoredState<PaxosHardState>>(),
      monitor: new PaxosMonitor({ membership: this.membership, protocolOptions: options }),
    };
  }

  create(id: NodeId, restored: RestoredState<PaxosHardState> | null, o: { applied: number; mutant: string | undefined }): Replica<PaxosMessage, PaxosHardState> {
    const r = new MultiPaxosReplica({
      ...this.options,
      ...(o.mutant === undefined ? {} : { mutant: o.mutant }),
      id,
      membership: this.told.get(id) ?? this.membership,
      random: this.random.fork(),
      ...(restored === null ? {} : { restored }),
      applied: o.applied as Index,
    });
    this.replicas.set(id, r);
    return r;
  }

  messageType(m: PaxosMessage): string {
    return m.type;
  }

  formatMessage = formatMessage;
  formatEntry = formatEntry;
  formatStoredEntry = formatAccepted;

  formatTerm(term: number): string {
    return describeBallot(term as Ballot);
  }

  formatHardState(h: PaxosHardState): string {
    return `promised=${describeBallot(h.promised)}${h.chosen === undefined ? '' : ` chosen=${h.chosen}`}`;
  }

  summary(r: Replica<PaxosMessage, PaxosHardState>): string {
    const s = paxos(r).status();
    switch (s.role) {
      case 'leader':
        return `leader of ballot ${describeBallot(s.promised)}`;
      case 'pre-candidate':
        return `pre-candidate (asking, promised ${describeBallot(s.promised)})`;
      case 'candidate':
        return `candidate (phase 1, promised ${describeBallot(s.promised)})`;
      case 'follower':
        return `follower (promised ${describeBallot(s.promised)}, ${s.leader === null ? 'no leader' : `leader ${s.leader}`})`;
    }
  }

  status(r: Replica<PaxosMessage, PaxosHardState>): string {
    const x = paxos(r);
    const s = x.status();
    const snapshot = x.compactedThrough() > 0 ? ` snapshot=${x.compactedThrough()}` : '';
    const inc = x.receivingSnapshot();
    const receiving = inc === null ? '' : ` receiving=${inc.index}:${inc.received}${inc.aheadBytes > 0 ? `+${inc.aheadBytes}` : ''}`;
    const m = s.membership;
    const membership = this.showMembership
      ? ` voters=(${m.voters.join(',')})${m.outgoingVoters.length > 0 ? ` outgoing=(${m.outgoingVoters.join(',')})` : ''}${m.learners.length > 0 ? ` learners=(${m.learners.join(',')})` : ''}${(m.learnersNext ?? []).length > 0 ? ` learnersNext=(${(m.learnersNext ?? []).join(',')})` : ''}`
      : '';
    return `${s.role} promised=${describeBallot(s.promised)} leader=${s.leader ?? 'none'} commit=${s.commitIndex} applied=${s.appliedIndex} last=${s.lastSlot}${snapshot}${receiving} quorums=${s.quorums.phase1}/${s.quorums.phase2}${membership}`;
  }

  leaderTerm(r: Replica<PaxosMessage, PaxosHardState>): number | null {
    const s = paxos(r).status();
    return s.role === 'leader' ? s.promised : null;
  }

  /** Phase 1 now: the node's election timer runs out (it ticks until it is a candidate). */
  campaign(r: Replica<PaxosMessage, PaxosHardState>): void {
    for (let i = 0; i < 1000 && paxos(r).status().role === 'follower'; i++) r.tick();
  }
}

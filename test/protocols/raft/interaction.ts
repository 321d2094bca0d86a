/**
 * Raft in the interaction environment: building replicas from a `cluster` line, how Raft's
 * messages and entries read, Raft's own commands (membership changes, leadership transfer,
 * the election timer, message rules of the paper's figures) and Raft's own checks (log
 * matching; a vote is durable before it leaves).
 */
import { nodeId, type Index, type NodeId, type Term } from '../../../src/core/ids.js';
import { Prng } from '../../../src/core/prng.js';
import { toldMembership, type LogEntry, type Membership, type Ready, type Replica, type RestoredState } from '../../../src/core/replica.js';
import {
  decodeConfigChange, DEFAULT_RAFT_LIMITS, RaftReplica, type ConfigChange, type RaftHardState, type RaftMessage, type RaftOptions,
} from '../../../src/protocols/raft/index.js';
import { routeProposal } from '../../../src/driver/leader-proposals.js';
import type { Adapter, ClusterSpec, Command } from '../interaction/adapter.js';
import { arg } from '../interaction/commands.js';
import type { Directive } from '../interaction/datadriven.js';
import { UsageError } from '../interaction/environment.js';
import { messageFilter } from '../interaction/network.js';
import { boolValue, indexTerm, intValue, jointChangeOptions, listValue, refuseUnknown } from '../interaction/option-values.js';

type Env = Parameters<Command<RaftMessage, RaftHardState>>[1];

const enc = new TextEncoder();
const dec = new TextDecoder();

const LIMIT_NAMES = Object.keys(DEFAULT_RAFT_LIMITS);
const CLUSTER_OPTIONS = ['seed', 'mutant', 'learners', 'spares', 'preVote', 'checkQuorum', 'readOnly', 'disableProposalForwarding', ...LIMIT_NAMES];

function raft(r: Replica<RaftMessage, RaftHardState>): RaftReplica {
  if (!(r instanceof RaftReplica)) throw new Error('not a RaftReplica');
  return r;
}

export function describeConfigChange(c: ConfigChange): string {
  switch (c.kind) {
    case 'add-voter':
    case 'add-learner':
    case 'remove':
      return `${c.kind} ${c.node}`;
    case 'joint':
      return `joint voters=(${c.voters.join(',')}) learners=(${c.learners.join(',')})${c.autoLeave === false ? ' autoLeave=false' : ''}`;
    case 'leave-joint':
      return 'leave-joint';
  }
}

/** `4/2 "x"`, `5/2 noop`, `6/2 config add-voter n4`. */
export function formatEntry(e: LogEntry): string {
  const what = e.kind === 'command' ? JSON.stringify(dec.decode(e.data)) : e.kind === 'noop' ? 'noop' : `config ${describeConfigChange(decodeConfigChange(e.data))}`;
  return `${e.index}/${e.term} ${what}`;
}

function formatEntries(entries: readonly LogEntry[]): string {
  return `[${entries.map(formatEntry).join(', ')}]`;
}

export function formatMessage(m: RaftMessage): string {
  const head = `${m.from}->${m.to}`;
  switch (m.type) {
    case 'vote-request':
      return `${head} ${m.preVote ? 'pre-vote-request' : 'vote-request'} term=${m.term} last=${m.lastLogIndex}/${m.lastLogTerm}${m.transfer ? ' transfer' : ''}`;
    case 'vote-response':
      return `${head} ${m.preVote ? 'pre-vote-response' : 'vote-response'} term=${m.term} ${m.granted ? 'granted' : 'rejected'}`;
    case 'append':
      return `${head} append term=${m.term} prev=${m.prevLogIndex}/${m.prevLogTerm} commit=${m.commit} entries=${formatEntries(m.entries)}`;
    case 'append-response':
      return m.success
        ? `${head} append-response term=${m.term} match=${m.matchIndex}`
        : `${head} append-reject term=${m.term} prev=${m.rejectedIndex} hint=${m.conflictIndex}/${m.conflictTerm}`;
    case 'heartbeat':
      return `${head} heartbeat term=${m.term} commit=${m.commit}${m.readSeq > 0 ? ` read=${m.readSeq}` : ''}`;
    case 'heartbeat-response':
      return `${head} heartbeat-response term=${m.term}${m.readSeq > 0 ? ` read=${m.readSeq}` : ''}`;
    case 'snapshot':
      return `${head} snapshot term=${m.term} index=${m.meta.index}/${m.meta.term} offset=${m.offset} bytes=${m.chunk.byteLength}${m.done ? ' done' : ''}`;
    case 'snapshot-response':
      return `${head} snapshot-response term=${m.term} index=${m.snapshotIndex} received=${m.received}${m.done ? ' done' : ''}${m.gap === true ? ' gap' : ''}`;
    case 'timeout-now':
      return `${head} timeout-now term=${m.term}`;
    case 'read-index':
      return `${head} read-index term=${m.term} id=${m.requestId}`;
    case 'read-index-response':
      return `${head} read-index-response term=${m.term} id=${m.requestId} index=${m.index}`;
  }
}

function members(m: Membership): string {
  const parts = [`voters=(${m.voters.join(',')})`];
  if (m.outgoingVoters.length > 0) parts.push(`outgoing=(${m.outgoingVoters.join(',')})`);
  if (m.learners.length > 0) parts.push(`learners=(${m.learners.join(',')})`);
  if (m.learnersNext !== undefined && m.learnersNext.length > 0) parts.push(`learnersNext=(${m.learnersNext.join(',')})`);
  if (m.autoLeave === false) parts.push('autoLeave=false');
  // The index the configuration holds at, when above the one it is shown with (Membership.since).
  if (m.since !== undefined) parts.push(`since=${m.since}`);
  return parts.join(' ');
}

/** A message a scenario writes by hand: `inject append from=n3 to=n2 term=1 prev=0/0 commit=0`. */
function parseMessage(d: Directive): RaftMessage {
  const type = arg(d, 0, 'a message type');
  const o = d.options;
  const common = { from: nodeId(o.get('from') ?? ''), to: nodeId(o.get('to') ?? ''), term: intValue('term', o.get('term') ?? '') as Term };
  if (common.from === '' || common.to === '') throw new UsageError('inject needs from= and to=');
  switch (type) {
    case 'vote-request':
    case 'pre-vote-request': {
      refuseUnknown(o, ['from', 'to', 'term', 'last'], type);
      const [i, t] = indexTerm('last', o.get('last'));
      return { type: 'vote-request', ...common, lastLogIndex: i as Index, lastLogTerm: t as Term, preVote: type === 'pre-vote-request', transfer: d.args.includes('transfer') };
    }
    case 'append': {
      refuseUnknown(o, ['from', 'to', 'term', 'prev', 'commit'], type);
      const [i, t] = indexTerm('prev', o.get('prev'));
      return { type: 'append', ...common, prevLogIndex: i as Index, prevLogTerm: t as Term, entries: [], commit: intValue('commit', o.get('commit') ?? '0') as Index };
    }
    default:
      throw new UsageError(`inject knows vote-request, pre-vote-request and append, not '${type}'`);
  }
}

/** Log matching (§5.3): two logs holding an entry with the same index and term are identical up to it. */
function logMatching(replicas: ReadonlyMap<NodeId, Replica<RaftMessage, RaftHardState>>): [string, string][] {
  const rs = [...replicas.values()].map(raft);
  const out: [string, string][] = [];
  for (let a = 0; a < rs.length; a++) {
    for (let b = a + 1; b < rs.length; b++) {
      const x = rs[a]!;
      const y = rs[b]!;
      const lo = Math.max(x.firstIndex(), y.firstIndex());
      let agree = Math.min(x.lastIndex(), y.lastIndex());
      while (agree >= lo && x.termAt(agree as Index) !== y.termAt(agree as Index)) agree--;
      for (let i = lo; i <= agree; i++) {
        const ex = x.entryAt(i as Index);
        const ey = y.entryAt(i as Index);
        if (ex === undefined || ey === undefined) continue;
        if (formatEntry(ex) !== formatEntry(ey)) {
          out.push(['log matching', `${x.id} and ${y.id} agree at ${agree}/${x.termAt(agree as Index)} but hold ${formatEntry(ex)} and ${formatEntry(ey)}`]);
          break;
        }
      }
    }
  }
  return out;
}

export class RaftAdapter implements Adapter<RaftMessage, RaftHardState> {
  readonly stateMachineSurvivesRestart = false;
  private random = new Prng(1);
  private membership: Membership = { voters: [], outgoingVoters: [], learners: [] };
  /** Nodes started by `join`: the configuration they were told (as the server's join answer tells a joining member). */
  private readonly told = new Map<NodeId, Membership>();
  private options: Partial<RaftOptions> = {};
  /** What each node's disk says it voted (term, vote): a granted vote must be there before it leaves. */
  private readonly durableVote = new Map<NodeId, { term: number; vote: NodeId | null }>();

  configure(spec: ClusterSpec) {
    refuseUnknown(spec.options, CLUSTER_OPTIONS, 'a raft cluster');
    const o = spec.options;
    const learners = new Set(listValue(o.get('learners')));
    const spares = new Set(listValue(o.get('spares')));
    this.random = new Prng(intValue('seed', o.get('seed') ?? '1'));
    this.membership = {
      voters: spec.ids.filter((id) => !learners.has(id) && !spares.has(id)),
      outgoingVoters: [],
      learners: spec.ids.filter((id) => learners.has(id)),
    };
    const options: Record<string, unknown> = {};
    for (const k of ['preVote', 'checkQuorum', 'disableProposalForwarding']) if (o.has(k)) options[k] = boolValue(k, o.get(k)!);
    if (o.has('readOnly')) options['readOnly'] = o.get('readOnly');
    for (const k of LIMIT_NAMES) if (o.has(k)) options[k] = intValue(k, o.get(k)!);
    this.options = options as Partial<RaftOptions>;
    this.durableVote.clear();
    this.told.clear();
    // Initial logs (the paper's figures): entries of the given terms, data "t{term}i{index}".
    const initial = new Map<NodeId, RestoredState<RaftHardState>>();
    for (const [id, no] of spec.nodeOptions) {
      refuseUnknown(no, ['log', 'term', 'mutant'], `node line ${id}`);
      const terms = listValue(no.get('log')).map((t) => intValue('log', t));
      const entries: LogEntry[] = terms.map((t, i) => ({ index: (i + 1) as Index, term: t as Term, kind: 'command', data: enc.encode(`t${t}i${i + 1}`) }));
      const term = no.has('term') ? intValue('term', no.get('term')!) : Math.max(0, ...terms);
      initial.set(id, { hardState: { term: term as Term, vote: null, commit: 0 as Index }, snapshot: null, entries });
    }
    return { initial, monitor: null };
  }

  create(id: NodeId, restored: RestoredState<RaftHardState> | null, o: { applied: number; mutant: string | undefined }): Replica<RaftMessage, RaftHardState> {
    const hs = restored?.hardState ?? null;
    this.durableVote.set(id, { term: hs?.term ?? 0, vote: hs?.vote ?? null });
    return new RaftReplica({
      ...this.options,
      ...(o.mutant === undefined ? {} : { mutant: o.mutant }),
      id,
      // A node added later knows the cluster's configuration, which does not include it yet; one
      // that joined, the configuration it was told.
      membership: this.told.get(id) ?? this.membership,
      random: this.random.fork(),
      ...(restored === null ? {} : { restored }),
      applied: o.applied as Index,
    });
  }

  /** The word a message is printed with (and filtered by): pre-votes and rejected appends have their own. */
  messageType(m: RaftMessage): string {
    if (m.type === 'vote-request' && m.preVote) return 'pre-vote-request';
    if (m.type === 'vote-response' && m.preVote) return 'pre-vote-response';
    if (m.type === 'append-response' && !m.success) return 'append-reject';
    return m.type;
  }

  formatMessage = formatMessage;
  formatEntry = formatEntry;

  formatHardState(h: RaftHardState): string {
    return `term=${h.term} vote=${h.vote ?? 'none'} commit=${h.commit}`;
  }

  summary(r: Replica<RaftMessage, RaftHardState>): string {
    const s = raft(r).status();
    if (s.role === 'follower') return `follower at term ${s.term} (${s.leader === null ? 'no leader' : `leader ${s.leader}`})`;
    return `${s.role} at term ${s.term}`;
  }

  status(r: Replica<RaftMessage, RaftHardState>): string {
    const s = raft(r).status();
    const log = s.lastIndex >= s.firstIndex ? `log=${s.firstIndex}..${s.lastIndex}` : `log=empty(last ${s.lastIndex})`;
    const parts = [`${s.role} term=${s.term} vote=${s.vote ?? 'none'} leader=${s.leader ?? 'none'} commit=${s.commitIndex} applied=${s.appliedIndex} ${log}`, members(s.membership)];
    if (s.leadTransferee !== null) parts.push(`transferring-to=${s.leadTransferee}`);
    return parts.join(' ');
  }

  leaderTerm(r: Replica<RaftMessage, RaftHardState>): number | null {
    const s = raft(r).status();
    return s.role === 'leader' ? s.term : null;
  }

  campaign(r: Replica<RaftMessage, RaftHardState>): void {
    raft(r).campaign();
  }

  /** `log n1` (one entry a line), `log n1 terms` (the terms in a row, as the paper draws logs). */
  log(r: Replica<RaftMessage, RaftHardState>, flags: readonly string[]): string[] {
    const x = raft(r);
    const entries: LogEntry[] = [];
    for (let i = x.firstIndex(); i <= x.lastIndex(); i++) entries.push(x.entryAt(i as Index)!);
    const head = x.firstIndex() > 1 ? [`(snapshot through ${x.firstIndex() - 1}/${x.termAt((x.firstIndex() - 1) as Index)})`] : [];
    if (flags.includes('terms')) return [...head, `terms: ${entries.map((e) => e.term).join(' ') || '(empty)'}`];
    return [...head, ...(entries.length === 0 ? ['empty'] : entries.map(formatEntry))];
  }

  parseMessage = parseMessage;

  /**
   * A vote is durable before it is sent (§5.2 and Figure 2: votedFor is persistent): every
   * vote request and granted vote in a Ready waits for its persist, and after that persist the
   * disk names the vote's term and candidate.
   */
  checkReady(r: Replica<RaftMessage, RaftHardState>, rd: Ready<RaftMessage, RaftHardState>): [string, string][] {
    const out: [string, string][] = [];
    const hs = rd.persist?.hardState;
    if (hs != null) this.durableVote.set(r.id, { term: hs.term, vote: hs.vote });
    // (Pre-votes and refusals promise nothing, so they need not wait.)
    for (const m of rd.sendBeforePersist) {
      if ((m.type === 'vote-request' && !m.preVote) || (m.type === 'vote-response' && m.granted && !m.preVote)) {
        out.push(['votes wait for their persist', `${r.id} sends ${formatMessage(m)} before its Ready is durable`]);
      }
    }
    const disk = this.durableVote.get(r.id);
    const early = new Map<string, NodeId[]>();
    for (const m of rd.send) {
      const votedFor = m.type === 'vote-response' && m.granted && !m.preVote ? m.to : m.type === 'vote-request' && !m.preVote ? r.id : null;
      if (votedFor === null || (disk?.term === m.term && disk.vote === votedFor)) continue;
      const what = `${m.type === 'vote-request' ? 'vote-request' : 'granted vote-response'} term=${m.term}`;
      early.set(what, [...(early.get(what) ?? []), m.to]);
    }
    for (const [what, to] of early) {
      out.push(['a vote is durable before it is sent', `${r.id} sent ${what} to ${to.join(',')} while its disk says term=${disk?.term ?? 0} vote=${disk?.vote ?? 'none'}`]);
    }
    return out;
  }

  checkCluster = logMatching;

  readonly commands: Readonly<Record<string, Command<RaftMessage, RaftHardState>>> = {
    /**
     * `join n6 from=n1 [mutant=M]`: a node with an empty disk started with the configuration n1
     * shows, with `since` its applied index, as a member joins the server (`--initial-cluster-state
     * existing`: the join answer).
     */
    join: (d, env) => {
      refuseUnknown(d.options, ['from', 'mutant'], 'join');
      const from = env.node(d.options.get('from') ?? '');
      const id = nodeId(arg(d, 0, 'the joining node'));
      const told = toldMembership(raft(from.live()).status());
      this.told.set(id, told);
      env.addNode(id, undefined, d.options.get('mutant'));
      env.out.always(`${id}: ${members(told)}`);
    },
    /** `propose-conf-change n1 add-voter n4`, `... remove n4`, `... joint voters=(n1,n4,n5) learners=()`. */
    'propose-conf-change': (d, env) => {
      const n = env.node(arg(d, 0, 'a node'));
      const kind = arg(d, 1, 'the change');
      let change: ConfigChange;
      if (kind === 'add-voter' || kind === 'add-learner' || kind === 'remove') change = { kind, node: nodeId(arg(d, 2, 'the node')) }; // (a node to `join` later need not exist yet)
      else if (kind === 'joint') change = { kind, ...jointChangeOptions(d.options) };
      else if (kind === 'leave-joint') change = { kind };
      else throw new UsageError(`unknown change '${kind}': add-voter, add-learner, remove, joint or leave-joint`);
      const res = raft(n.live()).proposeConfigChange(change);
      env.out.always(`ok: index ${res.index} term ${res.term}`);
    },

    /**
     * `client-propose n2 x`: a client's command at n2, routed as the driver routes it
     * (routeProposal): appended at n2 if it leads; forwarded to the leader it knows (and appended
     * there) unless its core says not to (disableProposalForwarding); otherwise NotLeader.
     */
    'client-propose': (d, env) => {
      const n = env.node(arg(d, 0, 'a node'));
      const r = raft(n.live());
      const data = enc.encode(arg(d, 1, 'a command'));
      const route = routeProposal(r.status(), r.forwardsProposals());
      if (route.kind === 'refuse') throw route.error;
      const at = route.kind === 'here' ? n : env.node(route.leader);
      const res = raft(at.live()).propose(data);
      env.out.always(`${route.kind === 'forward' ? `forwarded to ${at.id}: ` : ''}ok: index ${res.index} term ${res.term}`);
    },

    'transfer-leadership': (d, env) => {
      const n = env.node(arg(d, 0, 'the leader'));
      raft(n.live()).transferLeadership(env.node(arg(d, 1, 'the target')).id);
      env.observe(n);
    },

    /** `timer n2`: the election timer (ticks since it was last reset, and its randomized timeout). */
    timer: (d, env) => {
      const t = raft(env.node(arg(d, 0, 'a node')).live()).electionTimer();
      env.out.always(`elapsed=${t.elapsed} timeout=${t.timeout}`);
    },

    /** `counters n1`: the core's counters (snapshot bytes sent against the sizes of the transfers). */
    counters: (d, env) => {
      const c = raft(env.node(arg(d, 0, 'a node')).live()).status().counters ?? {};
      env.out.always(Object.entries(c).map(([k, v]) => `${k}=${v}`).join(' ') || 'none');
    },

    /** `progress n1`: the leader's view of each follower. */
    progress: (d, env) => {
      const s = raft(env.node(arg(d, 0, 'a node')).live()).status();
      if (s.progress.size === 0) env.out.always('none (not the leader)');
      for (const [id, p] of [...s.progress].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
        env.out.always(`${id}: ${p.state} match=${p.match} next=${p.next} inflight=${p.inflight}${p.isLearner ? ' learner' : ''}`);
      }
    },

    /**
     * `strip-entries [from=] [to=] term>=N | index>N`: appends matching the filter lose those
     * entries on the wire (Figure 8: a leader's entries of its own term reach nobody).
     */
    'strip-entries': (d, env) => stripEntries(d, env),
  };
}

function stripEntries(d: Directive, env: Env): void {
  const f = messageFilter(d.options);
  const cond = d.args.find((a) => /^(term>=|index>)\d+$/.test(a));
  if (cond === undefined) throw new UsageError('strip-entries needs term>=N or index>N');
  const n = Number(cond.replace(/^\D+/, ''));
  const drop = cond.startsWith('term') ? (e: LogEntry) => e.term >= n : (e: LogEntry) => e.index > n;
  const name = `strip-entries ${[...d.options].map(([k, v]) => `${k}=${v}`).join(' ')} ${cond}`.replace('  ', ' ');
  env.network.addRule({
    name,
    apply: (m) => (m.type === 'append' && env.network.matches(f, m) && m.entries.some(drop) ? { ...m, entries: m.entries.filter((e) => !drop(e)) } : m),
  });
  env.out.always(`ok: rule '${name}'`);
}

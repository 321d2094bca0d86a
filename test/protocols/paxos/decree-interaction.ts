/**
 * Single-decree Paxos ("Paxos Made Simple") in the interaction environment. Its roles are
 * plain objects (DecreeProposer, DecreeAcceptor, DecreeLearner), so each node here wraps one
 * of them behind the Replica contract: an acceptor's promise and acceptance are its hard state,
 * made durable before its reply leaves (Ready.persist, then Ready.send). The learner is the
 * safety monitor: it hears every Accepted sent and says what is chosen, and a second, different
 * value is a violation ("no two values chosen").
 */
import { nodeId, type Index, type NodeId, type Term } from '../../../src/core/ids.js';
import type { Persist, ProposeResult, Ready, Replica, ReplicaStatus, RestoredState, SafetyMonitor } from '../../../src/core/replica.js';
import {
  DecreeAcceptor, DecreeLearner, DecreeProposer, describeBallot, makeBallot, NO_BALLOT, type AcceptorState, type Ballot, type DecreeMessage,
} from '../../../src/protocols/paxos/index.js';
import type { Adapter, ClusterSpec } from '../interaction/adapter.js';
import { arg } from '../interaction/commands.js';
import type { Directive } from '../interaction/datadriven.js';
import { UsageError } from '../interaction/environment.js';
import { intValue, refuseUnknown } from '../interaction/option-values.js';

type Msg = DecreeMessage<string>;
type State = AcceptorState<string>;

const NO_MESSAGES: readonly Msg[] = [];

/** One proposer or one acceptor, as a replica. */
export class DecreeNode implements Replica<Msg, State> {
  private out: Msg[] = [];
  private persist: State | null = null;

  constructor(readonly id: NodeId, readonly proposer: DecreeProposer<string> | null, readonly acceptor: DecreeAcceptor<string> | null) {}

  tick(): void {}

  step(m: Msg): void {
    if (this.acceptor !== null) {
      const step = m.type === 'prepare' ? this.acceptor.onPrepare(m) : m.type === 'accept' ? this.acceptor.onAccept(m) : null;
      if (step === null) return;
      if (step.persist !== null) this.persist = step.persist;
      this.out.push(step.reply);
      return;
    }
    if (this.proposer === null) return;
    if (m.type === 'promise') this.out.push(...this.proposer.onPromise(m));
    else if (m.type === 'nack') this.proposer.onNack(m);
  }

  /** Phase 1a: a fresh ballot above everything this proposer has seen. */
  prepare(): void {
    if (this.proposer === null) throw new UsageError(`${this.id} is an acceptor, not a proposer`);
    this.out.push(...this.proposer.prepare());
  }

  propose(_command: Uint8Array): ProposeResult {
    throw new UsageError('a single-decree proposer has its value from the start: campaign it (phase 1)');
  }

  readIndex(_requestId: string): void {
    throw new UsageError('single-decree Paxos has no reads');
  }

  compact(): void {}

  hasReady(): boolean {
    return this.out.length > 0 || this.persist !== null;
  }

  ready(): Ready<Msg, State> {
    const persist: Persist<State> | null = this.persist === null ? null : { hardState: this.persist, entries: [], snapshot: null };
    const rd = { persist, sendBeforePersist: NO_MESSAGES, send: this.out, apply: [], readStates: [] };
    this.out = [];
    this.persist = null;
    return rd;
  }

  advance(): void {}

  status(): ReplicaStatus {
    const ballot = this.proposer?.currentBallot ?? this.acceptor?.promised ?? NO_BALLOT;
    return {
      id: this.id, role: this.proposer !== null ? 'proposer' : 'acceptor', term: ballot as Term, leader: null, leading: false, commitIndex: 0 as Index,
      appliedIndex: 0 as Index, membership: { voters: [], outgoingVoters: [], learners: [] },
    };
  }
}

function node(r: Replica<Msg, State>): DecreeNode {
  if (!(r instanceof DecreeNode)) throw new Error('not a DecreeNode');
  return r;
}

/** `(2,1)` (the option parser hands it over as "2,1") → a ballot. */
function parseBallot(v: string | undefined): Ballot {
  const [c, r] = (v ?? '').split(',');
  if (c === undefined || r === undefined) throw new UsageError(`ballot=${v ?? ''}: write ballot=(counter,rank)`);
  return makeBallot(intValue('ballot', c), intValue('ballot', r));
}

function formatMessage(m: Msg): string {
  const head = `${m.from}->${m.to} ${m.type} ballot=${describeBallot(m.ballot)}`;
  switch (m.type) {
    case 'prepare':
      return head;
    case 'promise':
      return `${head} accepted=${m.accepted === null ? 'none' : `${JSON.stringify(m.accepted.value)} in ${describeBallot(m.accepted.ballot)}`}`;
    case 'nack':
      return `${head} promised=${describeBallot(m.promised)}`;
    case 'accept':
    case 'accepted':
      return `${head} value=${JSON.stringify(m.value)}`;
  }
}

/** The learner, watching every Accepted that leaves an acceptor. */
class LearnerMonitor implements SafetyMonitor<Msg> {
  constructor(readonly learner: DecreeLearner<string>) {}
  sent(m: Msg): void {
    if (m.type === 'accepted') this.learner.onAccepted(m);
  }
  observed(): void {}
}

export class DecreeAdapter implements Adapter<Msg, State> {
  readonly stateMachineSurvivesRestart = true;
  private acceptors: NodeId[] = [];
  private proposers = new Map<NodeId, { value: string; rank: number; mutant: string | undefined }>();
  private monitor: LearnerMonitor | null = null;

  /** `cluster a1 a2 a3 p1 p2`, with a line `p1 value=x [mutant=M]` for each proposer. */
  configure(spec: ClusterSpec) {
    refuseUnknown(spec.options, [], 'a single-decree cluster');
    this.proposers = new Map();
    let rank = 0;
    for (const id of spec.ids) {
      const o = spec.nodeOptions.get(id);
      if (o === undefined) continue;
      refuseUnknown(o, ['value', 'mutant'], `node line ${id}`);
      const value = o.get('value');
      if (value === undefined) throw new UsageError(`${id}: a proposer line says value=...`);
      this.proposers.set(id, { value, rank: ++rank, mutant: o.get('mutant') });
    }
    this.acceptors = spec.ids.filter((id) => !this.proposers.has(id));
    this.monitor = new LearnerMonitor(new DecreeLearner<string>(this.acceptors.length));
    return { initial: new Map<NodeId, RestoredState<State>>(), monitor: this.monitor };
  }

  create(id: NodeId, restored: RestoredState<State> | null): Replica<Msg, State> {
    const p = this.proposers.get(id);
    if (p === undefined) return new DecreeNode(id, null, new DecreeAcceptor<string>(id, restored?.hardState ?? null));
    const proposer = new DecreeProposer<string>({ id, rank: p.rank, acceptors: this.acceptors, value: p.value, ...(p.mutant === undefined ? {} : { mutant: p.mutant }) });
    return new DecreeNode(id, proposer, null);
  }

  messageType(m: Msg): string {
    return m.type;
  }

  formatMessage = formatMessage;

  formatEntry(): string {
    return '';
  }

  formatHardState(h: State): string {
    return `promised=${describeBallot(h.promised)} accepted=${h.accepted === null ? 'none' : `${JSON.stringify(h.accepted.value)} in ${describeBallot(h.accepted.ballot)}`}`;
  }

  summary(r: Replica<Msg, State>): string {
    const n = node(r);
    return n.proposer !== null ? `proposer of ballot ${describeBallot(n.proposer.currentBallot)}` : `acceptor promised ${describeBallot(n.acceptor!.promised)}`;
  }

  status(r: Replica<Msg, State>): string {
    const n = node(r);
    if (n.proposer !== null) return `proposer ballot=${describeBallot(n.proposer.currentBallot)}`;
    const a = n.acceptor!;
    return `acceptor ${this.formatHardState({ promised: a.promised, accepted: a.accepted })}`;
  }

  leaderTerm(): number | null {
    return null; // no distinguished leader: that is the point of the duelling proposers
  }

  campaign(r: Replica<Msg, State>): void {
    node(r).prepare();
  }

  /** `inject accept from=p1 to=a1 ballot=(1,9) value=late` (or prepare). */
  parseMessage(d: Directive): Msg {
    const type = arg(d, 0, 'prepare or accept');
    refuseUnknown(d.options, ['from', 'to', 'ballot', 'value'], `inject ${type}`);
    const from = nodeId(d.options.get('from') ?? '');
    const to = nodeId(d.options.get('to') ?? '');
    const ballot = parseBallot(d.options.get('ballot'));
    if (type === 'prepare') return { type, from, to, ballot };
    if (type === 'accept') return { type, from, to, ballot, value: d.options.get('value') ?? '' };
    throw new UsageError(`inject knows prepare and accept, not '${type}'`);
  }

  /** What the learner has seen chosen (a phase-2 quorum of Accepted in one ballot). */
  chosen(): string | undefined {
    return this.monitor?.learner.chosen;
  }

  readonly commands = {
    chosen: (_d: Directive, env: { out: { always(line: string): void } }) => {
      const v = this.chosen();
      env.out.always(v === undefined ? 'nothing chosen' : `chosen: ${JSON.stringify(v)}`);
    },
  };
}

/**
 * Viewstamped Replication in the interaction environment: replicas from a `cluster` line (the
 * protocol's limits and `diskless` among the options), messages in the paper's words (PREPARE,
 * PREPAREOK, COMMIT, START-VIEW-CHANGE, DO-VIEW-CHANGE, START-VIEW, GETSTATE, NEWSTATE, RECOVERY,
 * RECOVERYRESPONSE), ops as `op/view`, and log matching checked over the live replicas.
 *
 * Commands of its own:
 * - `request n1 c1#1 put x 5` (or `get x`, `cas x 5 7`, `delete x`): a client's request with its
 *   session (client c1, request number 1), encoded as the state machine's session command and
 *   appended at n1 (its primary);
 * - `client-table n1`: n1's committed ops run through the register state machine the simulator
 *   uses, each with its answer: executed, or answered from the client table (a request number
 *   the client's session has seen: the reply kept, nothing executed again);
 * - `inject recovery-response from= to= view= nonce= [primary=true op= commit=]`: an answer to a
 *   recovery, stale or current.
 */
import type { Index, NodeId } from '../../../src/core/ids.js';
import { Prng } from '../../../src/core/prng.js';
import type { LogEntry, Membership, Replica, RestoredState } from '../../../src/core/replica.js';
import { decodeCommand, encodeCommand, RegisterKv, type RegisterOp } from '../../../src/statemachine/register-kv.js';
import { DEFAULT_VR_LIMITS, VrReplica, type OpNumber, type View, type VrHardState, type VrMessage, type VrOptions } from '../../../src/protocols/vr/index.js';
import type { Adapter, ClusterSpec, Command } from '../interaction/adapter.js';
import { arg } from '../interaction/commands.js';
import type { Directive } from '../interaction/datadriven.js';
import { UsageError } from '../interaction/environment.js';
import { boolValue, intValue, refuseUnknown } from '../interaction/option-values.js';

const dec = new TextDecoder();

const LIMIT_NAMES = Object.keys(DEFAULT_VR_LIMITS);
const CLUSTER_OPTIONS = ['seed', 'mutant', ...LIMIT_NAMES];

/** Scenarios run with a heartbeat every tick, so what a COMMIT brings is quick to read. */
const SCENARIO_DEFAULTS: Partial<VrOptions> = { viewChangeTimeoutTicks: 10, heartbeatIntervalTicks: 1 };

function vr(r: Replica<VrMessage, VrHardState>): VrReplica {
  if (!(r instanceof VrReplica)) throw new Error('not a VrReplica');
  return r;
}

function describeOp(op: RegisterOp): string {
  switch (op.f) {
    case 'get':
    case 'delete':
      return `${op.f} ${op.key}`;
    case 'put':
      return `put ${op.key} ${op.value}`;
    case 'cas':
      return `cas ${op.key} ${op.expected ?? 'none'} ${op.value}`;
  }
}

/** An op's value: a client's session command as `c1#1 put x 5`, other bytes as a quoted string. */
function value(e: LogEntry): string {
  if (e.kind !== 'command') return e.kind;
  const cmd = decodeCommand(e.data);
  if (cmd !== null) return `c${cmd.client}#${cmd.seq} ${describeOp(cmd.op)}`;
  return JSON.stringify(dec.decode(e.data));
}

/** `3/1 "x"`: op-number, the view whose primary assigned it, the op. */
export function formatEntry(e: LogEntry): string {
  return `${e.index}/${e.term} ${value(e)}`;
}

const ops = (es: readonly LogEntry[]): string => `[${es.map(formatEntry).join(', ')}]`;

export function formatMessage(m: VrMessage): string {
  const head = `${m.from}->${m.to} ${m.type} v=${m.view}`;
  switch (m.type) {
    case 'prepare':
      return `${head} commit=${m.commit} ops=${ops(m.entries)}`;
    case 'prepare-ok':
      return `${head} op=${m.opNumber}`;
    case 'commit':
      return `${head} commit=${m.commit} op=${m.opNumber}`;
    case 'start-view-change':
      return head;
    case 'do-view-change':
      return `${head} last-normal=${m.lastNormalView} op=${m.opNumber} commit=${m.commit} ops=${ops(m.entries)}`;
    case 'start-view':
      return `${head} op=${m.opNumber} commit=${m.commit} from=${m.fromOp} ops=${ops(m.entries)}`;
    case 'get-state':
      return `${head} after=${m.opNumber}`;
    case 'new-state':
      return `${head} op=${m.opNumber} commit=${m.commit} ops=${ops(m.entries)}`;
    case 'new-state-snapshot':
      return `${head} op=${m.opNumber} commit=${m.commit} snapshot=${m.snapshot.meta.index}/${m.snapshot.meta.term}`;
    case 'recovery':
      return `${head} nonce=${m.nonce}`;
    case 'recovery-response':
      return `${head} nonce=${m.nonce}${m.primary ? ` primary op=${m.opNumber} commit=${m.commit}` : ''}`;
    case 'read-index':
      return `${head} id=${m.requestId}`;
    case 'read-index-response':
      return `${head} id=${m.requestId} index=${m.index}`;
  }
}

function parseMessage(d: Directive): VrMessage {
  const type = arg(d, 0, 'a message type');
  const o = d.options;
  if (type !== 'recovery-response') throw new UsageError(`inject knows recovery-response, not '${type}'`);
  refuseUnknown(o, ['from', 'to', 'view', 'nonce', 'primary', 'op', 'commit'], type);
  const from = o.get('from');
  const to = o.get('to');
  if (from === undefined || to === undefined) throw new UsageError('inject needs from= and to=');
  return {
    type, from: from as NodeId, to: to as NodeId, view: intValue('view', o.get('view') ?? '') as View, nonce: intValue('nonce', o.get('nonce') ?? ''),
    primary: boolValue('primary', o.get('primary') ?? 'false'), opNumber: intValue('op', o.get('op') ?? '0') as OpNumber, commit: intValue('commit', o.get('commit') ?? '0') as OpNumber,
  };
}

/** `c1#2` as client 1, request number 2. */
function parseSession(s: string): { client: number; seq: number } {
  const m = /^c(\d+)#(\d+)$/.exec(s);
  if (m === null) throw new UsageError(`a session is c<client>#<request number>, not '${s}'`);
  return { client: Number(m[1]), seq: Number(m[2]) };
}

function parseOp(d: Directive): RegisterOp {
  const f = arg(d, 2, 'get, put, cas or delete');
  const key = arg(d, 3, 'a key');
  switch (f) {
    case 'get':
    case 'delete':
      return { f, key };
    case 'put':
      return { f, key, value: intValue('value', arg(d, 4, 'a value')) };
    case 'cas': {
      const expected = arg(d, 4, 'the expected value');
      return { f, key, expected: expected === 'none' ? null : intValue('expected', expected), value: intValue('value', arg(d, 5, 'a value')) };
    }
    default:
      throw new UsageError(`unknown register op '${f}': get, put, cas or delete`);
  }
}

export class VrAdapter implements Adapter<VrMessage, VrHardState> {
  readonly stateMachineSurvivesRestart = true;
  parseMessage = parseMessage;
  private random = new Prng(1);
  private membership: Membership = { voters: [], outgoingVoters: [], learners: [] };
  private options: Partial<VrOptions> = {};

  readonly commands: Readonly<Record<string, Command<VrMessage, VrHardState>>> = {
    request: (d, env) => {
      const n = env.node(arg(d, 0, 'a node'));
      const { client, seq } = parseSession(arg(d, 1, 'a session (c1#1)'));
      const res = n.live().propose(encodeCommand({ client, seq, op: parseOp(d) }));
      env.out.always(`ok: op ${res.index} view ${res.term}`);
      env.observe(n);
    },
    'client-table': (d, env) => {
      const r = vr(env.node(arg(d, 0, 'a node')).live());
      const log = r.logView();
      const kv = new RegisterKv();
      const seen = new Map<number, number>();
      for (let i = log.firstIndex(); i <= r.status().commitIndex; i++) {
        const e = log.entryAt(i as Index);
        if (e === undefined) throw new UsageError(`op ${i} is in no log (compacted): client-table reads the log`);
        if (e.kind !== 'command') continue;
        const cmd = decodeCommand(e.data);
        if (cmd === null) continue;
        const known = seen.get(cmd.client);
        const result = kv.apply(e.data, e.index);
        const how = known !== undefined && cmd.seq <= known ? 'answered from the client table, not executed again' : 'executed';
        if (known === undefined || cmd.seq > known) seen.set(cmd.client, cmd.seq);
        env.out.always(`${e.index}: c${cmd.client}#${cmd.seq} ${describeOp(cmd.op)}: ${how}: ${result.ok ? 'ok' : 'failed'} value=${result.value ?? 'none'}`);
      }
    },
  };

  configure(spec: ClusterSpec) {
    refuseUnknown(spec.options, CLUSTER_OPTIONS, 'a vr cluster');
    const o = spec.options;
    this.random = new Prng(intValue('seed', o.get('seed') ?? '1'));
    this.membership = { voters: [...spec.ids], outgoingVoters: [], learners: [] };
    const options: Record<string, unknown> = { ...SCENARIO_DEFAULTS };
    for (const k of LIMIT_NAMES) {
      if (o.has(k)) options[k] = typeof DEFAULT_VR_LIMITS[k as keyof typeof DEFAULT_VR_LIMITS] === 'boolean' ? boolValue(k, o.get(k)!) : intValue(k, o.get(k)!);
    }
    this.options = options as Partial<VrOptions>;
    for (const [id, no] of spec.nodeOptions) refuseUnknown(no, ['mutant'], `node line ${id}`);
    return { initial: new Map<NodeId, RestoredState<VrHardState>>(), monitor: null };
  }

  create(id: NodeId, restored: RestoredState<VrHardState> | null, o: { applied: number; mutant: string | undefined }): Replica<VrMessage, VrHardState> {
    return new VrReplica({
      ...this.options,
      ...(o.mutant === undefined ? {} : { mutant: o.mutant }),
      id,
      membership: this.membership,
      random: this.random.fork(),
      ...(restored === null ? {} : { restored }),
      applied: o.applied as Index,
    });
  }

  messageType(m: VrMessage): string {
    return m.type;
  }

  formatMessage = formatMessage;
  formatEntry = formatEntry;

  formatHardState(h: VrHardState): string {
    return h.diskless === true ? 'diskless (the marker of a first start; nothing else is written)' : `view=${h.view} last-normal=${h.lastNormalView}`;
  }

  summary(r: Replica<VrMessage, VrHardState>): string {
    const s = vr(r).status();
    switch (s.role) {
      case 'primary':
        return `primary of view ${s.view}`;
      case 'backup':
        return s.lastNormalView === s.view ? `backup in view ${s.view}` : `backup in view ${s.view}, fetching its log (last normal in view ${s.lastNormalView})`;
      case 'view-change':
        return `view-change to view ${s.view}`;
      case 'recovering':
        return 'recovering';
    }
  }

  status(r: Replica<VrMessage, VrHardState>): string {
    const x = vr(r);
    const s = x.status();
    const snap = x.heldSnapshot();
    const nonce = x.recoveryNonce();
    return `${s.role} view=${s.view} last-normal=${s.lastNormalView} op=${s.opNumber} commit=${s.commitIndex} applied=${s.appliedIndex}` +
      `${snap === null ? '' : ` checkpoint=${snap.meta.index}`}${nonce === null ? '' : ` nonce=${nonce}`}`;
  }

  leaderTerm(r: Replica<VrMessage, VrHardState>): number | null {
    const s = vr(r).status();
    return s.leading ? s.view : null;
  }

  /** A backup's timer runs out: it starts a view change (it ticks until it does). */
  campaign(r: Replica<VrMessage, VrHardState>): void {
    const view = vr(r).status().view;
    for (let i = 0; i < 1000 && vr(r).status().view === view; i++) r.tick();
  }

  log(r: Replica<VrMessage, VrHardState>): string[] {
    const l = vr(r).logView();
    const out: string[] = [];
    for (let i = l.firstIndex(); i <= l.lastIndex(); i++) out.push(formatEntry(l.entryAt(i as Index)!));
    return out.length === 0 ? ['(empty)'] : out;
  }

  /** Log matching: two live logs that hold the same (op-number, view) hold the same ops up to it. */
  checkCluster(replicas: ReadonlyMap<NodeId, Replica<VrMessage, VrHardState>>): [string, string][] {
    const logs = [...replicas].map(([id, r]) => [id, vr(r).logView()] as const);
    const out: [string, string][] = [];
    for (let a = 0; a < logs.length; a++) {
      for (let b = a + 1; b < logs.length; b++) {
        const [ia, x] = logs[a]!;
        const [ib, y] = logs[b]!;
        const lo = Math.max(x.firstIndex(), y.firstIndex());
        let hi = Math.min(x.lastIndex(), y.lastIndex());
        while (hi >= lo && x.termAt(hi as Index) !== y.termAt(hi as Index)) hi--;
        for (let i = hi; i >= lo; i--) {
          if (formatEntry(x.entryAt(i as Index)!) !== formatEntry(y.entryAt(i as Index)!)) out.push(['log matching', `${ia} and ${ib} agree at op ${hi} but differ at ${i}`]);
        }
      }
    }
    return out;
  }
}

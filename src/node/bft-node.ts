/**
 * The runtime for a PBFT member: real ticks, peer TCP, the real Authenticator, the service's
 * state machine executed by a PbftHost, and a pool of BFT clients through which this member
 * submits its own clients' commands. A proposal resolves once f + 1 replicas sent matching
 * replies *and* this member executed the request itself, with this member's result: a caller
 * reading this member's state afterwards sees its write (and trusts this member, see the README's
 * trust model).
 *
 * Not durable: PBFT's protocol state lives in memory, and a member restarted without it counts
 * against f until a state transfer brings it back (the next stable checkpoint).
 */
import { EventEmitter } from 'node:events';
import { QuorateError } from '../core/errors.js';
import type { NodeId } from '../core/ids.js';
import { nodeId } from '../core/ids.js';
import { Prng } from '../core/prng.js';
import type { ReplicaStatus, StateMachine } from '../core/replica.js';
import { PbftReplica, type PbftMessage, type PbftOptions, type PbftReply } from '../protocols/pbft/index.js';
import { BftClient } from '../protocols/pbft/client.js';
import { PbftHost } from '../protocols/pbft/host.js';
import { PeerTransport, type PeerAddress, type PeerTls } from '../transport/index.js';
import { silentLogger, type Logger, type MemberAddresses } from './config.js';
import type { NodeEvents } from './node.js';
import { CryptoAuthenticator, type CryptoKeys } from './crypto-authenticator.js';

/** BFT clients per member: one request in flight each (a client's timestamps must increase). */
export const BFT_CLIENTS_PER_MEMBER = 4;
/** A member's client rebroadcasts a request it got no f + 1 replies for after this long. */
export const BFT_CLIENT_RETRY_MS = 1_000;
/** Proposals waiting for a free client, at most. */
export const MAX_QUEUED_PROPOSALS = 10_000;

export interface BftNodeOptions<R> {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly listen: PeerAddress;
  readonly members: readonly { readonly id: NodeId; readonly peer: PeerAddress }[];
  readonly stateMachine: StateMachine<R>;
  /** Deterministic encoding of a result, compared across replicas' replies. */
  readonly encodeResult: (r: R) => Uint8Array;
  /**
   * The keys of `principal` (this member, or one of its clients "id#k") among `principals`: from
   * this member's provisioned key material (bft-keys.ts), or for a trial from a shared secret.
   */
  readonly keysFor: (principal: string, principals: readonly string[]) => CryptoKeys;
  readonly tickMs: number;
  readonly pbft?: Partial<Omit<PbftOptions, 'id' | 'membership' | 'random' | 'authenticator'>>;
  readonly logger?: Logger;
  readonly peerTls?: PeerTls | null;
}

interface Frame {
  readonly kind: 'protocol';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: PbftMessage;
}

interface Waiting<R> {
  resolve(r: R): void;
  reject(e: Error): void;
}

/** A client principal of member m: "m#k". */
const clientPrincipal = (member: NodeId, k: number): string => `${member}#${k}`;
const memberOf = (principal: string): NodeId => nodeId(principal.split('#')[0]!);

export class BftNode<R> extends EventEmitter<NodeEvents> {
  readonly id: NodeId;
  private readonly host: PbftHost<R | null>;
  private transport: PeerTransport<Frame> | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private readonly clients: { bft: BftClient; busy: boolean; timer: NodeJS.Timeout | null; waiting: Waiting<R | null> | null; accepted: number; ts: number }[] = [];
  private readonly queue: { command: Uint8Array; waiting: Waiting<R | null> }[] = [];
  /** Results of this member's own clients' requests, as executed here: principal|timestamp → result (null: a read barrier). */
  private readonly localResults = new Map<string, R | null>();
  private readonly log: Logger;
  private stopped = false;
  /** The primary last announced through the 'leader' event (as the Raft runtime does). */
  private lastPrimary: NodeId | null = null;
  private lastView = -1;

  private constructor(private readonly o: BftNodeOptions<R>) {
    super();
    this.id = o.id;
    this.log = o.logger ?? silentLogger;
    const replicas = o.members.map((m) => m.id);
    const principals = [...replicas, ...replicas.flatMap((r) => Array.from({ length: BFT_CLIENTS_PER_MEMBER }, (_, k) => clientPrincipal(r, k)))];
    const auth = new CryptoAuthenticator(o.keysFor(o.id, principals));
    const replica = new PbftReplica({
      ...o.pbft, id: o.id, membership: { voters: replicas, outgoingVoters: [], learners: [] }, random: new Prng(1), authenticator: auth,
    });
    const sm = o.stateMachine;
    // An empty command is a read barrier: ordered like any request, it changes nothing.
    this.host = new PbftHost<R | null>(replica, {
      sm: {
        apply: (command, index) => (command.byteLength === 0 ? null : sm.apply(command, index)),
        snapshot: () => sm.snapshot(),
        restore: (d) => sm.restore(d),
      },
      query: () => null,
      encodeResult: (r) => (r === null ? new Uint8Array(0) : o.encodeResult(r)),
    }, auth);
    this.host.onExecute = (_batch, results) => {
      for (const x of results) if (memberOf(x.client) === this.id) this.localResults.set(`${x.client}|${x.timestamp}`, x.value);
    };
    for (let k = 0; k < BFT_CLIENTS_PER_MEMBER; k++) {
      const cauth = new CryptoAuthenticator(o.keysFor(clientPrincipal(o.id, k), principals));
      this.clients.push({ bft: new BftClient(cauth, replicas, Date.now()), busy: false, timer: null, waiting: null, accepted: 0, ts: 0 });
    }
  }

  static async start<R>(o: BftNodeOptions<R>): Promise<BftNode<R>> {
    const node = new BftNode(o);
    const peers = new Map(o.members.filter((m) => m.id !== o.id).map((m) => [m.id, m.peer] as const));
    node.transport = await PeerTransport.start<Frame>(
      { clusterId: o.clusterId, self: o.id, listen: o.listen, peers, logger: (level, msg, fields) => node.log(level, msg, fields), tls: o.peerTls ?? null },
      (f) => node.onFrame(f),
    );
    node.ticker = setInterval(() => node.tick(), o.tickMs);
    node.ticker.unref?.();
    return node;
  }

  get running(): boolean {
    return !this.stopped;
  }

  status(): ReplicaStatus {
    const s = this.host.replica.status();
    return { ...s, role: s.role === 'primary' ? 'leader' : s.role };
  }

  /** Order `command` through PBFT; resolves with this member's result once f + 1 replicas agree and it executed here. */
  propose(command: Uint8Array): Promise<R> {
    if (command.byteLength === 0) return Promise.reject(new QuorateError('INVALID_ARGUMENT', 'an empty command'));
    return this.order(command) as Promise<R>;
  }

  private order(command: Uint8Array): Promise<R | null> {
    if (this.stopped) return Promise.reject(new QuorateError('STOPPED', 'the node is stopped'));
    return new Promise<R | null>((resolve, reject) => {
      if (this.queue.length >= MAX_QUEUED_PROPOSALS) {
        reject(new QuorateError('TOO_MANY_REQUESTS', 'too many proposals waiting; retry later'));
        return;
      }
      this.queue.push({ command, waiting: { resolve, reject } });
      this.pump();
    });
  }

  /** A linearizable read point for this member: an ordered empty request, executed here. */
  async readBarrier(): Promise<void> {
    await this.order(new Uint8Array(0));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    for (const c of this.clients) {
      if (c.timer !== null) clearTimeout(c.timer);
      c.waiting?.reject(new QuorateError('STOPPED', 'the node is stopped'));
    }
    for (const q of this.queue.splice(0)) q.waiting.reject(new QuorateError('STOPPED', 'the node is stopped'));
    await this.transport?.close();
  }

  private pump(): void {
    for (const c of this.clients) {
      if (c.busy || this.queue.length === 0) continue;
      const next = this.queue.shift()!;
      c.busy = true;
      c.waiting = next.waiting;
      c.ts = c.bft.nextTimestamp;
      this.route(c.bft.begin(next.command, false));
      const retry = (): void => {
        if (this.stopped || !c.busy) return;
        this.route(c.bft.retry());
        c.timer = setTimeout(retry, BFT_CLIENT_RETRY_MS);
      };
      c.timer = setTimeout(retry, BFT_CLIENT_RETRY_MS);
    }
  }

  private tick(): void {
    if (this.stopped) return;
    this.host.replica.tick();
    this.flush();
    this.settle();
    this.noticePrimaryChange();
  }

  /** Tell listeners when the view (and so the primary) changed: the lease keeper listens. */
  private noticePrimaryChange(): void {
    const s = this.status();
    if (s.leader === this.lastPrimary && s.term === this.lastView) return;
    if (s.leader !== this.lastPrimary) this.log('info', s.leader === null ? 'no primary' : `primary is ${s.leader}`, { view: s.term });
    this.lastPrimary = s.leader;
    this.lastView = s.term;
    this.emit('leader', s);
  }

  /** Requests this member's clients are ordering or waiting to order. */
  pendingProposals(): number {
    return this.queue.length + this.clients.filter((c) => c.busy).length;
  }

  isLeader(): boolean {
    const s = this.status();
    return s.role === 'leader' && s.leader === this.id;
  }

  // What the Raft runtime offers operators and PBFT does not (yet): a fixed membership of
  // 3f + 1, no leadership transfer (the primary is view mod N), state only in memory.
  changeMembership(_change: unknown): Promise<void> {
    return Promise.reject(new QuorateError('INVALID_CONFIG_CHANGE', 'pbft runs a fixed membership of 3f + 1 members; membership changes are not supported'));
  }

  transferLeadership(_target: NodeId): void {
    throw new QuorateError('INVALID_ARGUMENT', 'pbft has no leadership transfer: the primary of view v is member v mod N');
  }

  snapshotNow(): Promise<void> {
    return Promise.resolve(); // nothing on disk to compact: pbft state is in memory
  }

  setJoinQueryHandler(_handler: ((query: unknown) => unknown) | null): void {
    // A fixed membership: no member ever joins a running pbft cluster.
  }

  setPeerAddresses(_members: readonly MemberAddresses[]): void {
    // A fixed membership: the peers named at start are the peers.
  }

  transportStats(): ReturnType<PeerTransport<Frame>['stats']> | null {
    return this.transport?.stats() ?? null;
  }

  private onFrame(f: Frame): void {
    if (this.stopped || f.kind !== 'protocol' || typeof f.message !== 'object' || f.message === null) return;
    this.deliver(f.message);
  }

  private deliver(m: PbftMessage): void {
    if (m.type === 'reply') return this.onReply(m);
    if (m.to !== this.id) return;
    this.host.replica.step(m);
    this.flush();
    this.settle();
  }

  private flush(): void {
    this.route(this.host.process());
  }

  /** Send each message to the member that hosts its addressee (a replica, or a member's client). */
  private route(msgs: PbftMessage[]): void {
    for (const m of msgs) {
      const member = memberOf(m.to);
      if (member === this.id) {
        queueMicrotask(() => {
          if (!this.stopped) this.deliver(m);
        });
      } else {
        this.transport?.send({ kind: 'protocol', from: this.id, to: member, message: m });
      }
    }
  }

  private onReply(r: PbftReply): void {
    const c = this.clients.find((x) => x.bft.id === r.client);
    if (c === undefined || !c.busy) return;
    if (c.bft.onReply(r) !== null) c.accepted = c.ts;
    this.settle();
  }

  /** A client is done when f + 1 replicas agreed and this member executed the request too. */
  private settle(): void {
    for (const c of this.clients) {
      if (!c.busy || c.accepted !== c.ts) continue;
      const key = `${c.bft.id}|${c.ts}`;
      if (!this.localResults.has(key)) continue;
      const result = this.localResults.get(key)!;
      this.localResults.delete(key);
      if (c.timer !== null) clearTimeout(c.timer);
      c.timer = null;
      c.busy = false;
      const w = c.waiting;
      c.waiting = null;
      w?.resolve(result);
    }
    this.pump();
  }
}

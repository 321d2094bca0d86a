/**
 * The runtime for a PBFT member: real ticks, peer TCP, the real Authenticator, the service's
 * state machine executed by a PbftHost, and a pool of BFT clients through which this member
 * submits its own clients' commands. A proposal resolves once f + 1 replicas sent matching
 * replies *and* this member executed the request itself, with this member's result: a caller
 * reading this member's state afterwards sees its write (and trusts this member, see the README's
 * trust model).
 *
 * Durable: what the core asks to keep (its view, per sequence number the pre-prepare it accepted,
 * its prepared certificate and the committed batch; see "Durability" in pbft.ts) goes to a
 * write-ahead log under `<data-dir>/pbft`, and no message leaves before the records it rests on
 * are fsynced (group commit: one fsync serves every write queued meanwhile). Stable checkpoints
 * are snapshots. A restarted member comes back from them as the same honest replica, not as one
 * that counts against f.
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { QuorateError } from '../core/errors.js';
import type { NodeId } from '../core/ids.js';
import { nodeId } from '../core/ids.js';
import { Prng } from '../core/prng.js';
import type { ReplicaStatus, StateMachine } from '../core/replica.js';
import { PbftReplica, type PbftHardState, type PbftMessage, type PbftOptions, type PbftReply } from '../protocols/pbft/index.js';
import type { Persist, Snapshot } from '../core/replica.js';
import { closeAsync, nodeFileSystem, openDurableStorage, saveSnapshotAsync, type DurableStorage } from '../storage/index.js';
import { principalMember } from './bft-keys.js';
import { BftClient } from '../protocols/pbft/client.js';
import { PbftHost } from '../protocols/pbft/host.js';
import { PeerTransport, type PeerAddress, type PeerTls } from '../transport/index.js';
import { silentLogger, type Logger, type MemberAddresses } from './config.js';
import type { NodeEvents } from './node.js';
import { CryptoAuthenticator, type CryptoKeys } from './crypto-authenticator.js';

/** BFT clients per member: one request in flight each (a client's timestamps must increase). */
export const BFT_CLIENTS_PER_MEMBER = 32;
/** A member's client rebroadcasts a request it got no f + 1 replies for after this long. */
export const BFT_CLIENT_RETRY_MS = 1_000;
/** Proposals waiting for a free client, at most. */
export const MAX_QUEUED_PROPOSALS = 10_000;
/**
 * Sequence numbers between checkpoints unless `pbft` says otherwise. Each stable checkpoint writes
 * the whole state machine to a snapshot file, so a member checkpoints less often than the core's
 * default (16), which suits the simulator's small states.
 */
export const DEFAULT_NODE_CHECKPOINT_INTERVAL_SEQS = 128;
/** A client's first timestamp is the wall clock in ms times this (see the constructor). */
const CLIENT_TIMESTAMPS_PER_MS = 1_000;

export interface BftNodeOptions<R> {
  readonly id: NodeId;
  readonly clusterId: string;
  /** The member's data directory; the protocol's log and snapshots live in its `pbft` subdirectory. */
  readonly dataDir: string;
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

/** A client principal of member m: "m#k" (principalMember maps it back to m). */
const clientPrincipal = (member: NodeId, k: number): string => `${member}#${k}`;
const memberOf = (principal: string): NodeId => nodeId(principalMember(principal));

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

  private readonly storage: DurableStorage<PbftHardState>;
  /** Saves handed to storage, and how many of them are fsynced (storage completes them in order). */
  private savesIssued = 0;
  private savesDurable = 0;
  /** Messages waiting for the saves they rest on: `need` is savesIssued when they were produced. */
  private readonly held: { need: number; msgs: PbftMessage[] }[] = [];
  /** A stable checkpoint being written, and the newest one waiting for it. */
  private checkpointWriting = false;
  private checkpointNext: Snapshot | null = null;

  private constructor(private readonly o: BftNodeOptions<R>, storage: DurableStorage<PbftHardState>) {
    super();
    this.id = o.id;
    this.log = o.logger ?? silentLogger;
    this.storage = storage;
    const restored = storage.restored();
    const fresh = restored.snapshot === null && restored.hardState === null && restored.entries.length === 0;
    const replicas = o.members.map((m) => m.id);
    const principals = [...replicas, ...replicas.flatMap((r) => Array.from({ length: BFT_CLIENTS_PER_MEMBER }, (_, k) => clientPrincipal(r, k)))];
    const auth = new CryptoAuthenticator(o.keysFor(o.id, principals));
    const replica = new PbftReplica({
      checkpointIntervalSeqs: DEFAULT_NODE_CHECKPOINT_INTERVAL_SEQS, ...o.pbft, id: o.id, membership: { voters: replicas, outgoingVoters: [], learners: [] }, random: new Prng(1), authenticator: auth,
      ...(fresh ? {} : { restored }),
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
    }, auth, restored.snapshot);
    this.host.persister = { save: (p) => this.save(p), saveCheckpoint: (c) => this.saveCheckpoint(c) };
    if (!fresh) {
      const st = replica.status();
      this.log('info', 'restarting pbft replica from its log', { view: st.view, stableCheckpoint: st.stableCheckpoint, entries: restored.entries.length });
    }
    this.host.onExecute = (_batch, results) => {
      for (const x of results) if (memberOf(x.client) === this.id) this.localResults.set(`${x.client}|${x.timestamp}`, x.value);
    };
    for (let k = 0; k < BFT_CLIENTS_PER_MEMBER; k++) {
      const cauth = new CryptoAuthenticator(o.keysFor(clientPrincipal(o.id, k), principals));
      // Timestamps must exceed every one this client used before a restart: microseconds of the
      // wall clock leave room for a thousand requests per millisecond.
      this.clients.push({ bft: new BftClient(cauth, replicas, Date.now() * CLIENT_TIMESTAMPS_PER_MS), busy: false, timer: null, waiting: null, accepted: 0, ts: 0 });
    }
  }

  static async start<R>(o: BftNodeOptions<R>): Promise<BftNode<R>> {
    const log = o.logger ?? silentLogger;
    const storage = await openDurableStorage<PbftHardState>(nodeFileSystem, join(o.dataDir, 'pbft'), { logger: (m) => log('warn', m) });
    const node = new BftNode(o, storage);
    const peers = new Map(o.members.filter((m) => m.id !== o.id).map((m) => [m.id, m.peer] as const));
    try {
      node.transport = await PeerTransport.start<Frame>(
        { clusterId: o.clusterId, self: o.id, listen: o.listen, peers, logger: (level, msg, fields) => node.log(level, msg, fields), tls: o.peerTls ?? null },
        (f) => node.onFrame(f),
      );
    } catch (err) {
      await closeAsync(storage);
      throw err;
    }
    // After a restart: execute again what it committed above its stable checkpoint, so the state
    // machine is current before anyone reads it.
    node.flush();
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
    this.held.length = 0;
    await this.transport?.close();
    await closeAsync(this.storage);
  }

  /** Hand a Persist to the log; messages produced from now on wait for it (see flush). */
  private save(p: Persist<PbftHardState>): void {
    const k = ++this.savesIssued;
    this.storage.save(p, (err) => {
      if (err !== null) return this.fail(err);
      this.savesDurable = k;
      this.release();
    });
  }

  /** A stable checkpoint becomes the snapshot; only the newest one waiting is written. */
  private saveCheckpoint(c: Snapshot): void {
    this.checkpointNext = c;
    if (this.checkpointWriting) return;
    this.checkpointWriting = true;
    void (async () => {
      while (this.checkpointNext !== null && !this.stopped) {
        const next = this.checkpointNext;
        this.checkpointNext = null;
        try {
          await saveSnapshotAsync(this.storage, next);
        } catch (err) {
          this.fail(err as Error);
          break;
        }
      }
      this.checkpointWriting = false;
    })();
  }

  private release(): void {
    if (this.stopped) return;
    while (this.held.length > 0 && this.held[0]!.need <= this.savesDurable) this.route(this.held.shift()!.msgs);
  }

  private fail(err: Error): void {
    if (this.stopped) return;
    // After a failed write or fsync the log's state is unknown: stop rather than send anything
    // that might rest on it.
    this.log('error', 'fatal: stopping node', { error: err.message });
    void this.stop();
    this.emit('fatal', err);
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
  // 3f + 1, no leadership transfer (the primary is view mod N).
  changeMembership(_change: unknown): Promise<void> {
    return Promise.reject(new QuorateError('INVALID_CONFIG_CHANGE', 'pbft runs a fixed membership of 3f + 1 members; membership changes are not supported'));
  }

  transferLeadership(_target: NodeId): void {
    throw new QuorateError('INVALID_ARGUMENT', 'pbft has no leadership transfer: the primary of view v is member v mod N');
  }

  snapshotNow(): Promise<void> {
    return Promise.resolve(); // snapshots are PBFT's stable checkpoints, every checkpoint interval
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

  /** Run the core's Readys; send what they produced once the records they rest on are fsynced. */
  private flush(): void {
    const msgs = this.host.process();
    if (msgs.length === 0) return;
    if (this.held.length === 0 && this.savesDurable >= this.savesIssued) this.route(msgs);
    else this.held.push({ need: this.savesIssued, msgs });
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

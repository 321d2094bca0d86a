/**
 * The node runtime: the one driver (src/driver/) with real ports — the write-ahead log on
 * node:fs, peer TCP, timers — and a Promise API for the server above it. It is protocol
 * neutral: it sees only the protocol's definition, looked up by name.
 */
import { EventEmitter } from 'node:events';
import { randomBytes, randomInt } from 'node:crypto';
import { join } from 'node:path';
import { pack } from '../core/codec.js';
import { ClientTimestamps, CLIENT_TIMESTAMP_RESERVATION } from './client-timestamps.js';
import { TooManyRequests } from '../core/errors.js';
import type { Authenticator, Principal } from '../core/authenticator.js';
import type { NodeId } from '../core/ids.js';
import { Prng } from '../core/prng.js';
import type { ProtocolDefinition, Timing } from '../core/protocol.js';
import type { Envelope, Membership, Replica, ReplicaStatus, StateMachine } from '../core/replica.js';
import { Driver, NodeStopped } from '../driver/driver.js';
import { driverLimits, type DriverLimits } from '../driver/limits.js';
import type { ClockPort } from '../driver/ports.js';
import type { Reply } from '../driver/waiters.js';
import type { NodeMessage } from '../driver/wire.js';
import { closeAsync, nodeFileSystem, openDurableStorage, type DurableStorage } from '../storage/index.js';
import { DEFAULT_TRANSPORT_LIMITS, PeerTransport, type PeerAddress, type PeerIdentity, type PeerTls } from '../transport/index.js';
import { silentLogger, type Logger, type MemberAddresses } from './config.js';

export { NodeStopped };

export interface ReplicatedNodeOptions<R> {
  readonly id: NodeId;
  /** Every node of one cluster must use the same id; peers of another cluster are refused. */
  readonly clusterId: string;
  readonly dataDir: string;
  /** Where this node listens for peers. */
  readonly listen: PeerAddress;
  /** The initial cluster, this node included (used to bootstrap; later membership is in the log). */
  readonly members: readonly MemberAddresses[];
  /** Learners in the initial cluster (they must also appear in `members`). */
  readonly learners?: readonly NodeId[];
  /**
   * Ballot ranks of the configuration a member that joined was told (Membership.ranks and
   * nextRank, for protocols that rank members); absent: the protocol's default.
   */
  readonly ranks?: Readonly<Record<string, number>>;
  readonly nextRank?: number;
  /** A member that joined: the index the configuration it was told holds at (Membership.since; the join answer's). */
  readonly since?: number;
  readonly stateMachine: StateMachine<R>;
  /** Deterministic encoding of a result (Byzantine protocols compare replies byte for byte). Default: MessagePack. */
  readonly encodeResult?: (result: R) => Uint8Array;
  readonly protocol: ProtocolDefinition;
  /**
   * Wall-clock timing; the protocol maps it to its ticks. The driver ticks every `timing.tickMs`.
   * Default: DEFAULT_TIMING (etcd's defaults).
   */
  readonly timing?: Timing;
  /** Protocol-specific options on top of the timing ones (tuning, tests). */
  readonly protocolOptions?: Readonly<Record<string, unknown>>;
  readonly limits?: Partial<DriverLimits>;
  readonly logger?: Logger;
  /** Seed for the core's randomness (election timeouts). Default: a random one. */
  readonly seed?: number;
  /** Mutual TLS between peers; plain TCP when absent. */
  readonly peerTls?: PeerTls | null;
  /**
   * A secret every member of the cluster shares: each peer connection proves it at the handshake
   * and every frame after it carries a MAC (see PeerTransport); a peer that cannot prove it, or a
   * frame whose MAC fails, is disconnected. Absent: peers are identified by
   * what they claim (or by their TLS certificate).
   */
  readonly peerSecret?: Uint8Array | null;
  /** Byzantine protocols: the authenticator of each principal this member holds keys for. */
  readonly authenticatorFor?: (principal: Principal) => Authenticator;
  /**
   * Members with their own keys (Byzantine protocols): each peer connection proves the key of the
   * member it names (see PeerTransport's `identity`). Absent: the member a connection names is taken
   * on its word (and the secret's), and a new link never closes a live one of that member.
   */
  readonly peerIdentity?: PeerIdentity | null;
  /** Tests only: a mutant of the protocol or the driver (DriverOptions.mutant). */
  readonly mutant?: string;
}

export interface NodeEvents {
  /** The known leader or term changed. */
  leader: [status: ReplicaStatus];
  /** A fatal I/O error stopped the node (e.g. fsync failed): the process should exit. */
  fatal: [err: Error];
  /** A membership change entry was applied here (the configuration after it). */
  membership: [membership: Membership];
  /** The storage completed one datasync of a WAL segment, in this many seconds (the fsync alone). */
  'wal-fsync': [seconds: number];
  /** One Ready's committed entries were applied to the state machine, in this many seconds. */
  'apply-batch': [seconds: number, entries: number];
}

/** etcd's defaults: a 100 ms heartbeat (one tick), a 1 s election timeout. */
export const DEFAULT_TIMING: Timing = { tickMs: 100, heartbeatIntervalMs: 100, electionTimeoutMs: 1_000 };


/**
 * Room in a peer frame beyond the largest command: the message around it (an AppendEntries, an
 * Accept, a signed PBFT request or pre-prepare) and other entries batched with it.
 */
export const FRAME_ROOM_BYTES = 1024 * 1024;

/** Random bytes naming an incarnation of a member (request ids carry it): 64 bits, no collision in practice. */
export const INCARNATION_BYTES = 8;

/** The real clock port: performance.now(), timers that do not keep the process alive, setImmediate. */
const realClock: ClockPort = {
  now: () => performance.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
  defer: (fn) => setImmediate(fn),
};

export class ReplicatedNode<R> extends EventEmitter<NodeEvents> {
  readonly id: NodeId;
  private ticker: NodeJS.Timeout | null = null;
  private driver!: Driver<R>;
  private transport: PeerTransport<NodeMessage> | null = null;
  /**
   * After a peer's connections closed: the core's peer-down counters then, and the ticks left to
   * watch for the early election it may start (see watchPeerDownCampaign).
   */
  private peerDownWatch: { peer: NodeId; campaigns: number; elapsedTicks: number; ticksLeft: number } | null = null;
  /** Quorum client model: the timestamps reserved for this incarnation's clients (null otherwise). */
  private clientTimestamps: ClientTimestamps | null = null;

  private constructor(private readonly options: ReplicatedNodeOptions<R>, private readonly storage: DurableStorage<unknown>) {
    super();
    this.id = options.id;
  }

  /**
   * The transport saw every connection with `peer` close after its handshake: the driver tells the
   * core (Replica.peerDown), which may start an election at once if `peer` led it; the ticks after
   * are watched for that election, to log it.
   */
  private peerDown(peer: NodeId): void {
    if (this.driver === undefined) return;
    const log = this.options.logger ?? silentLogger;
    const timing = this.options.timing ?? DEFAULT_TIMING;
    const status = this.driver.status();
    const c = status.counters ?? {};
    // Connections between members that have nothing to say to each other close when idle (two
    // Raft followers): worth an info line only when the peer is the leader this member follows.
    log(status.leader === peer ? 'info' : 'debug', `every connection with peer ${peer} closed`, { peer, leader: status.leader === peer });
    this.driver.peerDown(peer);
    this.peerDownWatch = {
      peer, campaigns: c.peerDownCampaigns ?? 0, elapsedTicks: c.peerDownCampaignElapsedTicks ?? 0,
      ticksLeft: Math.ceil(timing.electionTimeoutMs / timing.tickMs),
    };
  }

  /** A tick after peerDown: log the early election the core started (its counters say so), with the ticks its timer had run. */
  private watchPeerDownCampaign(): void {
    const w = this.peerDownWatch;
    if (w === null || !this.driver.running) return;
    const c = this.driver.status().counters ?? {};
    const campaigns = c.peerDownCampaigns ?? 0;
    if (campaigns > w.campaigns) {
      const timing = this.options.timing ?? DEFAULT_TIMING;
      const elapsedTicks = (c.peerDownCampaignElapsedTicks ?? 0) - w.elapsedTicks;
      (this.options.logger ?? silentLogger)('info', `campaigned at once: the connections of leader ${w.peer} closed`, {
        peer: w.peer, elapsedTicks, electionTimeoutTicks: Math.round(timing.electionTimeoutMs / timing.tickMs), tickMs: timing.tickMs,
      });
      this.peerDownWatch = null;
      return;
    }
    if (--w.ticksLeft <= 0) this.peerDownWatch = null;
  }

  /** Open storage, restore the state machine, start the core, the transport and the ticker. */
  static async start<R>(o: ReplicatedNodeOptions<R>): Promise<ReplicatedNode<R>> {
    const log = o.logger ?? silentLogger;
    const timing = o.timing ?? DEFAULT_TIMING;
    // The node exists once its storage opened: the fsyncs of the opening itself go unreported.
    let reportFsync: (ms: number) => void = () => {};
    const storage = await openDurableStorage<unknown>(nodeFileSystem, join(o.dataDir, o.protocol.name), {
      logger: (msg: string) => log('warn', msg),
      onFsync: (ms) => reportFsync(ms),
    });
    const node = new ReplicatedNode<R>(o, storage);
    reportFsync = (ms) => node.emit('wal-fsync', ms / 1000);
    const voters = o.members.map((m) => m.id).filter((id) => !(o.learners ?? []).includes(id));
    let timestamps: ClientTimestamps | null = null;
    if (o.protocol.client.kind === 'quorum') {
      try {
        timestamps = await ClientTimestamps.open(o.dataDir);
      } catch (err) {
        await closeAsync(storage);
        throw err;
      }
    }
    node.clientTimestamps = timestamps;
    const frames: NodeMessage[] = [];
    try {
      node.transport = await PeerTransport.start<NodeMessage>(
        {
          clusterId: o.clusterId,
          self: o.id,
          listen: o.listen,
          peers: new Map(o.members.filter((m) => m.id !== o.id).map((m) => [m.id, m.peer])),
          // Named in every hello: a member whose configuration does not show this one yet answers it there.
          advertise: o.members.find((m) => m.id === o.id)?.peer ?? null,
          logger: (level, msg, fields) => log(level, msg, fields),
          tls: o.peerTls ?? null,
          // A command as large as the limit allows must fit a frame (a raised --max-request-bytes).
          limits: { maxFrameBytes: Math.max(DEFAULT_TRANSPORT_LIMITS.maxFrameBytes, driverLimits(o.limits).maxCommandBytes + FRAME_ROOM_BYTES) },
          secret: o.peerSecret ?? null,
          identity: o.peerIdentity ?? null,
          onPeerDown: (peer) => node.peerDown(peer),
        },
        // Frames that arrive before the driver exists wait for it (a peer may be quicker).
        (frame) => (node.driver === undefined ? frames.push(frame) : node.driver.receive(frame)),
      );
    } catch (err) {
      await closeAsync(storage);
      throw err;
    }
    node.driver = new Driver<R>({
      id: o.id,
      protocol: o.protocol,
      storage,
      network: { send: (frame) => node.transport?.send(frame) ?? false },
      clock: realClock,
      tickMs: timing.tickMs,
      stateMachine: o.stateMachine,
      encodeResult: o.encodeResult ?? ((r) => pack(r)),
      membership: {
        voters, outgoingVoters: [], learners: [...(o.learners ?? [])],
        ...(o.ranks === undefined ? {} : { ranks: o.ranks }), ...(o.nextRank === undefined ? {} : { nextRank: o.nextRank }),
        ...(o.since === undefined ? {} : { since: o.since }),
      },
      protocolOptions: { ...o.protocol.timingOptions(timing), ...o.protocolOptions },
      random: new Prng(o.seed ?? randomInt(0, 2 ** 31)),
      // From the system's randomness, never the seeded PRNG: two runs with the same seed (a test,
      // an operator's --seed) must still tell their requests apart. The PRNG is for the simulator.
      incarnation: randomBytes(INCARNATION_BYTES).toString('hex'),
      ...(o.authenticatorFor === undefined ? {} : { authenticatorFor: o.authenticatorFor }),
      ...(timestamps === null ? {} : { firstClientTimestamp: timestamps.first }),
      ...(o.limits === undefined ? {} : { limits: o.limits }),
      ...(o.mutant === undefined ? {} : { mutant: o.mutant }),
      logger: log,
      events: {
        leader: (s) => node.emit('leader', s),
        membership: (m) => node.emit('membership', m),
        applyBatch: (s, n) => node.emit('apply-batch', s, n),
        fatal: (err) => {
          void node.stop();
          node.emit('fatal', err);
        },
      },
    });
    for (const f of frames.splice(0)) node.driver.receive(f);
    node.ticker = setInterval(() => {
      node.driver.tick();
      if (node.peerDownWatch !== null) node.watchPeerDownCampaign();
    }, timing.tickMs);
    log('info', 'node started', { id: o.id, protocol: o.protocol.name, peerAddress: node.transport?.address() });
    return node;
  }

  status(): ReplicaStatus {
    return this.driver.status();
  }

  /** False once stop() was called or a fatal error stopped the node. */
  get running(): boolean {
    return this.driver.running;
  }

  /** The protocol core, for introspection (status, progress). Do not drive it directly. */
  get core(): Replica<Envelope, unknown> {
    return this.driver.replica;
  }

  transportStats(): ReturnType<PeerTransport<NodeMessage>['stats']> | null {
    return this.transport?.stats() ?? null;
  }

  /** Peer messages dropped because they failed the wire's or the protocol's message schema. */
  invalidPeerMessages(): number {
    return this.driver.invalidMessages;
  }

  storageStats(): ReturnType<DurableStorage<unknown>['stats']> {
    return this.storage.stats();
  }

  /** Proposals made here (or forwarded from here) still waiting for their result. */
  pendingProposals(): number {
    return this.driver.pendingProposals();
  }

  isLeader(): boolean {
    return this.driver.isLeader();
  }

  /** Names this run of the member (from the system's randomness; request ids carry it). */
  get incarnation(): string {
    return this.driver.incarnation;
  }

  /** Replicate a command; resolves with the state machine's result once it has been applied here. */
  propose(command: Uint8Array): Promise<R> {
    return promised<R>((reply) => {
      if (!this.takeClientTimestamp(reply)) return;
      this.driver.propose(command, reply);
    });
  }

  /**
   * A linearizable read barrier: resolves once this node's state machine reflects every write
   * committed before the call. Read the state machine right after it resolves. `timeoutMs`
   * (default: the read timeout) bounds how long it may wait, and how long it stays queued.
   */
  readBarrier(timeoutMs?: number): Promise<void> {
    return promised<void>((reply) => {
      if (!this.takeClientTimestamp(reply)) return;
      this.driver.readBarrier(reply, timeoutMs);
    });
  }

  /**
   * Quorum client model: each proposal and read barrier may use one client timestamp (a
   * client's timestamps go up by one per request); false (and the caller answered) when the
   * reservation on disk is used up and not yet extended.
   */
  private takeClientTimestamp(reply: Reply<never>): boolean {
    const t = this.clientTimestamps;
    if (t === null || t.take()) return true;
    reply(new TooManyRequests('CLIENT_TIMESTAMP_RESERVATION', CLIENT_TIMESTAMP_RESERVATION));
    return false;
  }

  /** A membership change through the protocol (leader only); a typed error if it has none. */
  changeMembership(change: unknown): Promise<void> {
    return promised<void>((reply) => this.driver.changeMembership(change, reply));
  }

  transferLeadership(target: NodeId): void {
    this.driver.transferLeadership(target);
  }

  /** Take a state machine snapshot now and compact the log behind it; resolves once it is durable. */
  snapshotNow(): Promise<void> {
    return promised<void>((reply) => this.driver.snapshotNow(reply));
  }

  /** Answer joining members' questions on the peer port (see transport/join.ts). */
  setJoinQueryHandler(handler: ((query: unknown) => unknown) | null): void {
    if (this.transport !== null) this.transport.joinQueryHandler = handler;
  }

  /** Peers joined or left: update where the transport dials. */
  setPeerAddresses(members: readonly MemberAddresses[]): void {
    this.transport?.setPeers(new Map(members.filter((m) => m.id !== this.id).map((m) => [m.id, m.peer])), members.some((m) => m.id === this.id));
  }

  async stop(): Promise<void> {
    if (this.ticker !== null) clearInterval(this.ticker);
    this.ticker = null;
    await new Promise<void>((resolve) => this.driver.stop(() => resolve()));
    await this.transport?.close();
    this.transport = null;
    (this.options.logger ?? silentLogger)('info', 'node stopped');
  }
}

/** A callback-style call as a Promise. */
function promised<T>(call: (reply: Reply<T>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => call((err, value) => (err === null ? resolve(value as T) : reject(err))));
}

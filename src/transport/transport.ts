/**
 * Peer messages over TCP. One outbound connection per peer (dialed by the sender, like etcd's
 * streams); inbound connections only receive. Every connection opens with a handshake naming
 * the cluster and both members; a wrong cluster or a member known to be removed is refused and
 * counted. A member the peer set does not show yet (this member's configuration is behind its
 * addition) is taken once it authenticates as a known member would, and answered at the address its
 * hello names (maxUnknownPeers); with member keys, one whose key is unknown cannot prove it.
 * With a shared cluster secret configured, both sides also prove they hold it (challenge and
 * response, fresh nonces both ways: peer-secret.ts) before a single frame is delivered or sent,
 * and every frame after the handshake carries a MAC under a key of that connection, over an implied
 * frame counter (frame-mac.ts): a frame altered, injected, replayed or reordered on the path
 * closes the connection and is counted (`frameMacFailures`); the dialer re-dials. With member keys
 * (a PeerIdentity), the dialer also signs the listener's fresh nonce with the key of the member it
 * names (peer-identity.ts), over TLS bound to the TLS channel (its exported keying material), so
 * a relay that terminates TLS cannot forward the proof; without, a link that only names its member
 * never closes a live one of that member (maxConnectionsPerPeer). With mutual TLS the certificate at
 * each end must name its member (its CN is the member's id: PeerTls.memberBinding), or the link
 * is refused and counted (`identityFailures`).
 * Malformed or oversized input closes that connection and is counted; nothing thrown by a
 * socket handler escapes, so the node keeps running. Queues per peer are bounded: when one is
 * full the message is dropped and counted (consensus protocols retransmit).
 *
 * A message whose frame would exceed maxFrameBytes is never sent and never dropped silently:
 * `send` returns false, the refusal is counted (`oversizedFramesSent`, and per peer
 * `refusedTooLarge`), handed to `onSendRefused` with a FrameTooLarge, and logged as an error
 * once per peer per `oversizedLogIntervalMs` (with how many were refused since). The protocols'
 * own byte limits keep every message well under the frame limit, so in normal operation this
 * never happens; when it does, something is misconfigured or a protocol limit is missing.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, connect as connectTls, type TLSSocket } from 'node:tls';
import { assert } from '../core/assert.js';
import { pack, packTransient, unpack } from '../core/codec.js';
import type { NodeId } from '../core/ids.js';
import type { Envelope } from '../core/replica.js';
import { encodeFrame, FrameDecoder, FrameTooLarge } from './frame.js';
import type { TransportMutant } from './mutants.js';
import { RemovedMembers } from './removed-members.js';
import { JOIN_QUERY_MAGIC, JoinListener, MAX_JOIN_QUERY_BYTES, type JoinStep } from './join.js';
import { DEFAULT_MAX_FRAMES_PER_CONNECTION, encodeSealableFrame, FrameOpener, FrameSealer } from './frame-mac.js';
import {
  freshNonce, isNonce, MAX_HANDSHAKE_FRAME_BYTES, MIN_PEER_SECRET_BYTES, PEER_AUTH_MAGIC, PEER_FRAME_MAC_VERSION, peerFrameKey, peerProof, proofMatches,
} from './peer-secret.js';
import {
  certificateNamesMember, MAX_PEER_SIGNATURE_BYTES, PEER_IDENTITY_TLS_VERSION, PEER_IDENTITY_VERSION, peerChannelBinding, PeerLinkRefused, peerIdentityPayload,
  type PeerCertMemberBinding, type PeerIdentity, type PeerLinkRefusal,
} from './peer-identity.js';

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export interface TransportLimits {
  /**
   * Largest frame accepted or sent: well above every protocol's own per-message byte limit (1 MiB by
   * default, and a single request of etcd's 1.5 MiB maximum always fits) plus envelope overhead.
   */
  readonly maxFrameBytes: number;
  readonly maxQueuedMessagesPerPeer: number;
  readonly maxQueuedBytesPerPeer: number;
  /**
   * A dialer re-dials a lost connection after a backoff that starts here and doubles (with jitter)
   * up to reconnectBackoffMaxMs. It starts over from the least only after a connection that stayed
   * up for reconnectBackoffMaxMs: one the listener refuses right after its handshake (its member
   * holds maxConnectionsPerPeer live links, or it could not prove the member's key) looks connected
   * to its dialer, and resetting then would re-dial it every few tens of milliseconds for as long
   * as it is refused.
   */
  readonly reconnectBackoffMinMs: number;
  readonly reconnectBackoffMaxMs: number;
  /**
   * How long an inbound connection may take, from the moment TCP accepted it, to finish its TLS
   * handshake (with TLS), its peer handshake and, with a secret, its proof; or to have its join
   * query answered. One that has not is closed and counted (`handshakeTimeouts`): a half-sent frame
   * or a silent socket holds a slot of maxPendingConnections for this long at most. Also how long a
   * dialer waits for the listener's proof.
   */
  readonly handshakeTimeoutMs: number;
  /**
   * Inbound connections not yet authenticated (accepted, the handshake not done; join queries until
   * they close) held at once. When one more is accepted, the oldest of them is closed to make room
   * and counted (`pendingConnectionsRefused`, logged at most once per oversizedLogIntervalMs): so
   * whoever can reach the peer port cannot make this member hold thousands of sockets, buffers and
   * timers, nor keep real members out by holding every slot with silent connections (refusing the
   * newest would let about maxPendingConnections / handshakeTimeoutMs connections a second, 13 with
   * the defaults, keep every member from re-dialling; closing the oldest, a real handshake of a few
   * round trips is lost only to some maxPendingConnections connections opened within it). A cluster
   * needs a few at a time (one dial per peer after a restart, a join or corruption-check query now
   * and then), so 64 leaves room for clusters far larger than any quorum.
   */
  readonly maxPendingConnections: number;
  /**
   * Authenticated inbound connections one member may hold at once. A dialer keeps one connection per
   * peer and closes it before it re-dials; older ones are connections it lost track of (its host
   * rebooted, a path that dropped the FIN). When a new one authenticates over this:
   * - with a PeerIdentity (the member proved its own key at the handshake: only it can open these),
   *   the oldest of that member's are closed and counted (`excessConnectionsClosed`): the newest is
   *   the one in use;
   * - without one (a handshake proves at most the shared secret, which every member holds, so anyone
   *   who completes one can name any member), or with one whose keys are shared (PeerIdentity.sharedKeys:
   *   derived from the cluster token, so any holder of the token signs as any member), only links of that member that are idle (no valid frame
   *   for liveConnectionMs) are closed, oldest first; if that is not enough, the newcomer is refused
   *   and counted (`liveConnectionsRefused`, a PeerLinkRefused 'too-many-live-links'): a link in use
   *   is never closed for a newcomer that merely names its member (peer-identity.ts). The real member
   *   re-dials with backoff and gets in once a link held in its name went quiet or closed.
   */
  readonly maxConnectionsPerPeer: number;
  /**
   * Without a PeerIdentity (or with shared keys): an authenticated inbound link that delivered a valid frame (or finished its
   * handshake) within this is live, and is not closed to make room for a newer link of its member
   * (maxConnectionsPerPeer). A link in use carries a frame at least every heartbeat (well under a
   * second), so 10 s tells a link in use from one whose dialer is gone (a member that restarted: its
   * new links get in at most this long after its old process last spoke). Apart from idleTimeoutMs
   * (which may be 0, never) so that a restarted member is never locked out for good.
   */
  readonly liveConnectionMs: number;
  /**
   * An authenticated inbound connection on which no complete frame arrived for this long is closed and
   * counted (`idleConnectionsClosed`); checked once per interval, so it is closed after between one
   * and two intervals of silence. A link in use carries a frame at least every heartbeat (a leader's
   * heartbeats, a follower's answers: well under a second), but a link may also be quiet for good
   * reason (a former leader's link to a follower carries nothing until it is leader again): closing
   * it costs only a re-dial at its next message (the dialer re-dials when it has something to send).
   * What this bounds is a connection that authenticated and then holds its socket and buffers with
   * nothing, or a frame it never finishes. A dialer ends its own link once it had nothing to send
   * for a third of this (checked every third; the check closes after between one and two thirds of
   * quiet): gracefully, so that what it wrote is read, and a message sent meanwhile waits for the
   * re-dial. The listener's close, which may cross a message in flight and lose it, then meets
   * only connections their dialer abandoned (or a dialer with a longer idleTimeoutMs). 0: never.
   */
  readonly idleTimeoutMs: number;
  /**
   * A peer's refused oversized messages are logged at most once per this interval (with a count); so are
   * pending connections closed over maxPendingConnections, and links refused after their handshake (per reason).
   */
  readonly oversizedLogIntervalMs: number;
  /**
   * With a secret: frames one connection carries before the dialer closes it and re-dials (fresh
   * keys, frame counters from 0), so a frame counter never wraps; a listener refuses a frame past
   * it. Equal on every member (a dialer with a larger one is closed by the listener and re-dials).
   */
  readonly maxFramesPerConnection: number;
  /**
   * Members not in this member's peer set (setPeers) that may hold authenticated inbound links at
   * once. A member whose configuration is behind another's addition does not show the new member
   * yet, and must still take its connections (as etcd's peer handler takes any member not known to
   * be removed), or it never learns of it from it. Such a member passes the same authentication as
   * a known one (peer TLS naming it, the peer secret, its own key); one known to be removed (it
   * left a configuration this member saw) is refused. A newcomer over this is refused and counted
   * (`unknownPeer`): whoever can authenticate cannot make this member keep state for many names.
   * Each holds at most maxConnectionsPerPeer links like any member.
   */
  readonly maxUnknownPeers: number;
  /**
   * Messages queued at once for such a member (its hello names the address it answers on; until the
   * configuration shows it, that is the only way to answer it: a Multi-Paxos candidate needs the
   * promise of a member that does not know it yet). Over it a message is dropped and counted as
   * for a full queue. Bytes: maxQueuedBytesPerPeer / 16.
   */
  readonly maxQueuedMessagesPerUnknownPeer: number;
}

/**
 * Largest frame an inbound connection may send before its peer is known (with a secret: before it
 * proved it): a hello, an answer to the challenge, a join query. Twice a join query's own limit,
 * so a query just over that is still answered with why it was refused; anything larger is refused
 * at its length prefix, before a byte of it is kept.
 */
export const MAX_UNAUTHENTICATED_FRAME_BYTES = 2 * MAX_JOIN_QUERY_BYTES;

export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = {
  maxFrameBytes: 4 * 1024 * 1024,
  maxQueuedMessagesPerPeer: 4096,
  maxQueuedBytesPerPeer: 64 * 1024 * 1024,
  reconnectBackoffMinMs: 50,
  reconnectBackoffMaxMs: 2000,
  handshakeTimeoutMs: 5000,
  maxPendingConnections: 64,
  maxConnectionsPerPeer: 4,
  liveConnectionMs: 10_000,
  idleTimeoutMs: 60_000,
  oversizedLogIntervalMs: 10_000,
  maxFramesPerConnection: DEFAULT_MAX_FRAMES_PER_CONNECTION,
  maxUnknownPeers: 8,
  maxQueuedMessagesPerUnknownPeer: 256,
};

export interface TransportOptions {
  readonly clusterId: string;
  readonly self: NodeId;
  readonly listen: PeerAddress;
  readonly peers: ReadonlyMap<NodeId, PeerAddress>;
  /**
   * The address peers dial this member on (its advertised peer URL). Its port is named in every
   * hello so that a member whose configuration does not show this one yet can answer it, on the
   * host the connection came from (see maxUnknownPeers, replyAddress). Absent: the listen address.
   */
  readonly advertise?: PeerAddress | null;
  readonly limits?: Partial<TransportLimits>;
  readonly logger?: (level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** Mutual TLS between peers: each side presents `cert` and accepts only certificates signed by `ca`. */
  readonly tls?: PeerTls | null;
  /**
   * The cluster's shared secret (at least MIN_PEER_SECRET_BYTES): every connection proves it at
   * its handshake, both ways (see peer-secret.ts), and one that does not is closed and counted
   * (`authFailures`). Absent: a peer is whoever its handshake names.
   */
  readonly secret?: Uint8Array | null;
  /**
   * This member's own key and every member's public key (the BFT runtime's member keys): every
   * inbound connection must then sign the listener's fresh nonce with the key of the member it names
   * (peer-identity.ts), or is refused (`identityFailures`), and every outbound one does. Absent: the
   * member a connection names is taken on its word (and on the secret's), so a newer link never
   * closes a live one (see maxConnectionsPerPeer). Every member must be configured alike.
   */
  readonly identity?: PeerIdentity | null;
  /** An inbound link was refused after its peer named itself (see PeerLinkRefused): for metrics and tests. */
  readonly onLinkRefused?: (err: PeerLinkRefused) => void;
  /**
   * A message could not be sent because its frame exceeds maxFrameBytes (called for every one,
   * besides the rate-limited log line): for metrics, or to stop on what is a bug.
   */
  readonly onSendRefused?: (err: FrameTooLarge, message: { readonly to: NodeId; readonly what: string }) => void;
  /** Test-only: one of TRANSPORT_MUTANTS (mutants.ts). */
  readonly mutant?: TransportMutant;
  /**
   * The last connection to or from `peer` that had completed its handshake (authenticated, where
   * the transport authenticates) closed, this member did not close it by stopping, and `peer` is
   * still a peer: its process may have died or its host reset the connection. A hint for an early
   * election (Replica.peerDown), never a fact: connections also close under a live peer (a
   * middlebox, its frame counter's re-dial when no other link is up). A connection that never
   * finished its handshake is never counted: an unauthenticated dialer cannot call this.
   */
  readonly onPeerDown?: (peer: NodeId) => void;
}

export interface PeerTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
  /**
   * How a certificate names its member (peer-identity.ts, PeerCertMemberBinding). Default
   * 'common-name': the certificate presented at each end of a link must carry the member's id as its
   * CN (its name for a member of the initial cluster: see PeerCertMemberBinding) (the listener checks the dialer's against the `from` of its hello, the dialer the
   * listener's against the member it dials), or the link is refused and counted
   * (`identityFailures`). Without it the cluster CA proves only that a peer is *some* holder of one
   * of its certificates, and that holder could name any member. 'none' exists for clusters whose
   * certificates cannot carry member names (one certificate for every member, certificates issued
   * per host by a CA the operator does not run): there the CA proves membership only, and member
   * keys or a peer secret must tell members apart. It is an explicit choice and never a fallback
   * taken when a certificate has no name, so a mis-issued certificate is refused, not quietly let in.
   */
  readonly memberBinding?: PeerCertMemberBinding;
}

/**
 * Peer TLS is TLS 1.3 only: both ends are quorate (Node negotiates 1.3 by default, so no member of
 * an earlier build is shut out), and in 1.3 the exported keying material a member key's signature
 * covers is unique to its connection (in 1.2 only with the extended master secret, RFC 7627,
 * which Node does not let us check).
 */
const PEER_TLS_MIN_VERSION = 'TLSv1.3';

interface Handshake {
  readonly magic: 'QRT1';
  readonly clusterId: string;
  readonly from: string;
  readonly to: string;
  /** With a cluster secret: the dialer's nonce for this connection. */
  readonly nonce?: Uint8Array;
  /** With a cluster secret: PEER_FRAME_MAC_VERSION (a build without frame MACs sends none). */
  readonly frameMac?: number;
  /**
   * With a PeerIdentity: the dialer will sign the listener's nonce; PEER_IDENTITY_VERSION over plain
   * TCP, PEER_IDENTITY_TLS_VERSION over TLS (the signature covers the TLS channel too).
   */
  readonly identity?: number;
  /** The port the dialer answers on (TransportOptions.advertise), on the host its connection comes from: used only while the listener's configuration does not show it. */
  readonly reply?: { readonly port?: unknown };
}

/**
 * With a cluster secret or a PeerIdentity: the listener's challenge (its nonce and, with a secret, its
 * proof), then the dialer's answer (with a secret its proof, with a PeerIdentity its signature).
 */
interface AuthFrame {
  readonly magic: typeof PEER_AUTH_MAGIC;
  readonly nonce?: Uint8Array;
  readonly proof?: Uint8Array;
  /** In the answer, with a PeerIdentity: the dialer's signature over peerIdentityPayload. */
  readonly signature?: Uint8Array;
  /** In the challenge: PEER_FRAME_MAC_VERSION (a build without frame MACs sends none). */
  readonly frameMac?: number;
}

export interface TransportCounters {
  malformedFrames: number;
  /** Frames over maxFrameBytes that peers tried to send here (the connection was closed). */
  oversizedFrames: number;
  /** Messages this member did not send because their frame would exceed maxFrameBytes. */
  oversizedFramesSent: number;
  wrongCluster: number;
  unknownPeer: number;
  handshakeFailures: number;
  /**
   * Connections closed because the peer did not prove the cluster secret (a wrong proof, none,
   * or none within handshakeTimeoutMs), inbound and outbound. Only with a secret configured.
   */
  authFailures: number;
  /**
   * Connections closed because a frame after the handshake failed its MAC (altered, injected,
   * replayed, reordered, a frame before it lost, or too short to carry one: frame-mac.ts). Only
   * with a secret configured; each is logged.
   */
  frameMacFailures: number;
  /**
   * Frames whose envelope `from` is not the peer that authenticated at the handshake (the frame
   * is dropped, the connection closed): a peer speaking for another member is faulty or hostile.
   */
  forgedSender: number;
  /** Messages the node's handler threw on (the transport went on with the next frame). */
  handlerErrors: number;
  /** Peer connections that closed after their handshake, inbound and outbound, for any reason. */
  connectionsClosed: number;
  /** Inbound connections not yet authenticated closed to make room for a newer one: maxPendingConnections were pending. */
  pendingConnectionsRefused: number;
  /**
   * Inbound connections closed because they were not authenticated (or their join query answered)
   * within handshakeTimeoutMs of being accepted (also counted as handshakeFailures or authFailures).
   */
  handshakeTimeouts: number;
  /**
   * Connections closed because they did not prove the key of the member they named (a wrong signature,
   * none, a hello offering none, or over TLS one not bound to this TLS channel), only with a
   * PeerIdentity configured; and with mutual TLS, connections whose certificate does not name the
   * member (inbound: the one its hello names; outbound: the one dialled; see PeerTls.memberBinding).
   * Each inbound one is a PeerLinkRefused; an outbound one is logged.
   */
  identityFailures: number;
  /**
   * Authenticated inbound connections closed to make room for a newer one of the same member over
   * maxConnectionsPerPeer (with a PeerIdentity the oldest; without, idle ones only).
   */
  excessConnectionsClosed: number;
  /**
   * Inbound connections refused after their handshake because their member held maxConnectionsPerPeer
   * live links (without a PeerIdentity: see maxConnectionsPerPeer); each is a PeerLinkRefused.
   */
  liveConnectionsRefused: number;
  /** Authenticated inbound connections closed after idleTimeoutMs without a complete frame. */
  idleConnectionsClosed: number;
  /** Outbound connections this member closed itself: nothing to send for a third of idleTimeoutMs (see idleTimeoutMs). */
  idleLinksClosed: number;
  received: number;
}

export interface PeerStats {
  connected: boolean;
  queued: number;
  sent: number;
  /** Dropped because the peer's queue was full. */
  dropped: number;
  /** Refused because the frame would exceed maxFrameBytes (never sent, logged; see the file comment). */
  refusedTooLarge: number;
  /** Outbound connections to this peer that closed after their handshake was sent. */
  disconnects: number;
  reconnects: number;
}

class OutboundLink {
  socket: Socket | null = null;
  connected = false;
  queue: Buffer[] = [];
  queuedBytes = 0;
  backoffMs: number;
  timer: NodeJS.Timeout | null = null;
  /** With a secret: seals the frames of the current connection (set once its handshake verified). */
  sealer: FrameSealer | null = null;
  /** Writes on the current connection since its idle check last looked (idleTimeoutMs). */
  writesSinceIdleCheck = 0;
  /** performance.now() when the current connection's handshake ended (see reconnectBackoffMinMs). */
  upAtMs = -Infinity;
  readonly stats: PeerStats = { connected: false, queued: 0, sent: 0, dropped: 0, refusedTooLarge: 0, disconnects: 0, reconnects: 0 };
  /** When an oversized message to this peer was last logged, and how many were refused since. */
  oversizedLoggedAtMs = -Infinity;
  oversizedUnlogged = 0;
  /** When a close before the challenge on this link was last logged, and how many since (closedBeforeChallenge). */
  refusedLoggedAtMs = -Infinity;
  refusedUnlogged = 0;
  /** When a listener certificate that does not name this peer was last logged, and how many since (it re-dials meanwhile). */
  certificateLoggedAtMs = -Infinity;
  certificateUnlogged = 0;
  constructor(public address: PeerAddress, backoffMs: number) {
    this.backoffMs = backoffMs;
  }
}

export class PeerTransport<M extends Envelope> {
  private server: Server | null = null;
  private readonly links = new Map<NodeId, OutboundLink>();
  /** Inbound connections in accept order, each with the member it authenticated as and when it last spoke. */
  private readonly inbound = new Map<Socket, InboundState>();
  private peers: Map<NodeId, PeerAddress>;
  /** Members that left a peer set this member was given and have not come back: refused at their handshake, their links closed (see RemovedMembers). Any other authenticated member is taken, known or not (see maxUnknownPeers). */
  private readonly removed = new RemovedMembers();
  /**
   * Members not in the peer set that hold an authenticated inbound link here, with the address their
   * hello names: where messages to them go until the peer set shows them (at most maxUnknownPeers).
   */
  private readonly unknownAddresses = new Map<NodeId, PeerAddress>();
  private closed = false;
  private readonly limits: TransportLimits;
  /**
   * Answers a joining member's question (who is in the cluster, what is my id) on a connection
   * that opens with a join query instead of a handshake; null: such connections are refused.
   */
  joinQueryHandler: ((query: unknown) => unknown) | null = null;
  readonly counters: TransportCounters = {
    malformedFrames: 0, oversizedFrames: 0, oversizedFramesSent: 0, wrongCluster: 0, unknownPeer: 0, handshakeFailures: 0, authFailures: 0, frameMacFailures: 0,
    forgedSender: 0, handlerErrors: 0, connectionsClosed: 0, pendingConnectionsRefused: 0, handshakeTimeouts: 0, identityFailures: 0, excessConnectionsClosed: 0,
    liveConnectionsRefused: 0, idleConnectionsClosed: 0, idleLinksClosed: 0, received: 0,
  };
  /**
   * Inbound connections not yet authenticated, by connectionKey (the TCP socket TLS runs over has the
   * same key as the TLS socket): at most maxPendingConnections. Each has its handshake deadline.
   */
  private readonly pending = new Map<string, PendingConnection>();
  /** When a pending connection closed at maxPendingConnections was last logged, and how many were closed since. */
  private pendingRefusedLoggedAtMs = -Infinity;
  private pendingRefusedUnlogged = 0;
  /** For each reason a link is refused (refuseLink): when it was last logged, and how many were refused since. */
  private readonly linkRefusalsLogged: Record<PeerLinkRefusal, { atMs: number; unlogged: number }> = {
    'identity-not-proven': { atMs: -Infinity, unlogged: 0 }, 'certificate-not-member': { atMs: -Infinity, unlogged: 0 },
    'too-many-live-links': { atMs: -Infinity, unlogged: 0 },
  };

  private readonly secret: Uint8Array | null;
  private readonly identity: PeerIdentity | null;
  /** Connections to and from each peer that completed their handshake and are still open (see onPeerDown). */
  private readonly linksUp = new Map<NodeId, number>();

  private constructor(private readonly o: TransportOptions, private readonly onMessage: (m: M) => void) {
    this.limits = { ...DEFAULT_TRANSPORT_LIMITS, ...o.limits };
    this.peers = new Map(o.peers);
    this.removed.update(this.peers.keys(), true);
    this.secret = o.secret ?? null;
    this.identity = o.identity ?? null;
    if (this.secret !== null && this.secret.byteLength < MIN_PEER_SECRET_BYTES) {
      throw new Error(`the peer secret must be at least ${MIN_PEER_SECRET_BYTES} bytes, got ${this.secret.byteLength}`);
    }
    // Checked here, not first by FrameSealer/FrameOpener: they are built inside a socket handler,
    // where a throw would escape and stop the node at its first handshake.
    const maxFrames = this.limits.maxFramesPerConnection;
    if (!Number.isSafeInteger(maxFrames) || maxFrames < 1) {
      throw new Error(`maxFramesPerConnection must be a positive safe integer (at most ${Number.MAX_SAFE_INTEGER}), got ${maxFrames}`);
    }
    for (const name of ['maxPendingConnections', 'maxConnectionsPerPeer', 'maxUnknownPeers', 'maxQueuedMessagesPerUnknownPeer'] as const) {
      const n = this.limits[name];
      if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${n}`);
    }
    // Node runs a timer of more than 2^31-1 ms after 1 ms (with a warning): an idle timeout of a month
    // would close every connection at once, and a handshake deadline would cut every handshake.
    if (!(this.limits.idleTimeoutMs >= 0 && this.limits.idleTimeoutMs <= MAX_TIMER_MS)) {
      throw new Error(`idleTimeoutMs must be 0 (never) or up to ${MAX_TIMER_MS}, got ${this.limits.idleTimeoutMs}`);
    }
    if (!(this.limits.liveConnectionMs > 0 && Number.isFinite(this.limits.liveConnectionMs))) {
      throw new Error(`liveConnectionMs must be positive and finite, got ${this.limits.liveConnectionMs}`);
    }
    if (!(this.limits.handshakeTimeoutMs > 0 && this.limits.handshakeTimeoutMs <= MAX_TIMER_MS)) {
      throw new Error(`handshakeTimeoutMs must be positive and at most ${MAX_TIMER_MS}, got ${this.limits.handshakeTimeoutMs}`);
    }
  }

  static async start<M extends Envelope>(options: TransportOptions, onMessage: (m: M) => void): Promise<PeerTransport<M>> {
    const t = new PeerTransport<M>(options, onMessage);
    const tls = options.tls ?? null;
    const server = tls === null
      ? createServer()
      : createTlsServer({ cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: true, minVersion: PEER_TLS_MIN_VERSION }, (socket) => t.accept(socket, socket));
    // Every TCP connection, with TLS before its handshake: held as pending (with its deadline) or refused at once.
    server.on('connection', (raw: Socket) => {
      if (t.admit(raw) && tls === null) t.accept(raw, null);
    });
    server.on('tlsClientError', (err: Error & { code?: string }) => {
      // A reset is a connection closed before its TLS handshake ended: by the dialer, or here (over
      // maxPendingConnections, past its deadline; those are counted on their own, and one log line
      // each would let whoever fills the pending slots flood the log).
      if (err.code === 'ECONNRESET') return t.log('debug', 'a peer connection closed during its TLS handshake', { error: err.message });
      t.counters.handshakeFailures++;
      t.log('warn', 'refused a peer connection that failed TLS', { error: err.message });
    });
    server.on('error', (err) => t.log('error', 'peer listener error', { error: err.message }));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.listen.port, options.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    t.server = server;
    return t;
  }

  address(): PeerAddress {
    const a = this.server?.address();
    if (a === null || a === undefined || typeof a === 'string') return this.o.listen;
    return { host: a.address, port: a.port };
  }

  /**
   * The members this one dials and knows, from the configuration its node shows. `selfShown`: whether
   * that configuration shows this member too (who counts as removed: RemovedMembers).
   */
  setPeers(peers: ReadonlyMap<NodeId, PeerAddress>, selfShown = true): void {
    this.removed.update(peers.keys(), selfShown);
    this.peers = new Map(peers);
    for (const id of [...this.unknownAddresses.keys()]) if (this.peers.has(id) || this.removed.has(id)) this.unknownAddresses.delete(id);
    for (const [id, link] of this.links) {
      const addr = this.addressOf(id);
      if (addr === undefined) {
        this.dropLink(id, link);
      } else if (addr.host !== link.address.host || addr.port !== link.address.port) {
        link.address = addr;
        link.socket?.destroy();
      }
    }
    // A member no longer in the cluster speaks no more on a connection it authenticated before
    // (a new one is refused at its handshake): close those connections. A member this one does not
    // know yet (never in its peer set) keeps its links (see maxUnknownPeers).
    for (const [socket, { peer }] of this.inbound) {
      if (peer !== null && this.removed.has(peer)) {
        this.log('info', `closed the connection from ${peer}: no longer a peer`, { peer });
        socket.destroy();
      }
    }
  }

  /**
   * Queue `msg` for its addressee. Never throws, never blocks; false if it was not queued (no
   * address, a full queue, or a frame over maxFrameBytes, which is also counted, reported to
   * onSendRefused and logged: see the file comment).
   */
  /** Where `id` is dialled: its address in the peer set, else (a member not shown yet that dialled here) the one its hello named. */
  private addressOf(id: NodeId): PeerAddress | undefined {
    return this.peers.get(id) ?? this.unknownAddresses.get(id);
  }

  send(msg: M): boolean {
    if (this.closed) return false;
    const addr = this.addressOf(msg.to);
    if (addr === undefined) return false;
    let link = this.links.get(msg.to);
    if (link === undefined) {
      link = new OutboundLink(addr, this.limits.reconnectBackoffMinMs);
      this.links.set(msg.to, link);
    }
    let frame: Buffer;
    try {
      // With a secret the frame has room for its tag, filled in when a connection writes it.
      frame = this.secret === null ? encodeFrame(packTransient(msg)) : encodeSealableFrame(packTransient(msg));
    } catch (err) {
      this.log('error', 'could not encode a peer message', { error: (err as Error).message });
      return false;
    }
    if (frame.length > this.limits.maxFrameBytes) {
      this.refuseOversized(msg, link, frame.length);
      return false;
    }
    const known = this.peers.has(msg.to);
    const maxMessages = known ? this.limits.maxQueuedMessagesPerPeer : this.limits.maxQueuedMessagesPerUnknownPeer;
    const maxBytes = known ? this.limits.maxQueuedBytesPerPeer : Math.floor(this.limits.maxQueuedBytesPerPeer / 16);
    if (link.queue.length >= maxMessages || link.queuedBytes + frame.length > maxBytes) {
      link.stats.dropped++;
      return false;
    }
    link.queue.push(frame);
    link.queuedBytes += frame.length;
    if (link.connected) this.scheduleDrain(msg.to, link);
    else if (link.socket === null && link.timer === null) this.dial(msg.to, link);
    return true;
  }

  /** A message whose frame exceeds maxFrameBytes: count it, report it, log it (rate-limited per peer). */
  private refuseOversized(msg: M, link: OutboundLink, frameBytes: number): void {
    const err = new FrameTooLarge(frameBytes, this.limits.maxFrameBytes);
    const what = describeMessage(msg);
    this.counters.oversizedFramesSent++;
    link.stats.refusedTooLarge++;
    link.oversizedUnlogged++;
    try {
      this.o.onSendRefused?.(err, { to: msg.to, what });
    } catch (e) {
      this.log('error', 'onSendRefused threw', { error: (e as Error).message });
    }
    const now = performance.now();
    if (now - link.oversizedLoggedAtMs < this.limits.oversizedLogIntervalMs) return;
    this.log('error', `not sent to ${msg.to}: ${what} does not fit in a frame (${err.message}); a protocol message limit is missing or misconfigured`, {
      peer: msg.to, frameBytes, maxFrameBytes: this.limits.maxFrameBytes, refusedSinceLastLog: link.oversizedUnlogged, refusedTotal: link.stats.refusedTooLarge,
    });
    link.oversizedLoggedAtMs = now;
    link.oversizedUnlogged = 0;
  }

  /** Per-peer link stats, the counters, and how many inbound connections are not yet authenticated (at most maxPendingConnections). */
  stats(): { peers: Record<string, PeerStats>; counters: TransportCounters; pendingConnections: number } {
    const peers: Record<string, PeerStats> = {};
    for (const [id, l] of this.links) peers[id] = { ...l.stats, connected: l.connected, queued: l.queue.length };
    return { peers, counters: { ...this.counters }, pendingConnections: this.pending.size };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const [id, link] of this.links) this.dropLink(id, link);
    for (const s of this.inbound.keys()) s.destroy();
    // Those not authenticated yet too (with TLS, those still in their TLS handshake are in no other
    // set): the listener's close waits for every connection, and these would hold it up to their deadline.
    for (const entry of this.pending.values()) {
      clearTimeout(entry.timer);
      entry.socket.destroy();
    }
    this.pending.clear();
    await new Promise<void>((resolve) => (this.server === null ? resolve() : this.server.close(() => resolve())));
  }

  // ---- outbound ----------------------------------------------------------------------------------

  private dial(id: NodeId, link: OutboundLink): void {
    if (this.closed) return;
    const tls = this.o.tls ?? null;
    const socket = tls === null
      ? connect({ host: link.address.host, port: link.address.port })
      : connectTls({ host: link.address.host, port: link.address.port, cert: tls.cert, key: tls.key, ca: tls.ca, minVersion: PEER_TLS_MIN_VERSION });
    link.socket = socket;
    socket.setNoDelay(true);
    let handshaken = false;
    let idleCheck: NodeJS.Timeout | null = null;
    const ready = (sealer: FrameSealer | null): void => {
      handshaken = true;
      this.linkUp(id);
      link.sealer = sealer;
      link.connected = true;
      // Not the backoff yet: a listener may still refuse this link (see reconnectBackoffMinMs).
      link.upAtMs = performance.now();
      link.writesSinceIdleCheck = 0;
      const idleMs = this.limits.idleTimeoutMs;
      if (idleMs > 0) {
        idleCheck = setInterval(() => {
          if (link.socket !== socket || !link.connected) return; // closing, or waiting on back-pressure
          if (link.writesSinceIdleCheck > 0 || link.queue.length > 0) {
            link.writesSinceIdleCheck = 0;
            return;
          }
          // Nothing to send for a third of idleTimeoutMs: end it here, before the listener's idle
          // check closes it under a message in flight (see idleTimeoutMs). What is sent from now on
          // is queued; the close re-dials for it.
          this.counters.idleLinksClosed++;
          this.log('debug', `closed the connection to peer ${id}: nothing to send for idleTimeoutMs/3=${Math.round(idleMs / 3)} ms (it re-dials at its next message)`, { peer: id });
          link.connected = false;
          link.sealer = null;
          socket.end();
          setTimeout(() => socket.destroy(), this.limits.handshakeTimeoutMs).unref();
        }, idleMs / 3);
        idleCheck.unref();
      }
      this.scheduleDrain(id, link);
    };
    const secret = this.secret;
    const identity = this.identity;
    // With a secret or a PeerIdentity the listener challenges: a nonce from each side.
    const nonce = secret === null && identity === null ? null : freshNonce();
    /** Whether this member sent its hello on this connection (and, with a nonce, whether a challenge came back). */
    let helloSent = false;
    let challenged = false;
    /** This member closed the connection itself for a reason it logged (so its close is not blamed on the listener). */
    let refusedHere = false;
    /** With TLS and member keys: this connection's channel binding, taken once its TLS handshake is done. */
    let channel: Buffer | null = null;
    socket.on(tls === null ? 'connect' : 'secureConnect', () => {
      if (tls !== null && (tls.memberBinding ?? 'common-name') === 'common-name') {
        // The listener's certificate must name the member dialled (TLS already checked it names the
        // peer URL's host): on a host that runs several members, another's must not answer for it.
        const why = certificateNamesMember((socket as TLSSocket).getPeerCertificate(), id);
        if (why !== null) {
          refusedHere = true;
          this.counters.identityFailures++;
          // Logged at most once per oversizedLogIntervalMs per peer (with how many since), as the
          // listener logs its refusals: this member re-dials every reconnectBackoffMaxMs meanwhile.
          link.certificateUnlogged++;
          const now = performance.now();
          if (now - link.certificateLoggedAtMs >= this.limits.oversizedLogIntervalMs) {
            this.log('warn', `closed the connection to peer ${id}: ${why} (issue each member a peer certificate with its id as CN: its --name, or for a member added later its 16-hex-digit member id; or run every member with --peer-cert-member-binding none)`, {
              peer: id, counter: 'identityFailures', code: 'UNAUTHENTICATED', refusedSinceLastLog: link.certificateUnlogged,
            });
            link.certificateLoggedAtMs = now;
            link.certificateUnlogged = 0;
          }
          socket.destroy();
          return;
        }
      }
      if (tls !== null && identity !== null) {
        try {
          channel = peerChannelBinding(socket as TLSSocket);
        } catch (err) {
          // Not expected once secureConnect fired; a socket handler must not throw (the node would stop).
          refusedHere = true;
          this.log('error', `closed the connection to peer ${id}: could not export its TLS channel binding`, { peer: id, error: (err as Error).message });
          socket.destroy();
          return;
        }
      }
      const hello: Handshake = {
        magic: 'QRT1', clusterId: this.o.clusterId, from: this.o.self, to: id, reply: { port: (this.o.advertise ?? this.address()).port },
        ...(nonce === null ? {} : { nonce }), ...(secret === null ? {} : { frameMac: PEER_FRAME_MAC_VERSION }),
        ...(identity === null ? {} : { identity: tls === null ? PEER_IDENTITY_VERSION : PEER_IDENTITY_TLS_VERSION }),
      };
      socket.write(encodeFrame(packTransient(hello)));
      helloSent = true;
      // Without a secret or an identity the connection is ready now; else once the challenge is answered (below).
      if (nonce === null) ready(null);
    });
    if (nonce !== null) {
      const authFailed = (why: string): void => {
        refusedHere = true;
        this.counters.authFailures++;
        this.log('warn', `closed the connection to peer ${id}: ${why}`, { peer: id, counter: 'authFailures' });
        socket.destroy();
      };
      const timer = setTimeout(() => {
        if (!link.connected && link.socket === socket) {
          authFailed(`no challenge (with a secret, its proof) within ${this.limits.handshakeTimeoutMs} ms` + (secret === null
            // With member keys only, an older build's listener (or one without keys) takes the hello and never challenges.
            ? '; with member keys every listener challenges: a member of a build from before peer identity, or one without member keys, never does (upgrade every member together, each with its keys)'
            : ''));
        }
      }, this.limits.handshakeTimeoutMs);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
      const decoder = new FrameDecoder(MAX_HANDSHAKE_FRAME_BYTES);
      socket.on('data', (chunk: Buffer) => {
        if (handshaken) return this.log('debug', `peer ${id} sent ${chunk.length} bytes on an outbound connection`);
        let challenge: Partial<AuthFrame> | undefined;
        try {
          const frames = decoder.push(chunk);
          if (frames.length === 0) return;
          challenge = unpack(frames[0]!) as Partial<AuthFrame>;
        } catch (err) {
          return authFailed(`an unreadable challenge (${(err as Error).message})`);
        }
        if (typeof challenge !== 'object' || challenge === null || challenge.magic !== PEER_AUTH_MAGIC || !isNonce(challenge.nonce)) {
          return authFailed('the peer sent no challenge');
        }
        const theirs = challenge.nonce;
        challenged = true;
        if (secret !== null && !proofMatches(challenge.proof, peerProof(secret, 'listener', this.o.clusterId, id, this.o.self, nonce, theirs))) {
          return authFailed('the peer did not prove the cluster secret');
        }
        if (secret !== null && challenge.frameMac !== PEER_FRAME_MAC_VERSION) {
          // It holds the secret but would take frames without checking their MACs: refuse, loudly.
          return authFailed(`the peer runs a build without frame MACs (its challenge offers frame-MAC version ${String(challenge.frameMac)}, this build needs ${PEER_FRAME_MAC_VERSION}); ` +
            'with a peer secret, every member must run a build with frame MACs (see the upgrade notes in the README)');
        }
        clearTimeout(timer);
        const answer: AuthFrame = {
          magic: PEER_AUTH_MAGIC,
          ...(secret === null ? {} : { proof: peerProof(secret, 'dialer', this.o.clusterId, this.o.self, id, nonce, theirs) }),
          ...(identity === null ? {} : {
            // Over TLS, bound to this TLS connection: a relay that terminates it cannot pass the signature on.
            signature: identity.sign(peerIdentityPayload(this.o.clusterId, this.o.self, id, nonce, theirs, channel)),
          }),
        };
        socket.write(encodeFrame(packTransient(answer)));
        if (secret === null) return ready(null);
        const key = peerFrameKey(secret, 'dialer-to-listener', this.o.clusterId, this.o.self, id, nonce, theirs);
        ready(new FrameSealer(key, this.limits.maxFramesPerConnection));
      });
    } else {
      socket.on('data', (d) => this.log('debug', `peer ${id} sent ${d.length} bytes on an outbound connection (refusal?)`));
    }
    socket.on('error', (err) => this.log('debug', `connection to ${id} failed`, { error: err.message }));
    socket.on('close', () => {
      if (idleCheck !== null) clearInterval(idleCheck);
      if (identity !== null && helloSent && !challenged && !refusedHere && !this.closed && this.links.get(id) === link) this.closedBeforeChallenge(id, link, tls !== null);
      if (handshaken) {
        this.counters.connectionsClosed++;
        link.stats.disconnects++;
        this.linkDown(id);
      }
      link.connected = false;
      link.socket = null;
      link.sealer = null;
      if (this.closed || this.links.get(id) !== link) return;
      // A connection that stayed up a while worked: start over from the least backoff. One refused
      // right after its handshake did not (see reconnectBackoffMinMs): its backoff goes on growing.
      if (handshaken && performance.now() - link.upAtMs >= this.limits.reconnectBackoffMaxMs) link.backoffMs = this.limits.reconnectBackoffMinMs;
      // Reconnect with exponential backoff and jitter; queued messages wait (bounded).
      const delay = link.backoffMs * (0.5 + Math.random() / 2);
      link.backoffMs = Math.min(link.backoffMs * 2, this.limits.reconnectBackoffMaxMs);
      link.stats.reconnects++;
      link.timer = setTimeout(() => {
        link.timer = null;
        if (link.queue.length > 0) this.dial(id, link);
      }, delay);
      link.timer.unref();
    });
  }

  private linkUp(peer: NodeId): void {
    this.linksUp.set(peer, (this.linksUp.get(peer) ?? 0) + 1);
  }

  /** A connection with `peer` that had completed its handshake closed: the last one tells onPeerDown. */
  private linkDown(peer: NodeId): void {
    const n = this.linksUp.get(peer) ?? 0;
    assert(n > 0, () => `a connection with ${peer} closed that was never counted up`);
    if (n > 1) {
      this.linksUp.set(peer, n - 1);
      return;
    }
    this.linksUp.delete(peer);
    if (this.closed || !this.peers.has(peer)) return;
    this.log('debug', `every connection with peer ${peer} closed`, { peer });
    try {
      this.o.onPeerDown?.(peer);
    } catch (err) {
      this.log('error', 'the peer-down handler threw', { peer, error: (err as Error).message });
    }
  }

  /**
   * With member keys: the listener closed a connection after this member's hello and before its
   * challenge, so it refused the hello. Logged (at most once per oversizedLogIntervalMs per peer, the
   * dialer re-dials meanwhile) with the likely cause during an upgrade: over TLS, a listener of a build
   * without channel binding refuses identity version 2 (it needs 1), and says only that the hello
   * offered no proof of the member's key. Not counted: the listener counts its refusal.
   */
  private closedBeforeChallenge(id: NodeId, link: OutboundLink, overTls: boolean): void {
    link.refusedUnlogged++;
    const now = performance.now();
    if (now - link.refusedLoggedAtMs < this.limits.oversizedLogIntervalMs) return;
    const why = overTls
      ? `with member keys over TLS this member's hello offers identity version ${PEER_IDENTITY_TLS_VERSION} (the proof bound to the TLS channel), which a member of a build ` +
        `without channel binding refuses (it needs version ${PEER_IDENTITY_VERSION} and logs that the hello offers no proof of the member's key): upgrade every member together ` +
        '(see the upgrade notes in the README); otherwise its log says why (another cluster, an unknown member, a certificate that does not name this member)'
      : 'its log says why (another cluster, an unknown member, a member configured without member keys)';
    this.log('warn', `peer ${id} closed the connection after this member's hello, before its challenge: ${why}`, { peer: id, refusedSinceLastLog: link.refusedUnlogged });
    link.refusedLoggedAtMs = now;
    link.refusedUnlogged = 0;
  }

  private drainScheduled = new Set<NodeId>();

  /** Coalesce every message queued in this turn of the event loop into one write. */
  private scheduleDrain(id: NodeId, link: OutboundLink): void {
    if (this.drainScheduled.has(id)) return;
    this.drainScheduled.add(id);
    setImmediate(() => {
      this.drainScheduled.delete(id);
      const socket = link.socket;
      if (!link.connected || socket === null || link.queue.length === 0) return;
      let batch = link.queue;
      link.queue = [];
      const sealer = link.sealer;
      // With a secret, queued frames have an empty tag: a connection that is up has a sealer (ready()).
      if ((this.secret !== null) !== (sealer !== null)) throw new Error(`assertion: a connection to ${id} is up without its frame sealer`);
      if (sealer !== null) {
        // Sealed now, in the order written: the tags carry this connection's frame counters.
        const fits = sealer.remaining();
        if (batch.length > fits) {
          link.queue = batch.slice(fits);
          batch = batch.slice(0, fits);
        }
        for (const frame of batch) sealer.seal(frame);
      }
      link.queuedBytes = link.queue.reduce((sum, f) => sum + f.length, 0);
      link.stats.sent += batch.length;
      link.writesSinceIdleCheck++;
      const ok = socket.write(batch.length === 1 ? batch[0]! : Buffer.concat(batch));
      if (sealer !== null && sealer.remaining() === 0) {
        // The frame counter's limit: close after what was written; the close re-dials (new keys).
        this.log('info', `re-dialling peer ${id}: the connection carried maxFramesPerConnection=${this.limits.maxFramesPerConnection} frames`, { peer: id });
        link.connected = false;
        link.sealer = null;
        socket.end();
        // The close (and so the re-dial) waits on the listener's end; one that never closes it (hung,
        // or a FIN answered by nothing on the path) must not hold this peer's queue for ever.
        setTimeout(() => socket.destroy(), this.limits.handshakeTimeoutMs).unref();
        return;
      }
      if (!ok) {
        link.connected = false; // back-pressure: queue until the socket drains
        socket.once('drain', () => {
          if (link.socket !== socket || socket.writableEnded) return;
          link.connected = true;
          this.scheduleDrain(id, link);
        });
      }
    });
  }

  private dropLink(id: NodeId, link: OutboundLink): void {
    if (link.timer !== null) clearTimeout(link.timer);
    link.socket?.destroy();
    this.links.delete(id);
  }

  // ---- inbound -------------------------------------------------------------------------------------

  /**
   * TCP accepted `raw` (with TLS: before its TLS handshake). Held as pending, with a deadline of
   * handshakeTimeoutMs; when maxPendingConnections are pending already, the oldest of them is
   * closed first (counted, the log line rate-limited). Returns whether it was held.
   */
  private admit(raw: Socket): boolean {
    const key = connectionKey(raw);
    if (this.closed || key === null) {
      raw.destroy(); // stopping, or a connection gone before it was seen
      return false;
    }
    while (this.pending.size >= this.limits.maxPendingConnections) {
      // The map keeps admission order: its first is the oldest.
      const [oldestKey, oldest] = this.pending.entries().next().value as [string, PendingConnection];
      this.pending.delete(oldestKey);
      clearTimeout(oldest.timer);
      this.counters.pendingConnectionsRefused++;
      this.pendingRefusedUnlogged++;
      const now = performance.now();
      if (now - this.pendingRefusedLoggedAtMs >= this.limits.oversizedLogIntervalMs) {
        this.log('warn', `closed a peer connection from ${oldest.socket.remoteAddress ?? '?'} to take a newer one: maxPendingConnections=${this.limits.maxPendingConnections} connections are not yet authenticated`, {
          counter: 'pendingConnectionsRefused', refusedSinceLastLog: this.pendingRefusedUnlogged, refusedTotal: this.counters.pendingConnectionsRefused,
        });
        this.pendingRefusedLoggedAtMs = now;
        this.pendingRefusedUnlogged = 0;
      }
      oldest.socket.destroy();
    }
    assert(this.pending.size < this.limits.maxPendingConnections, () => `${this.pending.size} connections pending, at maxPendingConnections=${this.limits.maxPendingConnections}`);
    const entry: PendingConnection = {
      socket: raw,
      // Until accept() sets its own (with TLS, the TLS handshake has not ended: its reset is not counted again).
      expire: () => {
        this.counters.handshakeTimeouts++;
        this.counters.handshakeFailures++;
        raw.destroy();
      },
      timer: setTimeout(() => {
        if (this.pending.get(key) !== entry) return;
        this.pending.delete(key);
        entry.expire();
      }, this.limits.handshakeTimeoutMs),
    };
    entry.timer.unref();
    this.pending.set(key, entry);
    raw.once('close', () => this.release(key, entry));
    return true;
  }

  /** A pending connection authenticated, or closed: its slot and its deadline go. */
  private release(key: string, entry: PendingConnection): void {
    if (this.pending.get(key) !== entry) return;
    clearTimeout(entry.timer);
    this.pending.delete(key);
  }

  /**
   * `socket` authenticated as `peer`. Over maxConnectionsPerPeer of that member's links, room is
   * made (inbound keeps accept order, so oldest first): with a PeerIdentity by closing its oldest;
   * without (or with shared keys), by closing only idle ones (no valid frame for liveConnectionMs), and if that is not
   * enough the newcomer is refused (see maxConnectionsPerPeer). False: `socket` was refused (closed).
   */
  private authenticated(socket: Socket, peer: NodeId): boolean {
    const state = this.inbound.get(socket);
    assert(state !== undefined && state.peer === null, () => `a connection authenticates once, as ${peer}`);
    if (!this.peers.has(peer) && !this.unknownAddresses.has(peer)) {
      const unknown = new Set<NodeId>();
      for (const [other, o] of this.inbound) if (o.peer !== null && !this.peers.has(o.peer) && other !== socket && !other.destroyed) unknown.add(o.peer);
      // A member that already holds a slot (its hello named no reply address) takes no second one.
      if (!unknown.has(peer) && unknown.size >= this.limits.maxUnknownPeers) {
        this.counters.unknownPeer++;
        this.log('warn', `refused a connection from ${peer} (${socket.remoteAddress ?? '?'}): not in this member's configuration, and maxUnknownPeers=${this.limits.maxUnknownPeers} such members hold links`, { peer, counter: 'unknownPeer' });
        socket.destroy();
        return false;
      }
    }
    const max = this.limits.maxConnectionsPerPeer;
    const now = performance.now();
    // A proof of a shared key (derived from the cluster token) shows only that the dialer holds the
    // token: it must not close a member's live links (PeerIdentity.sharedKeys).
    const proven = this.identity !== null && this.identity.sharedKeys !== true;
    const mine: Socket[] = [];
    for (const [other, o] of this.inbound) if (o.peer === peer && other !== socket && !other.destroyed) mine.push(other);
    // The ones that may be closed for the newcomer, oldest first.
    const closable = proven ? mine : mine.filter((other) => now - this.inbound.get(other)!.lastFrameAtMs >= this.limits.liveConnectionMs);
    const excess = mine.length + 1 - max;
    if (excess > closable.length) {
      assert(!proven, 'with a PeerIdentity of the member\'s own keys every older link of a member may be closed');
      this.counters.liveConnectionsRefused++;
      this.refuseLink(socket, 'too-many-live-links', peer,
        `refused a new connection from ${peer}: it holds maxConnectionsPerPeer=${max} links that delivered a frame within liveConnectionMs=${this.limits.liveConnectionMs} ms ` +
        '(a link in use is never closed for one that only names its member; if this repeats while that member is up, someone else opens links in its name: provision member keys' +
        (this.identity === null ? ')' : ' of each member\'s own; keys derived from the cluster token let anyone holding it sign as any member)'));
      return false;
    }
    for (const other of closable.slice(0, Math.max(0, excess))) {
      this.counters.excessConnectionsClosed++;
      this.log('info', `closed an older ${proven ? '' : 'idle '}connection from ${peer}: it holds more than maxConnectionsPerPeer=${max}`, { peer, counter: 'excessConnectionsClosed' });
      other.destroy();
    }
    state.peer = peer;
    state.lastFrameAtMs = now;
    let held = 0;
    for (const [other, o] of this.inbound) if (o.peer === peer && !other.destroyed) held++;
    assert(held <= max, () => `member ${peer} holds ${held} inbound connections, over maxConnectionsPerPeer=${max}`);
    return true;
  }

  /** A member not in the peer set closed its last link: its address and its queue go. */
  private forgetUnknown(peer: NodeId): void {
    this.unknownAddresses.delete(peer);
    const link = this.links.get(peer);
    if (link !== undefined && !this.peers.has(peer)) this.dropLink(peer, link);
  }

  /**
   * Close `socket` for `reason`: handed to onLinkRefused (the caller counted it), and logged with the
   * error's code at most once per oversizedLogIntervalMs for each reason (with how many since): a
   * refused dialer re-dials, and whoever can open connections would otherwise write a line each.
   */
  private refuseLink(socket: Socket, reason: PeerLinkRefusal, peer: NodeId, message: string): void {
    const err = new PeerLinkRefused(reason, peer, message);
    const logged = this.linkRefusalsLogged[reason];
    logged.unlogged++;
    const now = performance.now();
    if (now - logged.atMs >= this.limits.oversizedLogIntervalMs) {
      this.log('warn', message, { peer, code: err.code, reason, remoteAddress: socket.remoteAddress ?? null, refusedSinceLastLog: logged.unlogged });
      logged.atMs = now;
      logged.unlogged = 0;
    }
    try {
      this.o.onLinkRefused?.(err);
    } catch (e) {
      this.log('error', 'onLinkRefused threw', { error: (e as Error).message });
    }
    socket.destroy();
  }

  /** `tlsSocket`: the same socket, with TLS (its handshake done); null over plain TCP. */
  private accept(socket: Socket, tlsSocket: TLSSocket | null): void {
    const key = connectionKey(socket);
    const pending = key === null ? undefined : this.pending.get(key);
    if (this.closed || key === null || pending === undefined) {
      // Stopping, or (with TLS) its deadline passed or it closed while the TLS handshake ended.
      socket.destroy();
      return;
    }
    // With member keys over TLS: the channel binding the dialer's signature must cover, taken now
    // (the TLS handshake just ended), so that no frame handler has to ask a socket that may be closing.
    let channel: Buffer | null = null;
    if (tlsSocket !== null && this.identity !== null) {
      try {
        channel = peerChannelBinding(tlsSocket);
      } catch (err) {
        this.log('error', `closed a peer connection from ${socket.remoteAddress ?? '?'}: could not export its TLS channel binding`, { error: (err as Error).message });
        socket.destroy();
        return;
      }
    }
    this.inbound.set(socket, { peer: null, lastFrameAtMs: -Infinity });
    // Until the peer is known (with a secret: has proven it), only frames a handshake or a join
    // query needs: nobody makes this member keep maxFrameBytes per connection for a handshake timeout.
    const decoder = new FrameDecoder(Math.min(MAX_UNAUTHENTICATED_FRAME_BYTES, this.limits.maxFrameBytes));
    /** The member this connection speaks for: set once its handshake (and, with a secret, its proof) checked out. */
    let peer: NodeId | null = null;
    /**
     * With a secret or a PeerIdentity: the member the hello named and what its answer must prove (with a
     * secret: the proof, and the frame key once it did; with a PeerIdentity: the bytes it must sign).
     */
    let claimed: {
      readonly id: NodeId; readonly expected: Buffer | null; readonly frameKey: Buffer | null; readonly signed: Buffer | null;
      /** With a PeerIdentity and a secret: why its hello (offering no key proof) is refused once its answer proved the secret. */
      readonly noIdentity: string | null;
    } | null = null;
    /** With a secret, once the peer proved it: checks every frame's MAC before it is decoded. */
    let opener: FrameOpener | null = null;
    /** A connection that opened with a join query (join.ts): it gets one answer, never a peer. */
    let join: JoinListener | null = null;
    /** The address the hello named to answer on (used while the peer set does not show the member). */
    let replyTo: PeerAddress | null = null;
    /** Complete frames since the idle check last looked (idleTimeoutMs), once authenticated. */
    let framesSinceIdleCheck = 0;
    let idleCheck: NodeJS.Timeout | null = null;
    socket.on('close', () => {
      this.release(key, pending);
      if (idleCheck !== null) clearInterval(idleCheck);
      this.inbound.delete(socket);
      if (peer !== null && !this.peers.has(peer) && ![...this.inbound.values()].some((o) => o.peer === peer)) this.forgetUnknown(peer);
      if (peer !== null) {
        this.counters.connectionsClosed++;
        this.linkDown(peer);
      }
    });
    socket.on('error', (err) => this.log('debug', `connection from ${peer ?? socket.remoteAddress ?? '?'} failed`, { error: err.message }));
    // The deadline set when TCP accepted it (admit) goes on: a TLS handshake does not extend it.
    pending.expire = () => {
      this.counters.handshakeTimeouts++;
      if (claimed !== null || join?.waiting === true) this.counters.authFailures++;
      else this.counters.handshakeFailures++;
      if (join?.waiting === true) {
        this.log('warn', `refused a join query from ${socket.remoteAddress ?? '?'}: no answer to the challenge within ${this.limits.handshakeTimeoutMs} ms`, { counter: 'authFailures' });
      }
      socket.destroy();
    };
    /** The peer is known (with a secret: proved it): no longer pending; from now on it must not go silent. */
    const authenticatedAs = (id: NodeId): void => {
      this.release(key, pending);
      if (!this.authenticated(socket, id)) return;
      peer = id;
      if (!this.peers.has(id) && replyTo !== null) this.unknownAddresses.set(id, replyTo);
      this.linkUp(id);
      decoder.maxFrameBytes = this.limits.maxFrameBytes;
      const idleMs = this.limits.idleTimeoutMs;
      if (idleMs <= 0) return;
      idleCheck = setInterval(() => {
        if (framesSinceIdleCheck > 0) {
          framesSinceIdleCheck = 0;
          return;
        }
        this.counters.idleConnectionsClosed++;
        this.log('info', `closed the connection from ${id}: no frame for idleTimeoutMs=${idleMs} ms (it re-dials when it has something to send)`, { peer: id, counter: 'idleConnectionsClosed' });
        socket.destroy();
      }, idleMs);
      idleCheck.unref();
    };
    const refuse = (counter: keyof TransportCounters, why: string) => {
      this.counters[counter]++;
      const who = peer === null ? (socket.remoteAddress ?? '?') : `peer ${peer} (${socket.remoteAddress ?? '?'})`;
      this.log('warn', `closed the connection from ${who}: ${why}`, { counter });
      socket.destroy();
    };
    /** The end of a join-query connection: its answer, or (counted and logged) a refusal. */
    const joinStep = (step: Exclude<JoinStep, { kind: 'send' }>): void => {
      // An asker that never closes its end (refused or answered) must not keep the socket open
      // for ever: it has another handshake timeout to read its answer and go, still pending (a
      // slot of maxPendingConnections, so that answered queries cannot pile up either).
      clearTimeout(pending.timer);
      pending.expire = () => socket.destroy();
      pending.timer = setTimeout(() => {
        if (this.pending.get(key) !== pending) return;
        this.pending.delete(key);
        pending.expire();
      }, this.limits.handshakeTimeoutMs);
      pending.timer.unref();
      if (step.kind === 'refuse') {
        this.counters.authFailures++;
        this.log('warn', `refused a join query from ${socket.remoteAddress ?? '?'}: ${step.why}`, { counter: 'authFailures' });
      }
      socket.end(step.frame);
    };
    socket.on('data', (chunk: Buffer) => {
      decoder.append(chunk);
      // One frame at a time: each is checked against the limit in force when it is taken (raised
      // once the peer is known, possibly by a frame earlier in this same chunk).
      for (;;) {
        let frame: Buffer | null;
        try {
          frame = decoder.next();
        } catch (err) {
          if (err instanceof FrameTooLarge) return refuse('oversizedFrames', err.message);
          return refuse('malformedFrames', (err as Error).message);
        }
        if (frame === null) break;
        // A handler may have closed this connection while an earlier frame of this chunk was delivered (setPeers).
        if (socket.destroyed) return;
        framesSinceIdleCheck++;
        let f = frame;
        if (opener !== null) {
          const opened = opener.open(frame);
          if ('refused' in opened) return refuse('frameMacFailures', opened.refused);
          f = opened.payload;
        }
        let value: unknown;
        try {
          value = unpack(f);
        } catch {
          return refuse('malformedFrames', 'undecodable frame');
        }
        if (claimed !== null) {
          // The dialer's answer to this listener's challenge: nothing is delivered before it verifies.
          const a = value as Partial<AuthFrame>;
          const c = claimed;
          const isAnswer = typeof a === 'object' && a !== null && a.magic === PEER_AUTH_MAGIC;
          if (c.expected !== null && !(isAnswer && proofMatches(a.proof, c.expected))) return refuse('authFailures', `member ${c.id} did not prove the cluster secret`);
          if (c.noIdentity !== null) {
            this.counters.identityFailures++;
            return this.refuseLink(socket, 'identity-not-proven', c.id, c.noIdentity);
          }
          if (c.signed !== null) {
            const sig = isAnswer ? a.signature : undefined;
            const signedOk = sig instanceof Uint8Array && sig.byteLength <= MAX_PEER_SIGNATURE_BYTES && this.identity!.verify(c.id, c.signed, sig);
            if (!signedOk) {
              this.counters.identityFailures++;
              return this.refuseLink(socket, 'identity-not-proven', c.id, `refused a connection from ${socket.remoteAddress ?? '?'} naming member ${c.id}: it did not sign this connection's challenge with ${c.id}'s key`);
            }
          }
          if (c.frameKey !== null) opener = new FrameOpener(c.frameKey, this.limits.maxFramesPerConnection);
          claimed = null;
          authenticatedAs(c.id);
          if (peer === null) return; // refused: its member holds maxConnectionsPerPeer live links
          continue;
        }
        if (join !== null) {
          if (join.waiting) return joinStep(join.next(value));
          continue; // answered: what the asker sends after it is read and dropped, not kept
        }
        if (peer === null) {
          const q = value as { magic?: unknown };
          const handler = this.joinQueryHandler;
          if (typeof q === 'object' && q !== null && q.magic === JOIN_QUERY_MAGIC && handler !== null) {
            join = new JoinListener(this.secret, handler);
            const step = join.first(f, value);
            if (step.kind === 'send') {
              socket.write(step.frame);
              continue;
            }
            return joinStep(step);
          }
          const h = value as Partial<Handshake>;
          if (typeof h !== 'object' || h === null || h.magic !== 'QRT1') return refuse('handshakeFailures', 'no handshake');
          if (h.clusterId !== this.o.clusterId) return refuse('wrongCluster', `cluster id ${String(h.clusterId)} is not ${this.o.clusterId}`);
          if (typeof h.from !== 'string' || h.from === '' || h.from === this.o.self) return refuse('unknownPeer', `unknown member ${String(h.from)}`);
          // A member not in the peer set is taken (authenticated below exactly as a known one) unless
          // it is known to be removed: this member's configuration may be behind its addition.
          if (this.removed.has(h.from as NodeId)) return refuse('unknownPeer', `member ${h.from} was removed from the cluster`);
          if (this.o.mutant === 'refuse-unknown-peers' && !this.peers.has(h.from as NodeId)) return refuse('unknownPeer', `unknown member ${h.from}`);
          if (h.to !== this.o.self) return refuse('unknownPeer', `addressed to ${String(h.to)}, not ${this.o.self}`);
          replyTo = replyAddress(h.reply, socket.remoteAddress);
          const tls = this.o.tls ?? null;
          if (tlsSocket !== null && tls !== null && (tls.memberBinding ?? 'common-name') === 'common-name') {
            // Mutual TLS proved a certificate of the cluster CA; it must also be the named member's.
            const why = certificateNamesMember(tlsSocket.getPeerCertificate(), h.from);
            if (why !== null) {
              this.counters.identityFailures++;
              return this.refuseLink(socket, 'certificate-not-member', h.from as NodeId,
                `refused a connection from ${socket.remoteAddress ?? '?'} naming member ${h.from}: ${why} ` +
                '(issue each member a peer certificate with its id as CN: its --name, or for a member added later its 16-hex-digit member id; or run every member with --peer-cert-member-binding none)');
            }
          }
          const secret = this.secret;
          const identity = this.identity;
          // Over TLS the proof must be bound to this TLS connection; over TCP there is no channel to bind to.
          const needed = tlsSocket === null ? PEER_IDENTITY_VERSION : PEER_IDENTITY_TLS_VERSION;
          const noIdentity = identity !== null && (h.identity !== needed || !isNonce(h.nonce))
            ? `refused a connection from ${socket.remoteAddress ?? '?'} naming member ${h.from}: ` + (
              h.identity === PEER_IDENTITY_VERSION && needed === PEER_IDENTITY_TLS_VERSION && isNonce(h.nonce)
                ? `its hello offers identity version ${PEER_IDENTITY_VERSION}, a proof of the member's key not bound to the TLS channel, and over TLS this member needs ` +
                  `${PEER_IDENTITY_TLS_VERSION}: that member runs a build without channel binding (upgrade every member together: see the upgrade notes in the README)`
                : h.identity === PEER_IDENTITY_TLS_VERSION && needed === PEER_IDENTITY_VERSION
                  ? `its hello offers identity version ${PEER_IDENTITY_TLS_VERSION}, a proof bound to a TLS channel, and this link is plain TCP ` +
                    '(a TLS connection relayed onto plain TCP, or members configured unlike: every member needs the same peer URL scheme)'
                  : `its hello offers no proof of the member's key (identity version ${String(h.identity)}, this member needs ${needed}): that member runs a build from before peer identity ` +
                    '(upgrade every member together: see the upgrade notes in the README) or is configured without member keys (every member needs its own)')
            : null;
          // With a secret, refused only once the dialer proved it (its answer, below): a hello from
          // anyone must not be counted, or logged, as a member's failure to prove its key.
          if (noIdentity !== null && secret === null) {
            this.counters.identityFailures++;
            return this.refuseLink(socket, 'identity-not-proven', h.from as NodeId, noIdentity);
          }
          if (secret !== null) {
            if (!isNonce(h.nonce)) return refuse('authFailures', `member ${h.from} offered no proof of the cluster secret (is it configured with --peer-secret-file?)`);
            if (h.frameMac !== PEER_FRAME_MAC_VERSION) {
              return refuse('authFailures', `member ${h.from} runs a build without frame MACs (its handshake offers frame-MAC version ${String(h.frameMac)}, this build needs ` +
                `${PEER_FRAME_MAC_VERSION}); with a peer secret, every member must run a build with frame MACs (see the upgrade notes in the README)`);
            }
          }
          if (secret !== null || identity !== null) {
            const theirs = h.nonce as Uint8Array; // checked above: a nonce whenever a secret or an identity is configured
            const mine = freshNonce();
            const challenge: AuthFrame = {
              magic: PEER_AUTH_MAGIC, nonce: mine,
              ...(secret === null ? {} : { proof: peerProof(secret, 'listener', this.o.clusterId, this.o.self, h.from, theirs, mine), frameMac: PEER_FRAME_MAC_VERSION }),
            };
            socket.write(encodeFrame(packTransient(challenge)));
            claimed = {
              id: h.from as NodeId,
              expected: secret === null ? null : peerProof(secret, 'dialer', this.o.clusterId, h.from, this.o.self, theirs, mine),
              frameKey: secret === null ? null : peerFrameKey(secret, 'dialer-to-listener', this.o.clusterId, h.from, this.o.self, theirs, mine),
              signed: identity === null || noIdentity !== null ? null
                : peerIdentityPayload(this.o.clusterId, h.from, this.o.self, theirs, mine, channel),
              noIdentity,
            };
            continue;
          }
          authenticatedAs(h.from as NodeId);
          if (peer === null) return; // refused: its member holds maxConnectionsPerPeer live links
          continue;
        }
        const m = value as Partial<Envelope>;
        if (typeof m !== 'object' || m === null || m.to !== this.o.self) {
          return refuse('malformedFrames', `message from ${peer} not addressed to ${this.o.self}`);
        }
        if (this.removed.has(peer)) return refuse('unknownPeer', `member ${peer} is no longer a peer`);
        if (m.from !== peer) {
          // The handshake named the peer; a frame claiming another sender is a lie (the protocols
          // trust `from` for routing and, in CFT protocols, for votes): drop it and the connection.
          this.counters.forgedSender++;
          this.log('warn', `closed the connection from peer ${peer}: a frame claimed to be from ${String(m.from)}, not the member that authenticated`, {
            peer, claimedFrom: String(m.from), remoteAddress: socket.remoteAddress ?? null,
          });
          socket.destroy();
          return;
        }
        this.counters.received++;
        // A valid frame of its member: this link is live (maxConnectionsPerPeer, liveConnectionMs).
        this.inbound.get(socket)!.lastFrameAtMs = performance.now();
        try {
          this.onMessage(m as M);
        } catch (err) {
          // Bad input must not stop the node; the message is lost (protocols retransmit), the count says so.
          this.counters.handlerErrors++;
          this.log('error', `the handler threw on a message from ${peer}; message dropped`, { peer, error: (err as Error).message });
        }
      }
    });
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void {
    this.o.logger?.(level, message, fields);
  }
}

/** The longest delay a Node timer keeps (2^31-1 ms, about 24.8 days); a longer one fires after 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

/** An inbound connection (PeerTransport.accept). */
interface InboundState {
  /** The member it authenticated as; null until its handshake (with a secret or identity, its proof) checked out. */
  peer: NodeId | null;
  /** performance.now() when it authenticated or last delivered a valid frame of its member (liveConnectionMs). */
  lastFrameAtMs: number;
}

/** An inbound connection not yet authenticated (PeerTransport.admit). */
interface PendingConnection {
  /** The TCP connection (with TLS, the socket under the TLS one): what close() destroys. */
  readonly socket: Socket;
  /** Its deadline (handshakeTimeoutMs after TCP accepted it, then again once a join query is answered). */
  timer: NodeJS.Timeout;
  /** What the deadline does: count why and close (accept() sets what fits the connection's stage). */
  expire: () => void;
}

/**
 * What tells one TCP connection to this listener from any other, the same for the TCP socket and the
 * TLS socket over it (its four addresses); null once it is gone (no addresses left to read).
 */
function connectionKey(s: Socket): string | null {
  if (s.remoteAddress === undefined || s.remotePort === undefined) return null;
  return `${s.remoteAddress}|${s.remotePort}|${s.localAddress ?? ''}|${s.localPort ?? ''}`;
}

/**
 * Where to answer a member the peer set does not show yet: the host its connection came from, at
 * the port its hello names. The hello's host is not taken: without peer auth anyone may send a
 * hello, and this member must not dial an address of a stranger's choosing (nor, over plain TCP,
 * one rewritten on the path); the port alone points back at the dialer's own host.
 */
export function replyAddress(reply: Handshake['reply'], remote: string | undefined): PeerAddress | null {
  if (typeof reply !== 'object' || reply === null) return null;
  const { port } = reply;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) return null;
  if (remote === undefined || remote === '') return null;
  return { host: remote, port };
}

/** What a message is, for a log line: a peer frame's kind and its protocol message's type. */
function describeMessage(msg: Envelope): string {
  const m = msg as { readonly kind?: unknown; readonly type?: unknown; readonly message?: { readonly type?: unknown } };
  const parts = [m.kind, m.type, m.message?.type].filter((x): x is string => typeof x === 'string');
  return parts.length > 0 ? `a ${parts.join(' ')} message` : 'a message';
}

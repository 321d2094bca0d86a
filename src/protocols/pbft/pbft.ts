/**
 * Practical Byzantine Fault Tolerance (Castro & Liskov, OSDI'99; Castro's thesis, 2001), pure.
 *
 * N = 3f + 1 replicas; the primary of view v is replica v mod N; quorums are 2f + 1.
 *
 * Normal case: the primary assigns a sequence number to a batch of client requests and sends
 * PRE-PREPARE(v, n, d, batch); a backup that accepts it sends PREPARE(v, n, d). A replica has
 * *prepared* (v, n, d) with the pre-prepare and 2f matching prepares from distinct backups (its
 * own included), then sends COMMIT(v, n, d); it has *committed-local* with 2f + 1 matching
 * commits, and executes in sequence order. Preparing makes (v, n) pin one digest (two prepared
 * quorums share an honest replica); committing makes the decision survive view changes (2f + 1
 * replicas hold a prepared certificate, so every view-change quorum contains one).
 *
 * Checkpoints every K sequence numbers: the driver hands over its state after executing n
 * (compact(n, state)); CHECKPOINT(n, digest) messages; 2f + 1 matching ones make it stable, the
 * low water mark h moves to n and everything at or below it is discarded. Only sequence numbers
 * in (h, h + L] are accepted.
 *
 * View change: a backup whose request waits too long sends VIEW-CHANGE(v + 1) with its stable
 * checkpoint proof and its prepared certificates. The new primary collects 2f + 1, computes
 * NEW-VIEW: a pre-prepare for every sequence number between the highest stable checkpoint and
 * the highest prepared one, re-issuing the request prepared in the highest view or a null
 * request for a gap. Every backup checks the NEW-VIEW by recomputing it. The timer for the next
 * view change doubles each time one fails. VIEW-CHANGE and NEW-VIEW carry digests, not batches
 * (Castro's thesis, 5.2): a replica takes a re-issued batch from what it holds, or fetches it
 * (FETCH-BATCH, answered by a BATCH that it checks against the digest and the requests'
 * signatures) and executes nothing from that sequence number on until it has it.
 *
 * A replica that learns of a stable checkpoint above what it executed fetches the state from its
 * peers: first the meta-data (size, part size, each part's digest), accepted only if its digest
 * is the one 2f + 1 signed CHECKPOINTs prove, then the parts, a bounded number of bytes at a
 * time from the signers in turn, each accepted only if it matches its part's digest.
 *
 * Durability: a replica that restarts must never contradict what it said before it crashed
 * (otherwise a crash is a Byzantine fault, and counts against f). So before any message of a
 * Ready leaves, `persist` holds: per sequence number, the pre-prepare it accepted or sent (it
 * never prepares another digest at that view and sequence number, and a primary never reuses a
 * sequence number), the prepared certificate (a VIEW-CHANGE must carry it: that is how a
 * committed request survives view changes), and the committed batch; as hard state its view, its
 * VIEW-CHANGE and the NEW-VIEW it entered through. Stable checkpoints (state, digest, proof) are
 * the snapshot, and drop the slots they cover. What is not kept: other replicas' prepares and
 * commits, checkpoint claims and pending requests, which retransmission brings back.
 */
import { concatBytes } from '../../core/bytes.js';
import { assert } from '../../core/assert.js';
import { binHeader, mapHeader, pack, unpack } from '../../core/codec.js';
import { type Authenticator, type Principal, macVector, verifyMacVector } from '../../core/authenticator.js';
import { byzantineFaults, byzantineQuorum } from '../../core/quorum.js';
import type { Index, NodeId, Term } from '../../core/ids.js';
import type { LogEntry, Membership, ProposeResult, Replica, RestoredState, Snapshot } from '../../core/replica.js';
import type { PbftMutant } from './mutants.js';
import {
  batchDigestOf, checkpointPayload, commitPayload, decidedPayload, fetchBatchPayload, fetchPayload, statusPayload, newViewPayload, prePreparePayload, preparePayload, requestPayload, viewChangePayload,
  checkpointDigestOf, partBytesOfCheckpointDigest, stateMetaOf,
} from './payloads.js';
import {
  DEFAULT_ANNOUNCE_TICKS, DEFAULT_CHECKPOINT_INTERVAL_SEQS, DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_BATCH_REQUESTS, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_IN_FLIGHT_BATCHES,
  DEFAULT_MAX_INFLIGHT_STATE_BYTES, DEFAULT_STATE_PART_BYTES, MAX_STATE_PART_BYTES, MAX_STATE_PARTS,
  DEFAULT_REQUEST_TIMEOUT_TICKS, DEFAULT_RETRANSMIT_TICKS, DEFAULT_VIEW_CHANGE_TIMEOUT_TICKS, MAX_BATCHES_HELD_PER_WINDOW_SEQ, MAX_BATCH_ANSWERS_PER_INTERVAL, MAX_CHECKPOINT_CLAIMS_PER_REPLICA, MAX_VERIFIED_REQUESTS_REMEMBERED,
  MAX_DEFERRED_READS, MAX_PENDING_REQUESTS, MAX_SIGNATURE_CHARS, MAX_VERIFIED_SIGNATURES_REMEMBERED, MAX_VIEW_CHANGE_BACKOFF_DOUBLINGS,
  type ClientRequest, type CommittedBatch, type PbftHardState, type PbftMessage, type PbftOptions, type PbftReady, type PbftRole,
  type PbftSlotRecord, type PbftStatus, type StableCheckpointData, type StateMeta,
  type PreparedCertificate, type SignedCheckpoint, type SignedNewView, type SignedPrePrepare, type SignedPrepare, type SignedViewChange,
} from './types.js';

/** The state digest of checkpoint 0 (the initial state, which needs no proof). */
export const GENESIS_DIGEST = 'genesis';

interface Slot {
  prePrepare: SignedPrePrepare | null;
  readonly prepares: Map<NodeId, SignedPrepare>;
  readonly commits: Map<NodeId, string>;
  prepared: boolean;
  committed: boolean;
  ownPrepare: SignedPrepare | null;
  ownCommit: PbftMessage | null;
  ageTicks: number;
}

interface StableCheckpoint {
  readonly seq: number;
  readonly digest: string;
  readonly proof: readonly SignedCheckpoint[];
}

/**
 * A state transfer under way: the meta-data of a proven checkpoint, the parts in so far, and the
 * parts asked for (to whom, when). Parts that failed their digest mark their sender, which is
 * asked last from then on.
 */
interface StateTransfer {
  readonly cp: StableCheckpoint;
  readonly meta: StateMeta;
  readonly parts: (Uint8Array | null)[];
  received: number;
  readonly asked: Map<number, { readonly to: NodeId; readonly at: number }>;
  readonly liars: Set<NodeId>;
}

/** One of this replica's checkpoints: its state, the state's meta-data (null: made before parts, never served) and its digest. */
interface OwnCheckpoint {
  readonly digest: string;
  readonly data: Uint8Array;
  readonly meta: StateMeta | null;
  readonly msg: SignedCheckpoint;
}

interface Decision {
  readonly view: number;
  readonly digest: string;
  /** Null until the batch is here (a NEW-VIEW names it by digest); nothing executes past it till then. */
  readonly batch: readonly ClientRequest[] | null;
}

/** A pre-prepare without its batch: how VIEW-CHANGE and NEW-VIEW carry them. */
function byDigest(pp: SignedPrePrepare): SignedPrePrepare {
  return pp.batch.length === 0 ? pp : { ...pp, batch: [] };
}

/** What a checkpoint's state is: the service's state and the last timestamp executed per client. */
interface CheckpointState {
  readonly service: Uint8Array;
  readonly clients: readonly (readonly [Principal, number])[];
}

/** The service's state inside a PBFT snapshot's data (a stable checkpoint or a transferred state). */
export function checkpointServiceState(snapshotData: Uint8Array): Uint8Array {
  const cp = unpack(snapshotData) as StableCheckpointData;
  return (unpack(cp.state) as CheckpointState).service;
}

/** The last timestamp executed per client inside a PBFT snapshot's data (the replicated client table). */
export function checkpointClientTable(snapshotData: Uint8Array): ReadonlyMap<Principal, number> {
  const cp = unpack(snapshotData) as StableCheckpointData;
  return new Map((unpack(cp.state) as CheckpointState).clients);
}

/** Compactions in flight at once (beginCompact finishes the one in flight before it begins the next). */
export const MAX_COMPACTIONS_IN_FLIGHT = 1;

/**
 * A checkpoint's state being packed and digested a slice at a time: `state` is pack({ service: data,
 * clients }) laid out in place (its head written), filled from the front; every part of statePartBytes
 * that is whole is digested. Invariants: dataAt + copied <= filled <= state.byteLength;
 * digested <= filled, a multiple of statePartBytes until the last part; none of them ever decreases.
 */
interface Compaction {
  readonly seq: number;
  /** The service's state the host encoded (never written to). */
  readonly data: Uint8Array;
  /** The client table noted when `seq` executed (the same array as in clientTablesAt while it is current). */
  readonly clients: [Principal, number][];
  /** 'clients' and the table, packed (null under the compact-reads-live-client-table mutant: packed when the copy ends). */
  readonly tail: Uint8Array | null;
  /** Laid out at its final length once begun (under the mutant, laid out again when its tail is packed). */
  state: Uint8Array;
  /** Where the service's bytes begin in `state`. */
  readonly dataAt: number;
  /** Bytes of `data` copied into `state`. */
  copied: number;
  /** Bytes of `state` written from its front. */
  filled: number;
  /** Bytes of `state` digested from its front (whole parts). */
  digested: number;
  readonly partDigests: string[];
}

/** The end of a packed CheckpointState: the key 'clients' and the table (what follows the service's bytes). */
function checkpointStateTail(clients: readonly (readonly [Principal, number])[]): Uint8Array {
  return concatBytes([pack('clients'), pack(clients)]);
}

export class PbftReplica implements Replica<PbftMessage, PbftHardState, PbftStatus> {
  readonly id: NodeId;
  private readonly auth: Authenticator;
  private readonly membership: Membership;
  private readonly replicas: readonly NodeId[];
  private readonly n: number;
  private readonly f: number;
  private readonly quorum: number;
  readonly checkpointIntervalSeqs: number;
  private readonly logWindowSeqs: number;
  private readonly maxBatchRequests: number;
  private readonly maxBatchBytes: number;
  private readonly maxRequestBytes: number;
  private readonly maxInFlightBatches: number;
  private readonly requestTimeoutTicks: number;
  private readonly viewChangeTimeoutTicks: number;
  private readonly retransmitTicks: number;
  private readonly announceTicks: number;
  private readonly statePartBytes: number;
  private readonly maxInflightStateBytes: number;
  /** Test-only: the broken variant this replica runs (its host reads it too: checkpoint-sees-later-batches). */
  readonly mutant: PbftMutant | null;

  private view = 0;
  private role: PbftRole;
  private readonly slots = new Map<number, Slot>();
  /** Per sequence number above h: the certificate prepared in the highest view. Survives view changes. */
  private readonly certs = new Map<number, PreparedCertificate>();
  /** Committed-local decisions above h. Final: a view change never changes them (asserted). */
  private readonly decided = new Map<number, Decision>();
  /**
   * COMMITs this replica cannot vote beside (of an earlier view, or sent while it waits in a view
   * change), per sequence number in the window: each replica's latest. See learnCommit.
   */
  private readonly learnedCommits = new Map<number, Map<NodeId, { view: number; digest: string }>>();
  /** DECIDED claims for sequence numbers in the window this replica has yet to decide: each replica's latest. See onDecided. */
  private readonly decidedClaims = new Map<number, Map<NodeId, { view: number; digest: string }>>();
  /**
   * Our own COMMITs whose prepared certificate is durable, by sequence number. They count in
   * learnCommit, where the slot that held them is gone (a view change clears the slots).
   */
  private readonly durableOwnCommits = new Map<number, { view: number; digest: string }>();
  private lastExecuted = 0;
  /** Highest sequence number this replica sent a COMMIT for (read-only requests wait for execution to reach it). */
  private highestCommitSent = 0;
  /**
   * This replica's own COMMITs whose prepared certificate is not durable yet: in no Ready so far
   * (`Next`), or in the Ready being persisted (`Outstanding`). Its vote counts towards
   * committed-local only in advance() (see sendCommit).
   */
  private ownCommitsNext: { seq: number; slot: Slot; commit: PbftMessage }[] = [];
  private ownCommitsOutstanding: { seq: number; slot: Slot; commit: PbftMessage }[] = [];
  private stable: StableCheckpoint = { seq: 0, digest: GENESIS_DIGEST, proof: [] };
  /** This replica's checkpoints not yet stable (and the stable one): digest and state. */
  private readonly ownCheckpoints = new Map<number, OwnCheckpoint>();
  /** Client tables as of each checkpoint sequence number executed, until its compaction ends (compacted). */
  private readonly clientTablesAt = new Map<number, [Principal, number][]>();
  /** The checkpoint whose state is being packed and digested (beginCompact), at most MAX_COMPACTIONS_IN_FLIGHT. */
  private compaction: Compaction | null = null;
  private readonly checkpointClaims = new Map<number, Map<NodeId, SignedCheckpoint>>();
  private readonly claimsByReplica = new Map<NodeId, number[]>();

  private readonly lastExecutedTimestamp = new Map<Principal, number>();
  /** The newest request per client not yet executed. */
  private readonly pending = new Map<Principal, ClientRequest>();
  /** Requests (client|timestamp) that have a pre-prepare in the current view (primary). */
  private readonly assigned = new Set<string>();
  private nextSeq = 1;
  private readonly deferredReads: ClientRequest[] = [];

  private requestTimerTicks = 0;
  /** The request the request timer runs for. */
  private timedRequest: { client: Principal; timestamp: number; forwarded: boolean } | null = null;
  private viewChangeTimerTicks: number | null = null;
  /**
   * View changes in a row that brought no request executed: the view-change timer and the
   * request timer run 2^failedViewChanges times their timeout (see backoff). Castro's thesis
   * (2.3.5): a view change has failed if the NEW-VIEW does not come, or if the replica then
   * executes no request in the new view that it had not executed before; the timeout is reset
   * only by such an execution. Reset on the NEW-VIEW alone, a cluster whose views install but
   * cannot order a request within the fixed request timeout (processes short of CPU, a slow
   * network) changed view for ever at the same pace and never executed anything.
   */
  private failedViewChanges = 0;
  /** False from entering a view through a NEW-VIEW until this replica executes a request in it. */
  private viewProven = true;
  private retransmitClock = 0;
  private announceClock = 0;
  /** Ticks since start (rate limits). */
  private clock = 0;
  private readonly farBehindHelpedAt = new Map<NodeId, number>();
  /** The highest sequence number each other replica said (in a STATUS) it executed. */
  private readonly peerExecuted = new Map<NodeId, number>();
  /** The view each other replica named in its latest STATUS (see learnBatch). */
  private readonly peerViews = new Map<NodeId, number>();
  /** The tick at which lastExecuted last moved. */
  private executedAtClock = 0;
  private readonly statusAnsweredAt = new Map<NodeId, number>();
  private readonly laggardHelpedAt = new Map<NodeId, number>();
  private readonly newViewForwardedAt = new Map<NodeId, number>();
  /** When this replica last sent a STATUS because it is behind and catching up (see askForMore). */
  private catchUpStatusAt = Number.NEGATIVE_INFINITY;
  private readonly viewChanges = new Map<number, Map<NodeId, SignedViewChange>>();
  private ownViewChange: SignedViewChange | null = null;
  private readonly latestViewChangeOf = new Map<NodeId, number>();
  private newViewMsg: SignedNewView | null = null;
  /** Under the trust-view-change-by-signature and trust-certificates-under-signature mutants only: (replica|view) -> signature of a VIEW-CHANGE found valid, at most 4N. */
  private readonly trustedViewChanges = new Map<string, string>();
  private fetching: StableCheckpoint | null = null;
  /** The parts of `fetching`'s state, once its meta-data is here. */
  private transfer: StateTransfer | null = null;
  /** Bytes of state parts answered to each replica in the current retransmit interval (maxInflightStateBytes each). */
  private readonly statePartsSpent = new Map<NodeId, { since: number; bytes: number }>();
  /** Replicas whose latest CHECKPOINT names another part size than statePartBytes (see notePartBytes), at most one entry per replica. */
  private readonly otherPartBytes = new Map<NodeId, number>();
  /** Re-issued batches this replica lacks, by sequence number: the digest it waits for. */
  private readonly missingBatches = new Map<number, string>();
  /** Batches it held in this or earlier views, by `seq|digest`, for a NEW-VIEW that re-issues them. */
  private readonly batchesHeld = new Map<number, Map<string, readonly ClientRequest[]>>();
  private nullDigestMemo: string | undefined;
  /**
   * The batches executed in the checkpoint interval just below the stable checkpoint, by sequence
   * number. A replica that gets no pre-prepares (a lying primary shuns it, or it is alone in a
   * view change) learns each outcome from DECIDED claims and fetches the batch a round trip after
   * the others decided; near a checkpoint they have made it stable by then. Without these it could
   * catch up only by state transfer, which skips its own clients' requests: their callers are
   * answered with an error, and a replica shunned for good would never serve.
   */
  private readonly batchesBelowStable = new Map<number, { digest: string; batch: readonly ClientRequest[] }>();
  /** Where the next round of batch fetches starts among the other replicas. */
  private batchFetchRotation = 0;
  /** When a FETCH-BATCH for `replica|seq` was last answered: a liar's requests cannot make us flood. */
  private readonly batchAnsweredAt = new Map<string, number>();
  /** Batches answered to each replica in the current retransmit interval (MAX_BATCH_ANSWERS_PER_INTERVAL). */
  private readonly batchAnswersSpent = new Map<NodeId, { since: number; count: number }>();
  private fetchRotation = 0;

  /**
   * Request digests, per decoded request object: one message's checks (signature, batch digest,
   * certificates) share it. A request that arrives again arrives as a new object and is hashed
   * again, which costs one pass over its bytes (the op is hashed as bytes, see requestPayload).
   */
  private readonly digestCache = new WeakMap<ClientRequest, string>();
  /** Requests whose signature verified: digest|signature, oldest first. */
  private readonly verifiedRequests = new Set<string>();
  /**
   * Replica signatures that verified, as the digest of (signer, signature, payload), oldest first
   * (at most MAX_VERIFIED_SIGNATURES_REMEMBERED). Verification is a pure function of the three,
   * so a remembered success answers exactly as verifying again would; only successes are kept,
   * so a forgery is checked (and counted) every time it comes. A digest, not the triple itself:
   * a liar's own VIEW-CHANGE signs whatever junk it pads its certificates with (up to a frame),
   * and a signature string may carry characters its decoder skips, so the triple is as large as
   * a liar makes it; its digest is not. Client requests have their own memo (verifiedRequests)
   * and stay out of this one: under write load they would push out the replica signatures that
   * retransmission brings again.
   */
  private readonly verifiedSignatures = new Set<string>();

  private out: PbftMessage[] = [];
  private applyOut: LogEntry[] = [];
  private batchesOut: CommittedBatch[] = [];
  private readsOut: ClientRequest[] = [];
  private replyAgainOut: { client: Principal; timestamp: number }[] = [];
  private snapshotOut: Snapshot | null = null;
  private stableOut: Snapshot | null = null;
  /** Sequence numbers whose durable record changed since the last Ready. */
  private readonly dirtySlots = new Set<number>();
  private hardStateDirty = false;

  private invalidAuthenticators = 0;
  /** Requests dropped because their operation exceeds maxRequestBytes. */
  private requestsTooLarge = 0;
  private viewChangesStarted = 0;
  private stateTransfers = 0;
  /** Outcomes learned from others' COMMITs in a view this replica had left (learnCommit). */
  private learnedOutcomes = 0;
  /** Validly signed NEW-VIEWs refused for contradicting this replica's own decision (a lying primary's second; see onNewView). */
  private refusedNewViews = 0;

  constructor(o: PbftOptions) {
    this.id = o.id;
    this.auth = o.authenticator;
    assert(this.auth.self === o.id, `authenticator for ${this.auth.self} given to ${o.id}`);
    this.membership = o.membership;
    this.replicas = [...o.membership.voters];
    this.n = this.replicas.length;
    this.f = byzantineFaults(this.n);
    // Any two quorums share f + 1 replicas: 2f + 1 at N = 3f + 1, more when N is not 3f + 1 (N = 5: 4).
    this.quorum = byzantineQuorum(this.n);
    assert(this.replicas.includes(o.id), `${o.id} is one of the replicas`);
    this.checkpointIntervalSeqs = o.checkpointIntervalSeqs ?? DEFAULT_CHECKPOINT_INTERVAL_SEQS;
    this.logWindowSeqs = o.logWindowSeqs ?? 2 * this.checkpointIntervalSeqs;
    assert(this.logWindowSeqs % this.checkpointIntervalSeqs === 0 && this.logWindowSeqs >= this.checkpointIntervalSeqs, 'L is a multiple of K');
    this.maxBatchRequests = o.maxBatchRequests ?? DEFAULT_MAX_BATCH_REQUESTS;
    this.maxBatchBytes = o.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    this.maxRequestBytes = o.maxRequestBytes ?? o.maxCommandBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    assert(this.maxBatchBytes >= 1 && this.maxRequestBytes >= 1, 'byte limits are positive');
    this.maxInFlightBatches = o.maxInFlightBatches ?? DEFAULT_MAX_IN_FLIGHT_BATCHES;
    this.requestTimeoutTicks = o.requestTimeoutTicks ?? DEFAULT_REQUEST_TIMEOUT_TICKS;
    this.viewChangeTimeoutTicks = o.viewChangeTimeoutTicks ?? DEFAULT_VIEW_CHANGE_TIMEOUT_TICKS;
    this.retransmitTicks = o.retransmitTicks ?? DEFAULT_RETRANSMIT_TICKS;
    this.announceTicks = o.announceTicks ?? DEFAULT_ANNOUNCE_TICKS;
    this.statePartBytes = o.statePartBytes ?? DEFAULT_STATE_PART_BYTES;
    this.maxInflightStateBytes = o.maxInflightStateBytes ?? DEFAULT_MAX_INFLIGHT_STATE_BYTES;
    assert(Number.isSafeInteger(this.statePartBytes) && this.statePartBytes >= 1 && this.statePartBytes <= MAX_STATE_PART_BYTES, () => `statePartBytes=${this.statePartBytes}: between 1 and ${MAX_STATE_PART_BYTES}`);
    assert(Number.isSafeInteger(this.maxInflightStateBytes) && this.maxInflightStateBytes >= 1, 'maxInflightStateBytes is positive');
    this.mutant = (o.mutant as PbftMutant | undefined) ?? null;
    this.role = this.primaryOf(0) === this.id ? 'primary' : 'backup';
    // Broken on purpose under the mutant: a restart that loses the disk is a replica that may
    // contradict itself, i.e. a Byzantine one.
    if (o.restored !== undefined && this.mutant !== 'forget-on-restart') this.restore(o.restored);
  }

  /**
   * Back from durable state: the stable checkpoint, the view (changing to it, or entered
   * through its NEW-VIEW), every slot's record. Messages this replica sent in the current view
   * are rebuilt from the records (signatures and MACs are deterministic), so whatever it
   * retransmits is what it sent before the crash. Committed batches above the checkpoint are
   * executed again, so the driver's state machine, restored from the checkpoint, catches up.
   */
  private restore(r: RestoredState<PbftHardState>): void {
    if (r.snapshot !== null) {
      const seq = r.snapshot.meta.index as number;
      const cp = unpack(r.snapshot.data) as StableCheckpointData;
      const state = unpack(cp.state) as CheckpointState;
      this.stable = { seq, digest: cp.digest, proof: cp.proof };
      // The meta-data again, with the part size the digest was made with. A snapshot from before
      // parts (its digest was of the raw state) keeps its proof but is served to nobody: its
      // meta-data would not match. The next stable checkpoint replaces it.
      const meta = stateMetaOf(this.auth, cp.state, cp.partBytes ?? this.statePartBytes);
      const servable = cp.partBytes !== undefined && checkpointDigestOf(this.auth, meta) === cp.digest;
      this.ownCheckpoints.set(seq, { digest: cp.digest, data: cp.state, meta: servable ? meta : null, msg: this.signCheckpoint(seq, cp.digest) });
      this.lastExecuted = seq;
      this.highestCommitSent = seq;
      for (const [c, t] of state.clients) this.lastExecutedTimestamp.set(c, t);
    }
    const hs = r.hardState;
    if (hs !== null) {
      this.view = hs.view;
      this.newViewMsg = hs.newView;
    }
    this.nextSeq = this.stable.seq + 1;
    for (const e of r.entries) {
      const seq = e.index as number;
      if (seq <= this.stable.seq) continue;
      // A record is accepted only within the window of a stable checkpoint, and the driver keeps
      // a checkpoint before the records that rely on it: a record beyond the window of the
      // checkpoint on disk means durable state was lost or written out of order.
      assert(seq <= this.stable.seq + this.logWindowSeqs, () => `${this.id}: restored a record at ${seq}, beyond the window (${this.stable.seq}, ${this.stable.seq + this.logWindowSeqs}] of the stable checkpoint on disk`);
      const rec = unpack(e.data) as PbftSlotRecord;
      if (rec.cert !== null) {
        this.certs.set(seq, rec.cert);
        if (seq > this.highestCommitSent) this.highestCommitSent = seq; // prepared: it sent a COMMIT
        this.durableOwnCommits.set(seq, { view: rec.cert.prePrepare.view, digest: rec.cert.prePrepare.digest });
      }
      if (rec.decided !== null) {
        this.decided.set(seq, rec.decided);
        if (rec.decided.batch === null) this.missingBatches.set(seq, rec.decided.digest);
        else this.holdBatch(seq, rec.decided.digest, rec.decided.batch);
      }
      if (rec.cert !== null && this.hasBatch(rec.cert.prePrepare)) this.holdBatch(seq, rec.cert.prePrepare.digest, rec.cert.prePrepare.batch);
      const pp = rec.prePrepare;
      // Held whatever its view: a NEW-VIEW may re-issue a batch this replica only pre-prepared.
      if (pp !== null && this.hasBatch(pp)) this.holdBatch(seq, pp.digest, pp.batch);
      if (hs?.viewChange != null || pp === null || pp.view !== this.view) continue;
      const s = this.slot(seq);
      s.prePrepare = pp;
      if (!this.hasBatch(pp)) {
        const batch = this.batchFor(seq, pp.digest);
        if (batch === null) this.missingBatches.set(seq, pp.digest);
        else s.prePrepare = { ...pp, batch };
      }
      if (pp.primary === this.id) {
        for (const q of pp.batch) this.assigned.add(requestKey(q));
        if (seq >= this.nextSeq) this.nextSeq = seq + 1;
      } else {
        s.ownPrepare = this.signPrepare(pp);
        s.prepares.set(this.id, s.ownPrepare);
      }
      if (rec.cert !== null && rec.cert.prePrepare.view === this.view && rec.cert.prePrepare.digest === pp.digest) {
        s.prepared = true;
        s.ownCommit = this.commitMessage(seq, pp);
        s.commits.set(this.id, pp.digest);
      }
      if (rec.decided !== null) s.committed = true;
    }
    if (hs?.viewChange != null) {
      this.role = 'view-change';
      this.ownViewChange = hs.viewChange;
      this.storeViewChange(hs.viewChange);
    } else {
      this.role = this.primaryOf(this.view) === this.id ? 'primary' : 'backup';
    }
    this.execute();
    // Tell the others where it stands: they resend what it missed (see onStatus).
    this.sendStatus();
  }

  // ---- the Replica contract -------------------------------------------------------------------

  tick(): void {
    this.clock++;
    if (this.role === 'view-change') {
      if (this.viewChangeTimerTicks !== null && --this.viewChangeTimerTicks <= 0) {
        this.failedViewChanges++;
        this.startViewChange(this.view + 1);
      }
    } else if (this.role === 'backup' && this.pending.size > 0 && this.fetching === null) {
      // (While it fetches a checkpoint's state it is behind, not the primary: no timer.)
      // The timer runs for one request (Castro): other requests executing do not reset it, so a
      // primary that censors one client is replaced.
      const timed = this.timedRequest === null || !this.isPending(this.timedRequest) ? this.timeNextRequest() : this.timedRequest;
      // Paused, not reset, while it is catching up: the system is ordering requests without it.
      if (!this.catchingUp() && ++this.requestTimerTicks >= this.requestTimeoutTicks * this.backoff()) {
        if (timed.forwarded) {
          this.startViewChange(this.view + 1);
        } else {
          // First expiry: hand the request to every replica (its client's signature makes that
          // safe) and wait once more. Either the primary orders it, or the others' timers now run
          // for it too and expire with ours: one replica alone in a view change cannot start it
          // (f + 1 are needed), and would be left out of the view the others stay in.
          timed.forwarded = true;
          this.requestTimerTicks = 0;
          const r = this.pending.get(timed.client)!;
          this.broadcast({ type: 'request', request: r });
        }
      }
    } else {
      this.requestTimerTicks = 0;
      this.timedRequest = null;
    }
    if (++this.retransmitClock >= this.retransmitTicks) {
      this.retransmitClock = 0;
      this.retransmit();
    }
    if (++this.announceClock >= this.announceTicks) {
      this.announceClock = 0;
      this.announce();
    }
  }

  step(msg: PbftMessage): void {
    switch (msg.type) {
      case 'request': return this.onRequest(msg.request, msg.from);
      case 'pre-prepare': return this.onPrePrepare(msg.prePrepare, msg.retransmitted === true, msg.from);
      case 'prepare': return this.onPrepare(msg.prepare, msg.retransmitted === true);
      case 'commit': return this.onCommit(msg);
      case 'checkpoint': return this.onCheckpoint(msg.checkpoint);
      case 'view-change': return this.onViewChange(msg.viewChange);
      case 'new-view': return this.onNewView(msg.newView);
      case 'fetch-state': return this.onFetchState(msg);
      case 'status': return this.onStatus(msg);
      case 'decided': return this.onDecided(msg);
      case 'state-meta': return this.onStateMeta(msg);
      case 'state-part': return this.onStatePart(msg);
      case 'fetch-batch': return this.onFetchBatch(msg);
      case 'batch': return this.onBatch(msg);
      case 'reply': return; // replies are for clients
    }
  }

  /** Clients reach PBFT through signed REQUEST messages (step), never through propose. */
  propose(_command: Uint8Array): ProposeResult {
    throw new Error('PBFT orders signed client requests: send a REQUEST message to the replicas (step), not propose()');
  }

  readIndex(_requestId: string): void {
    throw new Error('PBFT serves reads as read-only REQUESTs answered by 2f + 1 matching replies');
  }

  /**
   * The host hands over the state as of checkpoint `index`, whole: the checkpoint's state is packed
   * and digested in this call (beginCompact, then stepCompact with no budget).
   */
  compact(index: Index, data: Uint8Array): void {
    if (this.beginCompact(index, data)) this.stepCompact(Number.POSITIVE_INFINITY);
  }

  /**
   * The host hands over the state as of checkpoint `index`; packing it with the client table into
   * the checkpoint's state and digesting its parts (~150 ms per 50 MiB with SHA-256, most of it the
   * copy into place) is done by stepCompact, about a budget of bytes per call, so that it need not
   * hold the event loop (the driver steps it a snapshotSliceBytes slice per turn, with the host's
   * encoding). The bytes are the same as compact's in one call: pack({ service, clients }).
   *
   * The host encodes that state while later batches execute (PbftHost), and this compaction goes on
   * while more do, so `index` may be below lastExecuted: the client table is the one noted when
   * `index` executed, taken now, and nothing here reads what executed since. A compaction for a
   * checkpoint already stable, or skipped by a state transfer, is ignored (its table is gone), also
   * one that became so while it was in flight (it is dropped at its next step). At most one is in
   * flight (MAX_COMPACTIONS_IN_FLIGHT): one begun while another is finishes that one first, so
   * checkpoints are compacted in order and none is skipped (see PbftHost). False: ignored.
   */
  beginCompact(index: Index, data: Uint8Array): boolean {
    if (this.compaction !== null) this.stepCompact(Number.POSITIVE_INFINITY);
    assert(this.compaction === null, 'at most MAX_COMPACTIONS_IN_FLIGHT compactions in flight');
    const seq = index as number;
    const clients = this.clientTablesAt.get(seq);
    if (clients === undefined || seq <= this.stable.seq) return false;
    assert(seq <= this.lastExecuted && seq % this.checkpointIntervalSeqs === 0, () => `${this.id}: a checkpoint at ${seq} is compacted once executed (executed ${this.lastExecuted})`);
    // pack({ service: data, clients }), laid out here so that the service's bytes can be copied
    // into place a slice at a time: the map header, 'service', the byte array's header; its bytes;
    // then 'clients' and the table (written when the copy ends: see stepCompact).
    const head = concatBytes([mapHeader(2), pack('service'), binHeader(data.byteLength)]);
    const tail = this.mutant === 'compact-reads-live-client-table' ? null : checkpointStateTail(clients);
    // The tail's length is known only once it is packed: the mutant's is packed when the copy ends.
    const tailBytes = tail?.byteLength ?? checkpointStateTail(clients).byteLength;
    const state = new Uint8Array(head.byteLength + data.byteLength + tailBytes);
    state.set(head, 0);
    const parts = Math.ceil(state.byteLength / this.statePartBytes);
    assert(parts <= MAX_STATE_PARTS, () => `${this.id}: the state at checkpoint ${seq} is ${state.byteLength} bytes, over ${MAX_STATE_PARTS} parts of statePartBytes=${this.statePartBytes}: raise statePartBytes on every replica`);
    this.compaction = { seq, data, clients, tail, state, dataAt: head.byteLength, copied: 0, filled: head.byteLength, digested: 0, partDigests: [] };
    return true;
  }

  /** A compaction is in flight (beginCompact): the host keeps stepping it. */
  compactionInFlight(): boolean {
    return this.compaction !== null;
  }

  /**
   * Copy about `budgetBytes` more of the compaction's service state into place and digest every part
   * that is whole; once all are, finish it (the checkpoint's digest, this replica's CHECKPOINT).
   * True once none is in flight (finished, dropped, or none begun).
   */
  stepCompact(budgetBytes: number): boolean {
    const c = this.compaction;
    if (c === null) return true;
    assert(budgetBytes > 0, () => `a compaction step needs a positive budget, got ${budgetBytes}`);
    if (c.seq <= this.stable.seq || this.clientTablesAt.get(c.seq) !== c.clients) {
      // Stable meanwhile (2f + 1 others proved it and a state transfer, or a later one, moved past it): as compact() would, ignore it.
      this.compaction = null;
      return true;
    }
    const n = Math.min(c.data.byteLength - c.copied, budgetBytes);
    c.state.set(c.data.subarray(c.copied, c.copied + n), c.dataAt + c.copied);
    c.copied += n;
    c.filled = c.dataAt + c.copied;
    if (c.copied === c.data.byteLength && c.filled < c.state.byteLength) {
      // The mutant's table is the one executed up to now, not the one noted at its checkpoint.
      const tail = c.tail ?? checkpointStateTail([...this.lastExecutedTimestamp].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
      if (c.tail === null && c.filled + tail.byteLength !== c.state.byteLength) {
        const laidOut = new Uint8Array(c.filled + tail.byteLength);
        laidOut.set(c.state.subarray(0, c.filled));
        c.state = laidOut;
      }
      assert(c.filled + tail.byteLength === c.state.byteLength, () => `${this.id}: a checkpoint state's tail is ${tail.byteLength} bytes, not the ${c.state.byteLength - c.filled} laid out`);
      c.state.set(tail, c.filled);
      c.filled = c.state.byteLength;
    }
    const partBytes = this.statePartBytes;
    while (c.digested < c.state.byteLength && (c.digested + partBytes <= c.filled || c.filled === c.state.byteLength)) {
      const end = Math.min(c.state.byteLength, c.digested + partBytes);
      c.partDigests.push(this.auth.digest(c.state.subarray(c.digested, end)));
      c.digested = end;
    }
    if (c.digested < c.state.byteLength) return false;
    this.compaction = null;
    this.compacted(c.seq, c.state, { totalBytes: c.state.byteLength, partBytes, partDigests: c.partDigests });
    return true;
  }

  /** Drop the compaction in flight (the node stops, or the host's state was replaced): its checkpoint is made again after a restart. */
  abandonCompact(): void {
    this.compaction = null;
  }

  /** A checkpoint's state is packed and digested: sign and send its CHECKPOINT. */
  private compacted(seq: number, state: Uint8Array, meta: StateMeta): void {
    assert(this.clientTablesAt.has(seq) && seq > this.stable.seq, () => `${this.id}: checkpoint ${seq} compacted after it was stable or dropped`);
    assert(meta.partDigests.length === Math.ceil(state.byteLength / meta.partBytes), () => `${this.id}: ${meta.partDigests.length} part digests of a state of ${state.byteLength} bytes`);
    this.clientTablesAt.delete(seq);
    const digest = checkpointDigestOf(this.auth, meta);
    const msg = this.signCheckpoint(seq, digest);
    this.ownCheckpoints.set(seq, { digest, data: state, meta, msg });
    // Claims that came first count now (see notePartBytes): a replica with another part size than
    // the others stops with the error that says so, not on the digest mismatch below.
    for (const c of this.checkpointClaims.get(seq)?.values() ?? []) this.notePartBytes(c);
    this.broadcast({ type: 'checkpoint', checkpoint: msg });
    this.recordCheckpointClaim(msg);
    this.checkStable(seq);
  }

  hasReady(): boolean {
    return this.out.length > 0 || this.applyOut.length > 0 || this.readsOut.length > 0 || this.replyAgainOut.length > 0 || this.snapshotOut !== null
      || this.stableOut !== null || this.dirtySlots.size > 0 || this.hardStateDirty;
  }

  ready(): PbftReady {
    const entries: LogEntry[] = [];
    for (const seq of [...this.dirtySlots].sort((a, b) => a - b)) {
      if (seq > this.stable.seq) entries.push(this.slotRecord(seq));
    }
    this.dirtySlots.clear();
    const hardState: PbftHardState | null = this.hardStateDirty
      ? { view: this.view, viewChange: this.role === 'view-change' ? this.ownViewChange : null, newView: this.newViewMsg }
      : null;
    this.hardStateDirty = false;
    const persist = entries.length === 0 && hardState === null && this.snapshotOut === null
      ? null
      : { hardState, entries, snapshot: this.snapshotOut, truncateFrom: null };
    const rd: PbftReady = {
      persist,
      stableCheckpoint: this.stableOut,
      sendBeforePersist: [],
      send: this.out,
      apply: this.applyOut,
      readStates: [],
      batches: this.batchesOut,
      reads: this.readsOut,
      replyAgain: this.replyAgainOut,
    };
    this.out = [];
    this.applyOut = [];
    this.batchesOut = [];
    this.readsOut = [];
    this.replyAgainOut = [];
    this.snapshotOut = null;
    this.stableOut = null;
    this.ownCommitsOutstanding.push(...this.ownCommitsNext);
    this.ownCommitsNext = [];
    return rd;
  }

  /** The durable record of `seq`: what this replica holds there now. */
  private slotRecord(seq: number): LogEntry {
    const pp = this.slots.get(seq)?.prePrepare ?? null;
    const cert = this.certs.get(seq) ?? null;
    const decided = this.decided.get(seq) ?? null;
    const rec: PbftSlotRecord = { prePrepare: pp, cert, decided };
    const view = decided?.view ?? cert?.prePrepare.view ?? pp?.view ?? this.view;
    return { index: seq as Index, term: view as Term, kind: 'command', data: pack(rec) };
  }

  private setCert(seq: number, cert: PreparedCertificate): void {
    this.certs.set(seq, cert);
    this.dirtySlots.add(seq);
  }

  /**
   * The Ready is durable: the prepared certificates it carried are on disk, so this replica's own
   * COMMITs for them count now (a slot since dropped or re-proposed by a view change does not).
   */
  advance(_ready: PbftReady): void {
    const own = this.ownCommitsOutstanding;
    if (own.length === 0) return;
    this.ownCommitsOutstanding = [];
    for (const { seq, slot, commit } of own) {
      const c = commit as Extract<PbftMessage, { type: 'commit' }>;
      this.durableOwnCommits.set(seq, { view: c.view, digest: c.digest });
      if (this.slots.get(seq) !== slot || slot.ownCommit !== commit || slot.prePrepare === null) continue;
      slot.commits.set(this.id, slot.prePrepare.digest);
      this.checkCommitted(seq);
    }
  }

  status(): PbftStatus {
    return {
      id: this.id, role: this.role, term: this.view as Term, leader: this.primaryOf(this.view), leading: this.role === 'primary', commitIndex: this.lastExecuted as Index,
      appliedIndex: this.lastExecuted as Index, membership: this.membership, view: this.view, lowWaterMark: this.stable.seq,
      lastExecuted: this.lastExecuted, stableCheckpoint: this.stable.seq, invalidAuthenticators: this.invalidAuthenticators,
      viewChanges: this.viewChangesStarted, stateTransfers: this.stateTransfers, refusedNewViews: this.refusedNewViews,
      counters: {
        invalidAuthenticators: this.invalidAuthenticators, viewChanges: this.viewChangesStarted, stateTransfers: this.stateTransfers, requestsTooLarge: this.requestsTooLarge,
        learnedOutcomes: this.learnedOutcomes, refusedNewViews: this.refusedNewViews,
      },
    };
  }

  primaryOf(view: number): NodeId {
    return this.replicas[view % this.n]!;
  }

  /** The digest of a batch: of its requests' digests in order. The empty batch is the null request. */
  batchDigest(batch: readonly ClientRequest[]): string {
    return batchDigestOf(this.auth, batch, (r) => this.requestDigest(r));
  }

  /** The null request's digest (of the empty batch): what a gap is re-issued as. */
  private get nullDigest(): string {
    return (this.nullDigestMemo ??= this.batchDigest([]));
  }

  // ---- authentication -------------------------------------------------------------------------

  private skipAuth(): boolean {
    return this.mutant === 'skip-authentication';
  }

  /** A signature check, remembered (see verifiedSignatures): for replica signatures. */
  private verifySig(payload: string, signer: Principal, signature: string): boolean {
    if (this.skipAuth()) return true;
    if (typeof signature !== 'string' || signature.length > MAX_SIGNATURE_CHARS) return false;
    // Lengths first: a signer name or a signature holding the separator cannot pose as another triple.
    const name = String(signer);
    const key = this.auth.digest(`${name.length}:${name}|${signature.length}:${signature}|${payload}`);
    if (this.verifiedSignatures.has(key)) return true;
    if (!this.auth.verifySignature(payload, signer, signature)) return false;
    this.verifiedSignatures.add(key);
    if (this.verifiedSignatures.size > MAX_VERIFIED_SIGNATURES_REMEMBERED) this.verifiedSignatures.delete(this.verifiedSignatures.values().next().value!);
    assert(this.verifiedSignatures.size <= MAX_VERIFIED_SIGNATURES_REMEMBERED, 'verified signatures stay within their limit');
    return true;
  }

  /** A signature check, not remembered: client requests, which verifiedRequests remembers. */
  private verifyClientSig(payload: string, signer: Principal, signature: string): boolean {
    if (this.skipAuth()) return true;
    return typeof signature === 'string' && signature.length <= MAX_SIGNATURE_CHARS && this.auth.verifySignature(payload, signer, signature);
  }

  private bad(): void {
    this.invalidAuthenticators++;
  }

  private isReplica(id: unknown): id is NodeId {
    return typeof id === 'string' && this.replicas.includes(id as NodeId);
  }

  private requestDigest(r: ClientRequest): string {
    let d = this.digestCache.get(r);
    if (d === undefined) {
      d = this.auth.digest(requestPayload(this.auth, r));
      this.digestCache.set(r, d);
    }
    return d;
  }

  private validRequest(r: ClientRequest): boolean {
    if (typeof r !== 'object' || r === null || typeof r.client !== 'string' || !Number.isSafeInteger(r.timestamp) || !(r.op instanceof Uint8Array)) return false;
    if (r.op.byteLength > this.maxRequestBytes) {
      this.requestsTooLarge++;
      return false;
    }
    if (typeof r.signature !== 'string') return this.verifyClientSig(requestPayload(this.auth, r), r.client, r.signature);
    // A request arrives from its client, again inside a pre-prepare, and again in certificates:
    // its signature is checked once (signature checks are most of a replica's CPU).
    const key = `${this.requestDigest(r)}|${r.signature}`;
    if (this.verifiedRequests.has(key)) return true;
    if (!this.verifyClientSig(requestPayload(this.auth, r), r.client, r.signature)) return false;
    this.verifiedRequests.add(key);
    if (this.verifiedRequests.size > MAX_VERIFIED_REQUESTS_REMEMBERED) this.verifiedRequests.delete(this.verifiedRequests.values().next().value!);
    return true;
  }

  // ---- sending --------------------------------------------------------------------------------

  private send(to: NodeId, body: DistributiveOmit<PbftMessage, 'from' | 'to'>): void {
    this.out.push({ ...body, from: this.id, to } as PbftMessage);
  }

  private broadcast(body: DistributiveOmit<PbftMessage, 'from' | 'to'>): void {
    for (const r of this.replicas) if (r !== this.id) this.send(r, body);
  }

  // ---- requests -------------------------------------------------------------------------------

  private onRequest(r: ClientRequest, from: NodeId): void {
    if (!this.validRequest(r)) return this.bad();
    if (r.readOnly) {
      if (from !== (r.client as NodeId)) return; // read-only requests are not relayed
      this.serveRead(r);
      return;
    }
    const last = this.lastExecutedTimestamp.get(r.client) ?? 0;
    if (r.timestamp <= last) {
      if (r.timestamp === last) this.replyAgainOut.push({ client: r.client, timestamp: r.timestamp });
      return;
    }
    const known = this.pending.get(r.client);
    if (known === undefined || known.timestamp < r.timestamp) {
      if (known === undefined && this.pending.size >= MAX_PENDING_REQUESTS) return;
      this.pending.set(r.client, r);
    }
    if (this.role === 'primary') this.tryAssign();
    else if (this.role === 'backup' && from === (r.client as NodeId)) {
      // A client broadcast (it timed out on the primary): relay, and watch the primary.
      this.send(this.primaryOf(this.view), { type: 'request', request: r });
    }
  }

  private isPending(r: { client: Principal; timestamp: number }): boolean {
    return this.pending.get(r.client)?.timestamp === r.timestamp;
  }

  private serveRead(r: ClientRequest): void {
    if (this.lastExecuted >= this.highestCommitSent && this.fetching === null) {
      this.readsOut.push(r);
    } else if (this.deferredReads.length < MAX_DEFERRED_READS) {
      this.deferredReads.push(r);
    }
  }

  private flushReads(): void {
    if (this.deferredReads.length === 0 || this.lastExecuted < this.highestCommitSent || this.fetching !== null) return;
    this.readsOut.push(...this.deferredReads.splice(0));
  }

  /** The primary assigns sequence numbers to pending requests, batching when its pipeline is full. */
  private tryAssign(): void {
    // A batch it re-issued by digest and lacks may hold pending requests: ordering them again
    // would only execute them twice as no-ops. (f + 1 honest replicas prepared it: it comes.)
    if (this.role !== 'primary' || this.missingBatches.size > 0) return;
    while (this.nextSeq <= this.stable.seq + this.logWindowSeqs && this.nextSeq - 1 - this.lastExecuted < this.maxInFlightBatches) {
      const batch: ClientRequest[] = [];
      let batchBytes = 0;
      for (const r of this.pending.values()) {
        if (batch.length >= this.maxBatchRequests) break;
        if (this.assigned.has(requestKey(r))) continue;
        if (r.timestamp <= (this.lastExecutedTimestamp.get(r.client) ?? 0)) continue;
        // Bytes bound the pre-prepare (it must fit in a transport frame); the first request always goes.
        if (batch.length > 0 && batchBytes + r.op.byteLength > this.maxBatchBytes) continue;
        batch.push(r);
        batchBytes += r.op.byteLength;
      }
      if (batch.length === 0) return;
      this.sendPrePrepare(this.nextSeq++, batch);
    }
  }

  private signCheckpoint(seq: number, digest: string): SignedCheckpoint {
    return { seq, stateDigest: digest, replica: this.id, signature: this.auth.sign(checkpointPayload(seq, digest, this.id)) };
  }

  private signPrepare(pp: SignedPrePrepare): SignedPrepare {
    return { view: pp.view, seq: pp.seq, digest: pp.digest, replica: this.id, signature: this.auth.sign(preparePayload(pp.view, pp.seq, pp.digest, this.id)) };
  }

  /** This replica's COMMIT for the pre-prepare at `seq` (addressed to itself; broadcast copies it). */
  private commitMessage(seq: number, pp: SignedPrePrepare): Extract<PbftMessage, { type: 'commit' }> {
    const payload = commitPayload(pp.view, seq, pp.digest, this.id);
    return { type: 'commit', view: pp.view, seq, digest: pp.digest, replica: this.id, macs: macVector(this.auth, payload, this.replicas), from: this.id, to: this.id };
  }

  private signPrePrepare(view: number, seq: number, batch: readonly ClientRequest[]): SignedPrePrepare {
    return { ...this.signPrePrepareDigest(view, seq, this.batchDigest(batch)), batch };
  }

  private signPrePrepareDigest(view: number, seq: number, digest: string): SignedPrePrepare {
    return { view, seq, digest, batch: [], primary: this.id, signature: this.auth.sign(prePreparePayload(view, seq, digest, this.id)) };
  }

  private sendPrePrepare(seq: number, batch: readonly ClientRequest[]): void {
    // A primary pre-prepares one batch per (view, seq): a second one is equivocation.
    const earlier = this.slots.get(seq)?.prePrepare;
    assert(earlier == null || earlier.view !== this.view || this.mutant === 'assign-before-new-view-installed', () => `${this.id}: primary of view ${this.view} pre-prepares sequence ${seq} twice`);
    const pp = this.signPrePrepare(this.view, seq, batch);
    const slot = this.slot(seq);
    slot.prePrepare = pp;
    this.holdBatch(seq, pp.digest, batch);
    this.dirtySlots.add(seq);
    for (const r of batch) this.assigned.add(requestKey(r));
    this.broadcast({ type: 'pre-prepare', prePrepare: pp });
    if (this.mutant === 'no-prepare-phase') {
      slot.prepared = true;
      this.setCert(seq, { prePrepare: pp, prepares: [] });
      this.sendCommit(seq, slot);
      return;
    }
    this.checkPrepared(seq);
  }

  // ---- normal case ----------------------------------------------------------------------------

  private inWindow(seq: number): boolean {
    return Number.isSafeInteger(seq) && seq > this.stable.seq && seq <= this.stable.seq + this.logWindowSeqs;
  }

  private slot(seq: number): Slot {
    let s = this.slots.get(seq);
    if (s === undefined) {
      s = { prePrepare: null, prepares: new Map(), commits: new Map(), prepared: false, committed: false, ownPrepare: null, ownCommit: null, ageTicks: 0 };
      this.slots.set(seq, s);
    }
    return s;
  }

  private onPrePrepare(pp: SignedPrePrepare, retransmitted: boolean, from: NodeId): void {
    if (this.role === 'view-change' || pp.view !== this.view) return this.learnBatch(pp);
    if (pp.primary !== this.primaryOf(this.view) || !this.verifySig(prePreparePayload(pp.view, pp.seq, pp.digest, pp.primary), pp.primary, pp.signature)) return this.bad();
    if (pp.primary === this.id || !this.inWindow(pp.seq)) return;
    const s = this.slot(pp.seq);
    if (s.prePrepare !== null) {
      // Already accepted one for (v, n): a different digest is the primary equivocating; ignore it.
      if (s.prePrepare.digest !== pp.digest) return;
      // The same one with the batch a NEW-VIEW named by digest only: take the batch.
      if (this.missingBatches.get(pp.seq) === pp.digest && this.validBatch(pp)) this.batchArrived(pp.seq, pp.digest, pp.batch);
      if (retransmitted) this.helpLaggard(pp.seq, from, false); // it sent the pre-prepare: it has the batch
      return;
    }
    if (!this.validBatch(pp)) return this.bad();
    s.prePrepare = pp;
    // Its outcome may be decided already (DECIDED claims), awaiting this very batch.
    if (this.missingBatches.get(pp.seq) === pp.digest) this.batchArrived(pp.seq, pp.digest, pp.batch);
    else this.holdBatch(pp.seq, pp.digest, pp.batch);
    this.dirtySlots.add(pp.seq);
    if (this.mutant === 'no-prepare-phase') {
      // Broken on purpose: commit on the pre-prepare alone; the "certificate" is the pre-prepare.
      s.prepared = true;
      this.setCert(pp.seq, { prePrepare: pp, prepares: [] });
      this.sendCommit(pp.seq, s);
      return;
    }
    const own = this.signPrepare(pp);
    s.ownPrepare = own;
    s.prepares.set(this.id, own);
    this.broadcast({ type: 'prepare', prepare: own });
    this.checkPrepared(pp.seq);
  }

  private onPrepare(p: SignedPrepare, retransmitted: boolean): void {
    if (!this.isReplica(p.replica) || !this.verifySig(preparePayload(p.view, p.seq, p.digest, p.replica), p.replica, p.signature)) return this.bad();
    if (this.role === 'view-change' || p.view !== this.view || !this.inWindow(p.seq)) return;
    if (p.replica === this.primaryOf(this.view) || p.replica === this.id) return; // the primary's vote is its pre-prepare
    const s = this.slot(p.seq);
    if (s.prepares.has(p.replica)) {
      if (retransmitted) this.helpLaggard(p.seq, p.replica, false); // it prepared: it has the batch
      return;
    }
    s.prepares.set(p.replica, p);
    this.checkPrepared(p.seq);
  }

  private checkPrepared(seq: number): void {
    const s = this.slots.get(seq);
    if (s === undefined || s.prePrepare === null || s.prepared) return;
    const pp = s.prePrepare;
    const matching: SignedPrepare[] = [];
    for (const p of s.prepares.values()) if (p.view === pp.view && p.digest === pp.digest) matching.push(p);
    if (matching.length < this.quorum - 1) return;
    s.prepared = true;
    this.setCert(seq, { prePrepare: pp, prepares: matching.slice(0, this.quorum - 1) });
    if (this.mutant === 'execute-when-prepared') {
      // Broken on purpose: no commit phase; a prepared request is executed at once.
      s.committed = true;
      this.decide(seq, pp);
      return;
    }
    this.sendCommit(seq, s);
  }

  private sendCommit(seq: number, s: Slot): void {
    const pp = s.prePrepare!;
    const own = this.commitMessage(seq, pp);
    s.ownCommit = own;
    if (seq > this.highestCommitSent) this.highestCommitSent = seq;
    this.broadcast({ type: 'commit', view: own.view, seq, digest: own.digest, replica: own.replica, macs: own.macs });
    // Our own COMMIT counts towards the 2f + 1 only once our prepared certificate is durable
    // (advance() after this Ready's persist), as the others' COMMITs leave only after theirs is.
    // The driver executes a committed batch while its Ready is still being written: counted at
    // once, a power loss could make this replica forget the certificate of a batch it executed,
    // and with a liar hiding its own, a view change re-issues the sequence number as something else.
    if (this.mutant === 'count-own-commit-early') {
      s.commits.set(this.id, pp.digest);
      this.checkCommitted(seq);
      return;
    }
    this.ownCommitsNext.push({ seq, slot: s, commit: own });
    this.checkCommitted(seq); // 2f + 1 others may have committed already
  }

  private onCommit(m: Extract<PbftMessage, { type: 'commit' }>): void {
    if (!this.isReplica(m.replica)) return this.bad();
    if (!this.skipAuth() && !verifyMacVector(this.auth, commitPayload(m.view, m.seq, m.digest, m.replica), m.replica, m.macs)) return this.bad();
    if (m.replica === this.id) return;
    if (this.role === 'view-change' || m.view !== this.view) return this.learnCommit(m);
    if (!this.inWindow(m.seq)) return;
    const s = this.slot(m.seq);
    if (s.commits.has(m.replica)) {
      if (m.retransmitted === true) this.helpLaggard(m.seq, m.replica, false); // it prepared: it has the batch
      return;
    }
    s.commits.set(m.replica, m.digest);
    this.checkCommitted(m.seq);
  }

  private checkCommitted(seq: number): void {
    const s = this.slots.get(seq);
    if (s === undefined || !s.prepared || s.committed) return;
    const pp = s.prePrepare!;
    let matching = 0;
    for (const d of s.commits.values()) if (d === pp.digest) matching++;
    if (matching < this.quorum) return;
    s.committed = true;
    this.decide(seq, pp);
  }

  /**
   * Learn an outcome this replica cannot vote on. After its VIEW-CHANGE it must prepare nothing
   * more in the views before (the VIEW-CHANGE stands for what it prepared there), but it may still
   * learn what the others commit: a quorum of COMMITs for one (view, seq, digest) is what makes
   * any replica's decision committed-local, and learning sends nothing. Without this, a replica
   * that gave up alone on a primary the others keep (its timer ran out while it was cut off)
   * executes nothing, and serves its callers nothing, until the next view change, which a healthy
   * cluster may never have. The batch comes with an earlier view's pre-prepare (learnBatch) or is
   * fetched by digest like a NEW-VIEW's.
   */
  private learnCommit(m: Extract<PbftMessage, { type: 'commit' }>): void {
    if (this.mutant === 'no-learning-in-view-change') return;
    if (!Number.isSafeInteger(m.view) || m.view > this.view || (m.view === this.view && this.role !== 'view-change') || typeof m.digest !== 'string') return;
    if (!this.inWindow(m.seq) || m.seq <= this.lastExecuted || this.decided.has(m.seq)) return;
    const votes = claimsAt(this.learnedCommits, m.seq);
    const prev = votes.get(m.replica);
    if (prev !== undefined && prev.view > m.view) return;
    votes.set(m.replica, { view: m.view, digest: m.digest });
    // Our own COMMIT of that view counts once its certificate is durable, as in checkCommitted.
    const own = this.durableOwnCommits.get(m.seq);
    let matching = own !== undefined && own.view === m.view && own.digest === m.digest ? 1 : 0;
    for (const v of votes.values()) if (v.view === m.view && v.digest === m.digest) matching++;
    if (matching < this.quorum) return;
    this.learnOutcome(m.seq, m.view, m.digest);
  }

  /**
   * f + 1 replicas say they decided `digest` at `seq`: at least one of them is honest, and an
   * honest replica decides only what committed, so this replica may decide it too, whatever its
   * role or view. This is how a replica left alone in a view change catches up when a liar
   * withholds its COMMITs: learnCommit needs 2f + 1 of them, and the lone replica has no vote of
   * its own to add (it was cut off when the others prepared). Claims are counted by digest; the
   * decision's view is the highest the matching claims name: a liar can only raise it above an
   * honest claimer's (onNewView then refuses a contradicting NEW-VIEW of that view, harmless),
   * never lower it into a view whose NEW-VIEWs must carry the decision.
   */
  private onDecided(m: Extract<PbftMessage, { type: 'decided' }>): void {
    if (!this.isReplica(m.replica)) return this.bad();
    if (!this.skipAuth() && !verifyMacVector(this.auth, decidedPayload(m.view, m.seq, m.digest, m.replica), m.replica, m.macs)) return this.bad();
    if (m.replica === this.id || this.mutant === 'no-learning-from-decided') return;
    if (this.mutant === 'no-learning-in-view-change' && (this.role === 'view-change' || m.view > this.view)) return;
    if (!Number.isSafeInteger(m.view) || m.view < 0 || typeof m.digest !== 'string') return;
    if (!this.inWindow(m.seq) || m.seq <= this.lastExecuted || this.decided.has(m.seq)) return;
    const claims = claimsAt(this.decidedClaims, m.seq);
    claims.set(m.replica, { view: m.view, digest: m.digest });
    let matching = 0;
    let view = m.view;
    for (const c of claims.values()) {
      if (c.digest !== m.digest) continue;
      matching++;
      view = Math.max(view, c.view);
    }
    if (matching < this.f + 1) return;
    this.learnOutcome(m.seq, view, m.digest);
  }

  /** Decide an outcome learned from others (learnCommit, onDecided); its batch is here already or is fetched by digest. */
  private learnOutcome(seq: number, view: number, digest: string): void {
    this.learnedCommits.delete(seq);
    this.decidedClaims.delete(seq);
    this.learnedOutcomes++;
    const batch = this.batchFor(seq, digest);
    if (batch === null) {
      // Asked for at once: a replica that learns outcomes (alone in a view change) executes, and
      // serves, no later than the batches arrive.
      this.missingBatches.set(seq, digest);
      this.fetchBatch(seq, digest, this.nextBatchHolders());
    }
    this.decide(seq, { view, seq, digest, batch: batch ?? [], primary: this.primaryOf(view), signature: '' });
  }

  /**
   * A pre-prepare of an earlier view (or one sent while this replica is in a view change): keep
   * its batch for an outcome this replica is learning. Only the batch of a view f + 1 replicas
   * say they are in, or one f + 1 replicas voted for, is held: a past primary that lies could
   * otherwise churn the held batches with signed junk. (Another is fetched by digest once the
   * outcome is learned.)
   */
  private learnBatch(pp: SignedPrePrepare): void {
    if (pp.view > this.view || !this.inWindow(pp.seq) || pp.seq <= this.lastExecuted) return;
    if (pp.primary !== this.primaryOf(pp.view) || !this.verifySig(prePreparePayload(pp.view, pp.seq, pp.digest, pp.primary), pp.primary, pp.signature)) return this.bad();
    if (!this.hasBatch(pp)) return;
    const awaited = this.missingBatches.get(pp.seq) === pp.digest;
    // f + 1 votes for it, or f + 1 replicas in its view: at least one honest replica's word, so
    // a liar that was primary of a view the others left cannot make us hold its batches.
    const voted = (votes: Map<NodeId, { digest: string }> | undefined): boolean => votes !== undefined && [...votes.values()].filter((v) => v.digest === pp.digest).length >= this.f + 1;
    const live = [...this.peerViews.values()].filter((v) => v === pp.view).length >= this.f + 1;
    if (!awaited && !live && !voted(this.learnedCommits.get(pp.seq)) && !voted(this.decidedClaims.get(pp.seq))) return;
    if (!this.validBatch(pp)) return this.bad();
    if (awaited) this.batchArrived(pp.seq, pp.digest, pp.batch);
    else this.holdBatch(pp.seq, pp.digest, pp.batch);
  }

  private decide(seq: number, pp: SignedPrePrepare): void {
    const earlier = this.decided.get(seq);
    if (earlier !== undefined) {
      assert(earlier.digest === pp.digest, `${this.id}: sequence ${seq} committed ${earlier.digest} in view ${earlier.view}, now ${pp.digest} in view ${pp.view}`);
      return;
    }
    if (seq <= this.lastExecuted) return;
    this.decided.set(seq, { view: pp.view, digest: pp.digest, batch: this.missingBatches.get(seq) === pp.digest ? null : pp.batch });
    this.dirtySlots.add(seq);
    this.tellReplicasLeftOut(seq);
    this.execute();
  }

  /**
   * Tell a decision as it is made, not only when a STATUS asks, to the replicas that cannot make
   * it themselves: those whose latest VIEW-CHANGE is for a view above ours (alone in it, they
   * cannot vote in our view), and those that sent no vote in this slot (a primary that lies may
   * send them no pre-prepare; without it they cannot prepare, and would fall behind the others'
   * checkpoints and skip, by state transfer, the requests of their own callers). f + 1 such
   * DECIDED claims decide for them, and they fetch the batch by digest. A replica a second late
   * serves reads a second stale, and while f liars are silent every read needs its answer.
   * One small message per decision per such replica.
   */
  private tellReplicasLeftOut(seq: number): void {
    if (this.mutant === 'decided-only-on-status') return;
    const s = this.slots.get(seq);
    for (const r of this.replicas) {
      if (r === this.id || (this.peerExecuted.get(r) ?? 0) >= seq) continue;
      const alone = (this.latestViewChangeOf.get(r) ?? -1) > this.view;
      const silent = s !== undefined && s.prePrepare !== null && s.prePrepare.primary !== r && !s.prepares.has(r) && !s.commits.has(r);
      if (alone || silent) this.sendDecided(seq, r);
    }
  }

  private execute(): void {
    let progressed = false;
    let executedRequest = false;
    if (this.fetching !== null) return;
    const wasBehind = this.behindPeers();
    for (;;) {
      const seq = this.lastExecuted + 1;
      const d = this.decided.get(seq);
      if (d === undefined || d.batch === null) break; // a batch not here yet is being fetched
      this.lastExecuted = seq;
      progressed = true;
      const fresh: boolean[] = [];
      for (const r of d.batch) {
        const last = this.lastExecutedTimestamp.get(r.client) ?? 0;
        // Only a request it had not executed before shows the view works (Castro, 2.3.5): a batch
        // of replayed requests (validly signed, executed as no-ops) would let a lying primary
        // reset the backoff at each of its views while ordering nothing new.
        if (r.timestamp > last && this.role !== 'view-change') executedRequest = true;
        fresh.push(r.timestamp > last || this.mutant === 'execute-duplicates');
        if (r.timestamp > last) this.lastExecutedTimestamp.set(r.client, r.timestamp);
        const p = this.pending.get(r.client);
        if (p !== undefined && p.timestamp <= r.timestamp) this.pending.delete(r.client);
        this.assigned.delete(requestKey(r));
      }
      this.applyOut.push({ index: seq as Index, term: d.view as Term, kind: d.batch.length === 0 ? 'noop' : 'command', data: pack(d.batch.map((r) => [r.client, r.timestamp])) });
      this.batchesOut.push({ seq, view: d.view, requests: d.batch, fresh });
      if (seq % this.checkpointIntervalSeqs === 0) {
        this.clientTablesAt.set(seq, [...this.lastExecutedTimestamp].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
      }
    }
    if (executedRequest) {
      // A request executed in this view: the view change that led here worked (see failedViewChanges).
      this.viewProven = true;
      this.failedViewChanges = 0;
    }
    if (progressed) {
      this.executedAtClock = this.clock;
      if (wasBehind) this.askForMore();
      if (this.timedRequest !== null && !this.isPending(this.timedRequest)) {
        this.timedRequest = null;
        this.requestTimerTicks = 0;
      }
      this.flushReads();
      this.tryAssign();
    }
  }

  /**
   * The timed request is no longer pending: time the next one. If its client replaced it with a
   * newer request before it executed, the timer runs on for the newer one: otherwise a client
   * (a liar ordering requests as its own client) that keeps sending new requests would reset
   * every backup's timer forever, and a primary that orders nothing would never be replaced.
   */
  private timeNextRequest(): { client: Principal; timestamp: number; forwarded: boolean } {
    const timed = this.timedRequest;
    const newer = timed === null ? undefined : this.pending.get(timed.client);
    const executed = timed !== null && (this.lastExecutedTimestamp.get(timed.client) ?? 0) >= timed.timestamp;
    if (timed !== null && newer !== undefined && !executed && this.mutant !== 'reset-timer-on-newer-request') {
      this.timedRequest = { client: timed.client, timestamp: newer.timestamp, forwarded: timed.forwarded };
      // Forwarded already: hand the newer one to every replica too, as the first expiry did.
      if (timed.forwarded) this.broadcast({ type: 'request', request: newer });
      return this.timedRequest;
    }
    const first = this.pending.values().next().value!;
    this.timedRequest = { client: first.client, timestamp: first.timestamp, forwarded: false };
    this.requestTimerTicks = 0;
    return this.timedRequest;
  }

  /** Tell the others how far we executed in this view, so that they resend what we missed. */
  private sendStatus(): void {
    this.broadcast(this.statusBody(this.replicas));
  }

  private sendStatusTo(r: NodeId): void {
    this.send(r, this.statusBody([r]));
  }

  private statusBody(receivers: readonly NodeId[]): DistributiveOmit<Extract<PbftMessage, { type: 'status' }>, 'from' | 'to'> {
    const payload = statusPayload(this.view, this.lastExecuted, this.id);
    return { type: 'status', view: this.view, lastExecuted: this.lastExecuted, replica: this.id, macs: macVector(this.auth, payload, receivers) };
  }

  private onStatus(m: Extract<PbftMessage, { type: 'status' }>): void {
    if (!this.isReplica(m.replica)) return this.bad();
    if (!this.skipAuth() && !verifyMacVector(this.auth, statusPayload(m.view, m.lastExecuted, m.replica), m.replica, m.macs)) return this.bad();
    if (m.replica === this.id || !Number.isSafeInteger(m.view) || !Number.isSafeInteger(m.lastExecuted)) return;
    if (m.lastExecuted > (this.peerExecuted.get(m.replica) ?? 0)) this.peerExecuted.set(m.replica, m.lastExecuted);
    this.peerViews.set(m.replica, m.view);
    if (this.role === 'view-change') return;
    // It is behind us: say how far we are, so that it knows to catch up rather than suspect the primary.
    if (m.lastExecuted + this.maxInFlightBatches < this.lastExecuted && this.mayAnswerStatus(m.replica)) this.sendStatusTo(m.replica);
    if ((m.view < this.view || m.lastExecuted < this.stable.seq) && this.mayHelpFarBehind(m.replica)) {
      // It was down or cut off: the NEW-VIEW that began our view (signed by its primary, so any
      // replica may forward it) and our stable checkpoint bring it here without waiting for the
      // next announcement; if it waited, its request timer could expire and leave it alone in a
      // view change the others have no reason to join.
      if (m.view < this.view && this.newViewMsg !== null && this.newViewMsg.view === this.view) this.send(m.replica, { type: 'new-view', newView: this.newViewMsg });
      if (m.lastExecuted < this.stable.seq) this.sendStableProof(m.replica);
    }
    // Same view: it may lack our PREPAREs and COMMITs. A later one: it is in a view change we
    // are not in (alone, or we missed the NEW-VIEW), and learns outcomes from our COMMITs.
    if (m.view < this.view) return;
    this.helpLaggards(m);
  }

  /**
   * Resend what we sent in the slots above what it executed, at most once per replica per
   * retransmit interval. Votes and DECIDED claims are small and go for every such slot; batches
   * (in pre-prepares) only for the first maxInFlightBatches of them, as much as the primary's
   * pipeline sends it anyway: a liar's STATUS claiming it executed nothing cannot make us send it
   * the whole window of batches each interval. An honest laggard asks again as it catches up
   * (askForMore), and fetches by digest a batch it learned the outcome of without it.
   */
  private helpLaggards(m: Extract<PbftMessage, { type: 'status' }>): void {
    const missed = [...this.slots.keys()].filter((seq) => seq > m.lastExecuted).sort((a, b) => a - b);
    if (missed.length === 0 || !this.rateLimited(this.laggardHelpedAt, m.replica, this.retransmitTicks)) return;
    missed.forEach((seq, i) => this.helpLaggard(seq, m.replica, i < this.maxInFlightBatches));
  }

  /**
   * A replica f + 1 others said was behind by more than the primary's pipeline, and that just
   * executed something, asks for the next stretch at once rather than at its next announcement
   * (helpLaggards sends a bounded stretch of batches per STATUS). At most once per retransmit
   * interval. (Not whenever a peer is ahead: in a busy healthy cluster some peer always is.)
   */
  private askForMore(): void {
    if (this.clock - this.catchUpStatusAt < this.retransmitTicks) return;
    this.catchUpStatusAt = this.clock;
    this.sendStatus();
  }

  /** Have f + 1 other replicas (so at least one honest one) said they executed further than the primary's pipeline reaches beyond us? */
  private behindPeers(): boolean {
    const ahead = this.lastExecuted + this.maxInFlightBatches;
    let replicas = 0;
    for (const executed of this.peerExecuted.values()) if (executed > ahead) replicas++;
    return replicas >= this.f + 1;
  }

  /**
   * Is this replica behind the others, rather than the primary stalled? It is when f + 1 other
   * replicas (so at least one honest one) said in a STATUS that they executed further than the
   * primary's pipeline reaches beyond it: the system is ordering requests, and its own request may
   * be among those it has yet to catch up on. (Executed, not merely committed: a primary that
   * leaves a gap gets commits above it, but nobody executes past the gap, so timers still run.)
   * A replica just back from a restart is behind; if its timer ran, it could give up on a working
   * primary alone and be left out of the view the others stay in. The timer is paused, not reset,
   * and only while the replica keeps executing.
   */
  private catchingUp(): boolean {
    // Only while catching up makes progress: a replica that cannot get what it lacks in this view
    // (those who executed it moved on to a view change) must let its timer run and join them.
    if (this.clock - this.executedAtClock > this.requestTimeoutTicks) return false;
    return this.behindPeers();
  }

  /**
   * Our stable checkpoint's proof, the 2f + 1 signed CHECKPOINTs that made it stable (each signed
   * by its replica, so any replica may forward them), with our own: the replica behind becomes
   * stable there and fetches the state. Our own alone is not enough: if a liar withholds its
   * CHECKPOINT from that replica, the honest ones' own claims are 2f, one short, and the replica
   * has no claim of its own to add: it cannot execute that far, since the slots below our stable
   * checkpoint, which it lacks, are gone here.
   */
  private sendStableProof(to: NodeId): void {
    const own = this.ownCheckpoints.get(this.stable.seq);
    if (own !== undefined) this.send(to, { type: 'checkpoint', checkpoint: own.msg });
    if (this.mutant === 'own-checkpoint-only') return;
    for (const c of this.stable.proof) if (c.replica !== this.id && c.replica !== to) this.send(to, { type: 'checkpoint', checkpoint: c });
  }

  /**
   * Whether this replica answers a VIEW-CHANGE for the view it is in with the NEW-VIEW: the
   * primary and the NEW_VIEW_FORWARDERS_AFTER_PRIMARY(f) = 2f replicas after it, not all n - 1:
   * the NEW-VIEW is the largest message there is. The replica that asks is never its own
   * forwarder, and the primary it asks about may be a liar that withholds the NEW-VIEW from it
   * (or sent it a second one, which it refused: see onNewView), and from other honest replicas
   * too. A view the liars cannot stall at will needs 2f + 1 replicas in it, so at most f honest
   * ones are kept out; among the 2f after the primary there are then at most f - 1 liars (the
   * primary is the f-th) and f honest replicas kept out: one honest replica in the view is left.
   * With only f + 1 after it, a liar primary with f - 1 accomplices among them withholds its
   * NEW-VIEW from the two honest ones, and with f >= 2 the view goes on without them (their votes
   * lost, the liars able to stall it at will) until the next view change. Each forwarder answers
   * each replica at most once per announce interval.
   *
   * Chosen over treating two validly signed NEW-VIEWs for one view as proof of the primary's
   * equivocation and moving on: the replica that refused the second one holds only that one (the
   * first went to the others), so it has no proof to show, and a view change needs f + 1
   * replicas while the others, content in the view, have no reason to join.
   */
  private forwardsNewView(): boolean {
    if (this.role === 'primary') return true;
    if (this.mutant === 'only-primary-forwards-new-view') return false;
    const after = (this.replicas.indexOf(this.id) - this.replicas.indexOf(this.primaryOf(this.view)) + this.n) % this.n;
    const forwarders = this.mutant === 'f-replicas-forward-new-view' ? this.f
      : this.mutant === 'f-plus-one-replicas-forward-new-view' ? this.f + 1
      : newViewForwardersAfterPrimary(this.f);
    assert(forwarders < this.n, 'a forwarder after the primary is not the primary');
    return after >= 1 && after <= forwarders;
  }

  /** At most one NEW-VIEW and checkpoint per replica per announce interval: a liar's STATUS messages cannot make us flood. */
  private mayHelpFarBehind(r: NodeId): boolean {
    return this.rateLimited(this.farBehindHelpedAt, r, this.announceTicks);
  }

  /** At most one STATUS in answer per replica per retransmit interval. */
  private mayAnswerStatus(r: NodeId): boolean {
    return this.rateLimited(this.statusAnsweredAt, r, this.retransmitTicks);
  }

  private rateLimited(last: Map<NodeId, number>, r: NodeId, everyTicks: number): boolean {
    const at = last.get(r);
    if (at !== undefined && this.clock - at < everyTicks) return false;
    last.set(r, this.clock);
    return true;
  }

  /**
   * A peer is missing something in a slot we have: send it what we sent (and the primary's signed
   * pre-prepare, if `withBatch`), and, if we decided the slot, a DECIDED claim (see onDecided).
   */
  private helpLaggard(seq: number, to: NodeId, withBatch: boolean): void {
    const s = this.slots.get(seq);
    if (s === undefined || to === this.id) return;
    // The votes first: a replica that is learning outcomes holds a batch only once it knows
    // the digest has backing (learnBatch).
    if (s.ownPrepare !== null) this.send(to, { type: 'prepare', prepare: s.ownPrepare });
    if (s.ownCommit !== null) {
      const c = s.ownCommit as Extract<PbftMessage, { type: 'commit' }>;
      this.send(to, { type: 'commit', view: c.view, seq, digest: c.digest, replica: c.replica, macs: c.macs });
    }
    if (this.decided.has(seq)) this.sendDecided(seq, to);
    if (withBatch && s.prePrepare !== null && this.hasBatch(s.prePrepare)) this.send(to, { type: 'pre-prepare', prePrepare: s.prePrepare });
  }

  private sendDecided(seq: number, to: NodeId): void {
    const d = this.decided.get(seq)!;
    this.send(to, { type: 'decided', view: d.view, seq, digest: d.digest, replica: this.id, macs: macVector(this.auth, decidedPayload(d.view, seq, d.digest, this.id), [to]) });
  }

  private retransmit(): void {
    if (this.role === 'view-change') {
      if (this.ownViewChange !== null) this.broadcast({ type: 'view-change', viewChange: this.ownViewChange });
    } else {
      for (const [seq, s] of this.slots) {
        if (s.committed) continue;
        s.ageTicks += this.retransmitTicks;
        if (s.ageTicks < this.retransmitTicks * 2) continue;
        if (s.prePrepare !== null && s.prePrepare.primary === this.id && this.hasBatch(s.prePrepare)) this.broadcast({ type: 'pre-prepare', prePrepare: s.prePrepare, retransmitted: true });
        if (s.ownPrepare !== null) this.broadcast({ type: 'prepare', prepare: s.ownPrepare, retransmitted: true });
        if (s.ownCommit !== null) {
          const c = s.ownCommit as Extract<PbftMessage, { type: 'commit' }>;
          this.broadcast({ type: 'commit', view: c.view, seq, digest: c.digest, replica: c.replica, macs: c.macs, retransmitted: true });
        }
      }
      if (this.role === 'backup') {
        // Requests the primary may not have: relay again (its signature makes relaying safe).
        for (const r of this.pending.values()) this.send(this.primaryOf(this.view), { type: 'request', request: r });
      }
    }
    if (this.fetching !== null) this.requestState();
    this.fetchMissingBatches();
  }

  /** Re-announce the latest checkpoint (and, for a primary after a view change, the NEW-VIEW): laggards catch up from these. */
  private announce(): void {
    // The stable one, and the ones not yet stable: lost CHECKPOINTs would otherwise leave the
    // low water mark behind for good, and a primary stopped at the high water mark.
    for (const [seq, own] of this.ownCheckpoints) if (seq >= this.stable.seq) this.broadcast({ type: 'checkpoint', checkpoint: own.msg });
    if (this.role === 'primary' && this.newViewMsg !== null && this.newViewMsg.view === this.view) this.broadcast({ type: 'new-view', newView: this.newViewMsg });
    // Always, as Castro's replicas send status periodically: a replica that restarted into a quiet
    // cluster and whose first STATUS was lost (its peers' connections not yet up) has nothing
    // pending, yet lacks what the others committed, and learns it only from their answer.
    if (this.mutant !== 'status-only-when-pending' || this.pending.size > 0 || this.deferredReads.length > 0) this.sendStatus();
  }

  // ---- checkpoints and state transfer -----------------------------------------------------------

  private validCheckpoint(c: SignedCheckpoint): boolean {
    return typeof c === 'object' && c !== null && this.isReplica(c.replica) && Number.isSafeInteger(c.seq) && typeof c.stateDigest === 'string'
      && this.verifySig(checkpointPayload(c.seq, c.stateDigest, c.replica), c.replica, c.signature);
  }

  private onCheckpoint(c: SignedCheckpoint): void {
    if (!this.validCheckpoint(c)) return this.bad();
    this.notePartBytes(c);
    if (c.seq <= this.stable.seq || c.seq % this.checkpointIntervalSeqs !== 0) return;
    this.recordCheckpointClaim(c);
    this.checkStable(c.seq);
  }

  /**
   * Replicas agree on a checkpoint only if they cut its state into parts of the same size (the
   * digest covers the part digests). A replica configured with another statePartBytes than the
   * others would never see its checkpoints stable, and a cluster split between two sizes would
   * stop once its log window filled, silently. The digest names the part size, under the
   * signature: f + 1 replicas that claim another size than ours include an honest one, so the
   * cluster is misconfigured, and this replica stops with an error that says so.
   *
   * Only claims at a checkpoint above the stable one that this replica made itself (with its own
   * size) count: there the two sizes are seen to differ now. After a cluster restarted on another
   * size, every member announces its stable checkpoint again, made with the old size, and one
   * that restarted behind the others sees their later stable checkpoints, also made with the old
   * size; and a liar may relay an honest replica's CHECKPOINT signed before such a restart. None
   * of these says the cluster is split, and counted they would stop honest replicas.
   */
  private notePartBytes(c: SignedCheckpoint): void {
    const size = partBytesOfCheckpointDigest(c.stateDigest);
    if (size === null || size === this.statePartBytes) {
      this.otherPartBytes.delete(c.replica);
      return;
    }
    if (this.mutant !== 'count-stale-part-size-claims' && (c.seq <= this.stable.seq || !this.ownCheckpoints.has(c.seq))) return;
    this.otherPartBytes.set(c.replica, size);
    if (this.otherPartBytes.size > this.f) {
      const claims = [...this.otherPartBytes].map(([r, b]) => `${r}: ${b}`).join(', ');
      throw new Error(`${this.id}: statePartBytes=${this.statePartBytes} here, but replicas sign checkpoints made with other part sizes (${claims}): statePartBytes must be equal on every replica of a cluster (the checkpoint digest covers the parts)`);
    }
  }

  private recordCheckpointClaim(c: SignedCheckpoint): void {
    let claims = this.checkpointClaims.get(c.seq);
    if (claims === undefined) {
      claims = new Map();
      this.checkpointClaims.set(c.seq, claims);
    }
    const prior = claims.get(c.replica);
    if (prior !== undefined) {
      if (prior.stateDigest === c.stateDigest || this.mutant === 'first-checkpoint-claim-sticks') return;
      // Two digests signed by one replica at one checkpoint: it lies (an honest replica's state
      // there is one). Keep the claim more of the others back. Kept first-come, a liar's bogus
      // CHECKPOINT would shut out its honest one that an honest replica forwards in its stable
      // proof, and a replica behind that checkpoint, with only 2f honest replicas holding it (it
      // never executed there itself), would never see 2f + 1 and never catch up. Its honest
      // claim, counted, is no risk: 2f + 1 for two digests would take f + 1 liars.
      if (this.supportOf(claims, c) <= this.supportOf(claims, prior)) return;
      claims.set(c.replica, c);
      return;
    }
    claims.set(c.replica, c);
    const mine = this.claimsByReplica.get(c.replica) ?? [];
    mine.push(c.seq);
    mine.sort((a, b) => a - b);
    while (mine.length > MAX_CHECKPOINT_CLAIMS_PER_REPLICA) {
      // The lowest first (a replica far behind needs the others' latest claims), but first of
      // all one that no honest replica is known to back (fewer than f others sign its digest):
      // else a liar that signs MAX_CHECKPOINT_CLAIMS_PER_REPLICA claims for checkpoints nobody
      // reached pushes out its honest claim below them, each time a stable proof brings it
      // again, and a replica behind a checkpoint only 2f honest replicas hold, which needs that
      // claim, never sees 2f + 1. Never the one just taken (the claims of a stable proof are
      // unbacked until enough of them arrived) nor the highest (an honest replica's latest, not
      // yet backed, would go for each of its old claims a liar replays).
      const highest = mine[mine.length - 1];
      let at = this.mutant === 'trim-lowest-checkpoint-claim' ? -1 : mine.findIndex((seq) => seq !== c.seq && seq !== highest && !this.backedByHonest(seq, c.replica));
      if (at < 0) at = 0;
      const seq = mine.splice(at, 1)[0]!;
      const left = this.checkpointClaims.get(seq);
      left?.delete(c.replica);
      // An entry with no claim left goes too: else a liar's claims at ever more sequence numbers
      // (nobody reaches them, so no stable checkpoint clears them) leave one entry each, unbounded.
      if (left?.size === 0) this.checkpointClaims.delete(seq);
    }
    this.claimsByReplica.set(c.replica, mine);
  }

  /** Whether at least f replicas other than `replica` sign its claimed digest at `seq`: one of them is honest, so it is a state there. */
  private backedByHonest(seq: number, replica: NodeId): boolean {
    const claims = this.checkpointClaims.get(seq);
    const c = claims?.get(replica);
    return claims !== undefined && c !== undefined && this.supportOf(claims, c) >= this.f;
  }

  /** How many replicas other than its signer claim `c`'s digest at its checkpoint. */
  private supportOf(claims: ReadonlyMap<NodeId, SignedCheckpoint>, c: SignedCheckpoint): number {
    let n = 0;
    for (const other of claims.values()) if (other.replica !== c.replica && other.stateDigest === c.stateDigest) n++;
    return n;
  }

  /** 2f + 1 matching CHECKPOINTs at `seq`: it is stable. */
  private checkStable(seq: number): void {
    const claims = this.checkpointClaims.get(seq);
    if (claims === undefined || seq <= this.stable.seq) return;
    const byDigest = new Map<string, SignedCheckpoint[]>();
    for (const c of claims.values()) {
      const list = byDigest.get(c.stateDigest) ?? [];
      list.push(c);
      byDigest.set(c.stateDigest, list);
    }
    for (const [digest, proof] of byDigest) {
      if (proof.length < this.quorum) continue;
      this.adoptCheckpoint({ seq, digest, proof: proof.slice(0, this.quorum) });
      this.tryAssign(); // the high water mark moved
      return;
    }
  }

  /** A proven checkpoint above ours: make it stable, fetching the state first if we have not executed that far. */
  private adoptCheckpoint(cp: StableCheckpoint): void {
    if (cp.seq <= this.stable.seq) return;
    const own = this.ownCheckpoints.get(cp.seq);
    if (own !== undefined) {
      assert(own.digest === cp.digest, `${this.id}: state digest at checkpoint ${cp.seq} differs from the one 2f + 1 replicas proved`);
      this.makeStable(cp);
      return;
    }
    if (this.lastExecuted >= cp.seq) {
      // Executed past it, its state still being encoded (PbftHost encodes while later batches
      // execute): compact() will make it stable, with the proof kept here as claims. A NEW-VIEW's
      // proof reaches this replica no other way (the CHECKPOINTs in it may have been lost on their
      // way here, and a STATUS gets no proof from a replica it is not behind); forgotten, the
      // replica would stay at its old stable checkpoint, its log window short by an interval.
      if (this.mutant !== 'forget-proof-while-encoding' && this.clientTablesAt.has(cp.seq)) for (const c of cp.proof) this.recordCheckpointClaim(c);
      return;
    }
    if (this.fetching === null || this.fetching.seq < cp.seq) {
      this.fetching = cp;
      this.requestState();
    }
  }

  private makeStable(cp: StableCheckpoint): void {
    if (this.mutant !== 'no-batches-below-stable') {
      for (const [seq, d] of this.decided) if (seq <= cp.seq && d.batch !== null) this.batchesBelowStable.set(seq, { digest: d.digest, batch: d.batch });
    }
    for (const seq of this.batchesBelowStable.keys()) if (seq <= cp.seq - this.checkpointIntervalSeqs) this.batchesBelowStable.delete(seq);
    this.stable = cp;
    const own = this.ownCheckpoints.get(cp.seq);
    if (own !== undefined && this.snapshotOut?.meta.index !== cp.seq) {
      this.stableOut = { meta: { index: cp.seq as Index, term: this.view as Term, membership: this.membership }, data: stableCheckpointData(own.data, cp, own.meta?.partBytes) };
    }
    for (const m of [this.slots, this.certs, this.decided, this.checkpointClaims, this.learnedCommits, this.decidedClaims, this.durableOwnCommits] as Map<number, unknown>[]) {
      for (const k of m.keys()) if (k <= cp.seq) m.delete(k);
    }
    for (const k of this.ownCheckpoints.keys()) if (k < cp.seq) this.ownCheckpoints.delete(k);
    for (const k of this.clientTablesAt.keys()) if (k <= cp.seq) this.clientTablesAt.delete(k);
    for (const k of this.missingBatches.keys()) if (k <= cp.seq) this.missingBatches.delete(k);
    for (const k of this.batchesHeld.keys()) if (k <= cp.seq) this.batchesHeld.delete(k);
    this.batchAnsweredAt.clear();
    for (const [r, seqs] of this.claimsByReplica) this.claimsByReplica.set(r, seqs.filter((s) => s > cp.seq));
    if (this.fetching !== null && this.fetching.seq <= cp.seq) this.fetching = null;
    if (this.transfer !== null && this.transfer.cp.seq <= cp.seq) this.transfer = null;
    if (this.nextSeq <= cp.seq) this.nextSeq = cp.seq + 1;
    // Not tryAssign here: enterView makes the NEW-VIEW's checkpoint stable before it installs the
    // re-issued pre-prepares and sets nextSeq past them, and a new primary that assigned sequence
    // numbers in between would pre-prepare a second batch at the same (view, seq): backups keep the
    // first, the primary the second, and with f liars silent the view stalls. Callers assign.
    if (this.mutant === 'assign-before-new-view-installed') this.tryAssign();
  }

  /**
   * Ask for what the state transfer lacks: the meta-data of `fetching` (from the next source in
   * turn), or parts not yet asked for, up to maxInflightStateBytes in flight (always one). Parts
   * asked for a retransmit interval ago or more count as lost and are asked for again.
   */
  private requestState(): void {
    const target = this.fetching;
    if (target === null) return;
    const t = this.transfer;
    if (t === null || t.cp.seq < target.seq) {
      this.sendFetchState(this.nextStateSource(null), target.seq, null);
      return;
    }
    for (const [i, a] of t.asked) if (this.clock - a.at >= this.retransmitTicks) t.asked.delete(i);
    let inflight = 0;
    for (const i of t.asked.keys()) inflight += partLength(t.meta, i);
    for (let i = 0; i < t.parts.length; i++) {
      if (t.parts[i] !== null || t.asked.has(i)) continue;
      const bytes = partLength(t.meta, i);
      if (inflight > 0 && inflight + bytes > this.maxInflightStateBytes) break;
      const to = this.nextStateSource(t);
      t.asked.set(i, { to, at: this.clock });
      inflight += bytes;
      this.sendFetchState(to, t.cp.seq, i);
    }
  }

  /** The next replica to ask, in turn among the checkpoint's signers (every other replica if none); one that sent a bad part only when nobody else is left. */
  private nextStateSource(t: StateTransfer | null): NodeId {
    const target = t?.cp ?? this.fetching!;
    const peers = target.proof.map((c) => c.replica).filter((r) => r !== this.id);
    const all = peers.length > 0 ? peers : this.replicas.filter((r) => r !== this.id);
    const trusted = t === null ? all : all.filter((r) => !t.liars.has(r));
    const candidates = trusted.length > 0 ? trusted : all;
    return candidates[this.fetchRotation++ % candidates.length]!;
  }

  private sendFetchState(to: NodeId, seq: number, part: number | null): void {
    this.send(to, { type: 'fetch-state', seq, part, replica: this.id, macs: macVector(this.auth, fetchPayload(seq, part, this.id), [to]) });
  }

  private onFetchState(m: Extract<PbftMessage, { type: 'fetch-state' }>): void {
    if (!this.isReplica(m.replica)) return this.bad();
    if (!this.skipAuth() && !verifyMacVector(this.auth, fetchPayload(m.seq, m.part, m.replica), m.replica, m.macs)) return this.bad();
    if (m.replica === this.id) return;
    const asked = m.part === null ? undefined : this.ownCheckpoints.get(m.seq);
    if (asked?.meta != null && m.part !== null && m.part < asked.meta.partDigests.length) {
      const start = m.part * asked.meta.partBytes;
      const data = asked.data.subarray(start, start + partLength(asked.meta, m.part));
      if (!this.spendStateAnswer(m.replica, data.byteLength)) return;
      this.send(m.replica, { type: 'state-part', seq: m.seq, stateDigest: asked.digest, part: m.part, data });
      return;
    }
    // The meta-data asked for, or a part of a checkpoint this replica no longer holds: the meta-data
    // of its stable checkpoint, if that is as far as the one asked about.
    const own = this.ownCheckpoints.get(this.stable.seq);
    if (own?.meta == null || this.stable.seq < m.seq || this.stable.seq === 0) return;
    if (m.part !== null && this.stable.seq === m.seq) return; // a part index out of range
    if (!this.spendStateAnswer(m.replica, stateMetaBytes(own.meta))) return;
    this.send(m.replica, { type: 'state-meta', seq: this.stable.seq, stateDigest: this.stable.digest, proof: this.stable.proof, meta: own.meta });
  }

  /**
   * At most maxInflightStateBytes of parts and meta-data per replica per retransmit interval (and
   * always one answer): a liar's FETCH-STATEs (small) cannot make us send without end (parts and
   * meta-data up to MiBs).
   */
  private spendStateAnswer(to: NodeId, bytes: number): boolean {
    let spent = this.statePartsSpent.get(to);
    if (spent === undefined || this.clock - spent.since >= this.retransmitTicks) {
      spent = { since: this.clock, bytes: 0 };
      this.statePartsSpent.set(to, spent);
    }
    const cost = Math.max(bytes, 1);
    if (spent.bytes > 0 && spent.bytes + cost > this.maxInflightStateBytes) return false;
    spent.bytes += cost;
    return true;
  }

  private validProof(seq: number, digest: string, proof: readonly SignedCheckpoint[]): boolean {
    if (seq === 0) return digest === GENESIS_DIGEST;
    if (!Array.isArray(proof) || seq % this.checkpointIntervalSeqs !== 0) return false;
    const signers = new Set<NodeId>();
    for (const c of proof) {
      if (c.seq !== seq || c.stateDigest !== digest || !this.validCheckpoint(c)) return false;
      signers.add(c.replica);
    }
    return signers.size >= this.quorum;
  }

  /** The meta-data of a proven checkpoint: fetch its parts (a later checkpoint than the one we sought is as good). */
  private onStateMeta(m: Extract<PbftMessage, { type: 'state-meta' }>): void {
    if (this.fetching === null || m.seq < this.fetching.seq || m.seq <= this.lastExecuted || m.seq <= this.stable.seq) return;
    if (this.transfer !== null && this.transfer.cp.seq >= m.seq) return;
    if (m.seq === 0 || !this.validProof(m.seq, m.stateDigest, m.proof)) return this.bad();
    const meta = m.meta;
    if (!validStateMeta(meta) || checkpointDigestOf(this.auth, meta) !== m.stateDigest) return this.bad();
    const cp: StableCheckpoint = { seq: m.seq, digest: m.stateDigest, proof: m.proof };
    this.fetching = cp;
    // A transfer overtaken by a later checkpoint keeps the parts it has whose digests did not
    // change (same index, same digest: the same bytes), so that it is not begun again from nothing
    // each time a checkpoint becomes stable while it runs.
    const old = this.mutant === 'restart-overtaken-transfer' ? null : this.transfer;
    const parts = meta.partDigests.map((d, i) => {
      const p = old !== null && old.meta.partDigests[i] === d ? old.parts[i] ?? null : null;
      return p !== null && p.byteLength === partLength(meta, i) ? p : null;
    });
    const received = parts.reduce((n, p) => (p === null ? n : n + 1), 0);
    this.transfer = { cp, meta, parts, received, asked: new Map(), liars: new Set() };
    if (received === parts.length) return this.installState(this.transfer);
    this.requestState();
  }

  /** A part of the state being fetched: kept if its digest is its part's; refused (and asked of another replica) if not. */
  private onStatePart(m: Extract<PbftMessage, { type: 'state-part' }>): void {
    const t = this.transfer;
    if (t === null || m.seq !== t.cp.seq || m.stateDigest !== t.cp.digest) return;
    if (!Number.isSafeInteger(m.part) || m.part < 0 || m.part >= t.parts.length || t.parts[m.part] !== null) return;
    const ok = m.data instanceof Uint8Array && m.data.byteLength === partLength(t.meta, m.part)
      && (this.mutant === 'trust-state-parts' || this.auth.digest(m.data) === t.meta.partDigests[m.part]);
    if (!ok) {
      this.bad();
      // The sender is asked last from now on. Ask again, first of someone else, only if it was
      // the replica asked for this part: a bad part nobody asked for leaves the request out to
      // another replica alone (else each small bad message from a liar would make us ask an
      // honest replica for a whole part again, spending what it answers us per interval).
      t.liars.add(m.from);
      if (t.asked.get(m.part)?.to !== m.from && this.mutant !== 'refetch-on-any-bad-part') return;
      t.asked.delete(m.part);
      this.requestState();
      return;
    }
    t.parts[m.part] = m.data.slice();
    t.received++;
    t.asked.delete(m.part);
    if (t.received === t.parts.length) return this.installState(t);
    this.requestState();
  }

  /** Every part is here: the state is the checkpoint's. Install it as the stable checkpoint and go on from there. */
  private installState(t: StateTransfer): void {
    const data = new Uint8Array(t.meta.totalBytes);
    t.parts.forEach((p, i) => data.set(p!, i * t.meta.partBytes));
    this.transfer = null;
    let state: CheckpointState;
    try {
      state = unpack(data) as CheckpointState;
      if (!(state.service instanceof Uint8Array) || !Array.isArray(state.clients)) throw new Error('not a checkpoint state');
    } catch {
      // Only a replica that took parts unchecked gets here: start over.
      this.bad();
      this.requestState();
      return;
    }
    const cp = t.cp;
    this.stateTransfers++;
    this.snapshotOut = { meta: { index: cp.seq as Index, term: this.view as Term, membership: this.membership }, data: stableCheckpointData(data, cp, t.meta.partBytes) };
    this.applyOut = [];
    this.batchesOut = [];
    this.lastExecuted = cp.seq;
    this.executedAtClock = this.clock;
    if (this.highestCommitSent < cp.seq) this.highestCommitSent = cp.seq;
    this.lastExecutedTimestamp.clear();
    for (const [c, ts] of state.clients) this.lastExecutedTimestamp.set(c, ts);
    for (const [c, r] of this.pending) if (r.timestamp <= (this.lastExecutedTimestamp.get(c) ?? 0)) this.pending.delete(c);
    this.ownCheckpoints.set(cp.seq, { digest: cp.digest, data, meta: t.meta, msg: this.signCheckpoint(cp.seq, cp.digest) });
    this.fetching = null;
    this.makeStable(cp);
    this.execute();
    this.flushReads();
    this.tryAssign();
    this.sendStatus();
  }

  // ---- batches named by digest ------------------------------------------------------------------

  /** Keep a batch this replica accepted at `seq`, for a NEW-VIEW that may re-issue it by digest. */
  private holdBatch(seq: number, digest: string, batch: readonly ClientRequest[]): void {
    if (batch.length === 0 || !this.inWindow(seq)) return;
    let held = this.batchesHeld.get(seq);
    if (held === undefined) {
      held = new Map();
      this.batchesHeld.set(seq, held);
    }
    held.delete(digest);
    held.set(digest, batch);
    // A faulty primary pre-prepares a new digest at `seq` in each of its views: keep the latest
    // few per sequence number, but never the one this replica's prepared certificate names (a
    // NEW-VIEW may re-issue it, and evicting it could leave nobody to supply it).
    const pinned = this.certs.get(seq)?.prePrepare.digest;
    for (const d of held.keys()) {
      if (held.size <= MAX_BATCHES_HELD_PER_WINDOW_SEQ) break;
      if (d !== pinned && d !== digest) held.delete(d);
    }
  }

  /** The batch named `digest` at `seq`, if this replica has it (the null request always). */
  private batchFor(seq: number, digest: string): readonly ClientRequest[] | null {
    if (digest === this.nullDigest) return [];
    const executed = this.batchesBelowStable.get(seq);
    if (executed !== undefined && executed.digest === digest) return executed.batch;
    const held = this.batchesHeld.get(seq)?.get(digest);
    if (held !== undefined) return held;
    const cert = this.certs.get(seq)?.prePrepare;
    if (cert !== undefined && cert.digest === digest && this.hasBatch(cert)) return cert.batch;
    const d = this.decided.get(seq);
    if (d !== undefined && d.digest === digest && d.batch !== null) return d.batch;
    return null;
  }

  /**
   * Ask f + 1 other replicas (at least one honest) for each batch this one lacks, others at the
   * next retransmission: a holder answers with the whole batch, so asking everyone would cost
   * n - 1 copies of it.
   */
  private fetchMissingBatches(): void {
    if (this.missingBatches.size === 0) return;
    const asked = this.nextBatchHolders();
    for (const [seq, digest] of this.missingBatches) this.fetchBatch(seq, digest, asked);
  }

  /** The next f + 1 other replicas in turn (at least one honest among them). */
  private nextBatchHolders(): NodeId[] {
    const others = this.replicas.filter((r) => r !== this.id);
    const asked = Array.from({ length: Math.min(this.f + 1, others.length) }, (_, i) => others[(this.batchFetchRotation + i) % others.length]!);
    this.batchFetchRotation += asked.length;
    return asked;
  }

  private fetchBatch(seq: number, digest: string, asked: readonly NodeId[]): void {
    const payload = fetchBatchPayload(seq, digest, this.id);
    for (const to of asked) this.send(to, { type: 'fetch-batch', seq, digest, replica: this.id, macs: macVector(this.auth, payload, [to]) });
  }

  private onFetchBatch(m: Extract<PbftMessage, { type: 'fetch-batch' }>): void {
    if (!this.isReplica(m.replica) || typeof m.digest !== 'string' || !Number.isSafeInteger(m.seq)) return this.bad();
    if (!this.skipAuth() && !verifyMacVector(this.auth, fetchBatchPayload(m.seq, m.digest, m.replica), m.replica, m.macs)) return this.bad();
    if (m.replica === this.id || !(this.inWindow(m.seq) || this.batchesBelowStable.has(m.seq))) return;
    const batch = this.batchFor(m.seq, m.digest);
    if (batch === null || batch.length === 0) return;
    // At most one answer per replica and sequence number per retransmission interval.
    const key = `${m.replica}|${m.seq}`;
    const at = this.batchAnsweredAt.get(key);
    if (at !== undefined && this.clock - at < this.retransmitTicks) return;
    if (this.batchAnsweredAt.size >= this.n * this.logWindowSeqs) this.batchAnsweredAt.clear();
    const spent = this.batchAnswersSpent.get(m.replica);
    const fresh = spent === undefined || this.clock - spent.since >= this.retransmitTicks;
    if (!fresh && spent.count >= MAX_BATCH_ANSWERS_PER_INTERVAL) return;
    this.batchAnswersSpent.set(m.replica, fresh ? { since: this.clock, count: 1 } : { since: spent.since, count: spent.count + 1 });
    this.batchAnsweredAt.set(key, this.clock);
    this.send(m.replica, { type: 'batch', seq: m.seq, digest: m.digest, batch });
  }

  private onBatch(m: Extract<PbftMessage, { type: 'batch' }>): void {
    if (this.missingBatches.get(m.seq) !== m.digest) return; // not waited for (or already here)
    // Anyone may send a BATCH: it is taken only if it is what the digest names, of requests their
    // clients signed. (Bug 1 of the review: a NEW-VIEW's batches were taken on their signatures,
    // which cover digests only; the mutant puts that trust back, here.)
    if (this.mutant !== 'trust-fetched-batches' && !this.validBatch(m)) return this.bad();
    this.batchArrived(m.seq, m.digest, m.batch);
  }

  /** The batch named `digest` at `seq` is here: fill it in wherever it was known by digest only. */
  private batchArrived(seq: number, digest: string, batch: readonly ClientRequest[]): void {
    this.missingBatches.delete(seq);
    this.holdBatch(seq, digest, batch);
    const s = this.slots.get(seq);
    if (s?.prePrepare?.digest === digest && !this.hasBatch(s.prePrepare)) {
      s.prePrepare = { ...s.prePrepare, batch };
      for (const r of batch) this.assigned.add(requestKey(r));
    }
    const cert = this.certs.get(seq);
    if (cert?.prePrepare.digest === digest && !this.hasBatch(cert.prePrepare)) this.certs.set(seq, { ...cert, prePrepare: { ...cert.prePrepare, batch } });
    const d = this.decided.get(seq);
    if (d !== undefined && d.digest === digest && d.batch === null) this.decided.set(seq, { ...d, batch });
    this.dirtySlots.add(seq);
    this.execute();
    this.tryAssign();
  }

  // ---- view change ----------------------------------------------------------------------------

  private startViewChange(newView: number): void {
    if (newView <= this.view) return;
    // Leaving a view entered through a NEW-VIEW that executed nothing, whether its own timer ran
    // out or f + 1 others gave up on it: the view change into it failed too (see failedViewChanges).
    if (!this.viewProven && this.role !== 'view-change') this.failedViewChanges++;
    this.view = newView;
    this.role = 'view-change';
    this.hardStateDirty = true;
    this.viewChangesStarted++;
    this.viewChangeTimerTicks = null; // starts once 2f + 1 replicas are in this view change or a later one
    this.requestTimerTicks = 0;
    this.slots.clear();
    this.assigned.clear();
    const prepared = [...this.certs.entries()].filter(([seq]) => seq > this.stable.seq).sort((a, b) => a[0] - b[0])
      .map(([, c]) => ({ prePrepare: byDigest(c.prePrepare), prepares: c.prepares }));
    const unsigned = { newView, stableSeq: this.stable.seq, stableDigest: this.stable.digest, checkpointProof: this.stable.proof, prepared, replica: this.id };
    const vc: SignedViewChange = { ...unsigned, signature: this.auth.sign(viewChangePayload(unsigned)) };
    this.ownViewChange = vc;
    this.storeViewChange(vc);
    this.broadcast({ type: 'view-change', viewChange: vc });
    this.checkViewChangeQuorum();
  }

  private storeViewChange(vc: SignedViewChange): void {
    // One VIEW-CHANGE per replica, its latest: a replica cannot fill memory with future views.
    const prev = this.latestViewChangeOf.get(vc.replica);
    if (prev !== undefined && prev > vc.newView) return;
    if (prev !== undefined && prev < vc.newView) {
      const old = this.viewChanges.get(prev);
      old?.delete(vc.replica);
      if (old?.size === 0) this.viewChanges.delete(prev);
    }
    this.latestViewChangeOf.set(vc.replica, vc.newView);
    let m = this.viewChanges.get(vc.newView);
    if (m === undefined) {
      m = new Map();
      this.viewChanges.set(vc.newView, m);
    }
    if (!m.has(vc.replica)) m.set(vc.replica, vc);
  }

  private validViewChange(vc: SignedViewChange): boolean {
    if (typeof vc !== 'object' || vc === null || !this.isReplica(vc.replica) || !Number.isSafeInteger(vc.newView) || !Array.isArray(vc.prepared)) return false;
    const trusted = `${vc.replica}|${vc.newView}`;
    if (this.mutant === 'trust-view-change-by-signature' && this.trustedViewChanges.get(trusted) === vc.signature) return true;
    // Checked whole every time it comes (a NEW-VIEW brings again the VIEW-CHANGEs a replica
    // received): its signatures are remembered (verifySig), so that costs no signature check
    // twice. A shortcut on (replica, view, signature) took a VIEW-CHANGE changed under a
    // signature seen before unchecked: the primary could rewrite any replica's certificates in
    // its NEW-VIEW (the VIEW-CHANGE's signature covers its certificates' signatures, not what
    // they sign, so only checking them again finds the change).
    if (!this.verifySig(viewChangePayload(vc), vc.replica, vc.signature)) return false;
    if (this.mutant === 'trust-certificates-under-signature' && this.trustedViewChanges.get(trusted) === vc.signature) return true;
    if (!this.validProof(vc.stableSeq, vc.stableDigest, vc.checkpointProof)) return false;
    const seqs = new Set<number>();
    for (const c of vc.prepared) {
      const pp = c.prePrepare;
      if (seqs.has(pp.seq)) return false;
      seqs.add(pp.seq);
      if (pp.seq <= vc.stableSeq || pp.seq > vc.stableSeq + this.logWindowSeqs || pp.view >= vc.newView) return false;
      if (!this.validCertificate(c)) return false;
    }
    if (this.mutant === 'trust-view-change-by-signature' || this.mutant === 'trust-certificates-under-signature') {
      this.trustedViewChanges.set(trusted, vc.signature);
      if (this.trustedViewChanges.size > 4 * this.n) this.trustedViewChanges.delete(this.trustedViewChanges.keys().next().value!);
    }
    return true;
  }

  /** A pre-prepare's batch is what its digest names, and every request in it is signed by its client. */
  private validBatch(pp: Pick<SignedPrePrepare, 'batch' | 'digest'>): boolean {
    return Array.isArray(pp.batch) && pp.batch.every((r) => this.validRequest(r)) && this.batchDigest(pp.batch) === pp.digest;
  }

  /** Whether `pp` carries the batch its digest names (false for one carried by digest only). */
  private hasBatch(pp: SignedPrePrepare): boolean {
    return this.batchDigest(pp.batch) === pp.digest;
  }

  /** A certificate by digest (its batch left out, see SignedViewChange): the signatures are what count. */
  private validCertificate(c: PreparedCertificate): boolean {
    const pp = c.prePrepare;
    if (pp.primary !== this.primaryOf(pp.view) || !this.verifySig(prePreparePayload(pp.view, pp.seq, pp.digest, pp.primary), pp.primary, pp.signature)) return false;
    const signers = new Set<NodeId>();
    for (const p of c.prepares) {
      if (p.view !== pp.view || p.seq !== pp.seq || p.digest !== pp.digest || p.replica === pp.primary || !this.isReplica(p.replica)) return false;
      if (!this.verifySig(preparePayload(p.view, p.seq, p.digest, p.replica), p.replica, p.signature)) return false;
      signers.add(p.replica);
    }
    return signers.size >= (this.mutant === 'no-prepare-phase' ? 0 : this.quorum - 1);
  }

  private onViewChange(vc: SignedViewChange): void {
    if (!this.validViewChange(vc)) return this.bad();
    if (vc.newView < this.view) return;
    if (vc.newView === this.view && this.role !== 'view-change') {
      // It is behind: we are already in that view. Any replica answers with the NEW-VIEW (signed
      // by the primary, so it needs no trust in us), rate-limited per replica: a primary that lies
      // may withhold it from one replica, which would otherwise wait in a view change it cannot end.
      if (this.newViewMsg === null || this.newViewMsg.view !== this.view || !this.forwardsNewView()) return;
      if (this.rateLimited(this.newViewForwardedAt, vc.replica, this.announceTicks)) this.send(vc.replica, { type: 'new-view', newView: this.newViewMsg });
      return;
    }
    this.storeViewChange(vc);
    // f + 1 replicas want a later view: at least one is honest, so join the smallest of those views.
    const wanting = new Map<NodeId, number>();
    for (const [v, m] of this.viewChanges) {
      if (v <= this.view) continue;
      for (const r of m.keys()) if (r !== this.id) wanting.set(r, Math.min(wanting.get(r) ?? Infinity, v));
    }
    if (wanting.size >= this.f + 1) this.startViewChange(Math.min(...wanting.values()));
    this.checkViewChangeQuorum();
  }

  /** What the view-change and request timeouts are multiplied by now (see failedViewChanges). */
  private backoff(): number {
    const doublings = Math.min(this.failedViewChanges, MAX_VIEW_CHANGE_BACKOFF_DOUBLINGS);
    assert(doublings >= 0, 'failed view changes are counted up from zero');
    return 2 ** doublings;
  }

  private checkViewChangeQuorum(): void {
    if (this.role !== 'view-change') return;
    // The wait for NEW-VIEW starts when 2f + 1 replicas have given up on the views before this
    // one: Castro counts VIEW-CHANGEs for this view; counting those for later views too keeps
    // replicas from waiting forever when one that moved on took its VIEW-CHANGE for this view
    // with it, and still keeps a replica cut off from the others from racing ahead alone.
    if (this.viewChangeTimerTicks === null) {
      let gaveUp = 0;
      for (const v of this.latestViewChangeOf.values()) if (v >= this.view) gaveUp++;
      if (gaveUp >= this.quorum) this.viewChangeTimerTicks = this.viewChangeTimeoutTicks * this.backoff();
    }
    const set = this.viewChanges.get(this.view);
    if (set === undefined || set.size < this.quorum) return;
    if (this.primaryOf(this.view) !== this.id) return;
    const chosen = [...set.values()].sort((a, b) => (a.replica === this.id ? -1 : b.replica === this.id ? 1 : a.replica < b.replica ? -1 : 1)).slice(0, this.quorum);
    const o = this.computeNewView(this.view, chosen);
    const prePrepares = o.batches.map(({ seq, digest }) => byDigest(this.signPrePrepareDigest(this.view, seq, digest)));
    const nv: SignedNewView = { view: this.view, viewChanges: chosen, prePrepares, primary: this.id, signature: this.auth.sign(newViewPayload(this.view, this.id, chosen, prePrepares)) };
    this.broadcast({ type: 'new-view', newView: nv });
    this.enterView(nv, o.checkpoint, o.maxSeq);
  }

  /**
   * What a NEW-VIEW must contain given its VIEW-CHANGEs: the highest stable checkpoint among
   * them (min-s), and for each sequence number up to the highest prepared one (max-s) the
   * request prepared in the highest view, or the null request. Every backup recomputes this.
   */
  computeNewView(_view: number, vcs: readonly SignedViewChange[]): { checkpoint: StableCheckpoint; maxSeq: number; batches: { seq: number; digest: string }[] } {
    let checkpoint: StableCheckpoint = { seq: 0, digest: GENESIS_DIGEST, proof: [] };
    for (const vc of vcs) if (vc.stableSeq > checkpoint.seq) checkpoint = { seq: vc.stableSeq, digest: vc.stableDigest, proof: vc.checkpointProof };
    const best = new Map<number, SignedPrePrepare>();
    let maxSeq = checkpoint.seq;
    for (const vc of vcs) {
      for (const c of vc.prepared) {
        const pp = c.prePrepare;
        if (pp.seq <= checkpoint.seq) continue;
        const b = best.get(pp.seq);
        if (b === undefined || pp.view > b.view) best.set(pp.seq, pp);
        if (pp.seq > maxSeq) maxSeq = pp.seq;
      }
    }
    const batches: { seq: number; digest: string }[] = [];
    for (let seq = checkpoint.seq + 1; seq <= maxSeq; seq++) {
      const pp = best.get(seq);
      batches.push({ seq, digest: pp === undefined ? this.nullDigest : pp.digest });
    }
    return { checkpoint, maxSeq, batches };
  }

  private onNewView(nv: SignedNewView): void {
    if (typeof nv !== 'object' || nv === null || !Number.isSafeInteger(nv.view)) return this.bad();
    if (nv.view < this.view || (nv.view === this.view && this.role !== 'view-change')) return;
    if (nv.primary !== this.primaryOf(nv.view) || nv.primary === this.id) return this.bad();
    if (!Array.isArray(nv.viewChanges) || !Array.isArray(nv.prePrepares)) return this.bad();
    if (!this.verifySig(newViewPayload(nv.view, nv.primary, nv.viewChanges, nv.prePrepares), nv.primary, nv.signature)) return this.bad();
    const signers = new Set<NodeId>();
    for (const vc of nv.viewChanges) {
      if (vc.newView !== nv.view || !this.validViewChange(vc)) return this.bad();
      signers.add(vc.replica);
    }
    if (signers.size < this.quorum) return this.bad();
    const o = this.computeNewView(nv.view, nv.viewChanges);
    if (o.batches.length !== nv.prePrepares.length) return this.bad();
    for (const [i, want] of o.batches.entries()) {
      const pp = nv.prePrepares[i]!;
      if (pp.view !== nv.view || pp.seq !== want.seq || pp.digest !== want.digest || pp.primary !== nv.primary) return this.bad();
      if (!this.verifySig(prePreparePayload(pp.view, pp.seq, pp.digest, pp.primary), pp.primary, pp.signature)) return this.bad();
      // What a NEW-VIEW's pre-prepare may carry besides its digest is never taken: the signatures
      // cover digests only, so the batch comes from what this replica holds or fetches by digest.
    }
    // A lying primary can send two valid NEW-VIEWs for one view: it picks which 2f + 1
    // VIEW-CHANGEs go in, and its own may leave out what it prepared. One that re-issues a
    // sequence with another digest than this replica decided there in that same view (or later)
    // is the second: the decision came from a quorum that took the other. Refused; the NEW-VIEW
    // the others hold reaches this replica from them (forwardsNewView), or the view changes
    // again. A decision of an earlier view, which every valid NEW-VIEW must carry, is left to
    // enterView's assertion: contradicting it takes a broken protocol, not a liar.
    // Counted apart from invalid authenticators: its signatures are valid; what it says is not.
    if (this.mutant !== 'new-view-over-decision' && this.contradictsOwnDecision(nv)) {
      this.refusedNewViews++;
      return;
    }
    this.enterView(nv, o.checkpoint, o.maxSeq);
  }

  /** Whether `nv` re-issues a sequence number in the window with another digest than this replica decided there in its view or later. */
  private contradictsOwnDecision(nv: SignedNewView): boolean {
    return nv.prePrepares.some((pp) => {
      const d = this.decided.get(pp.seq);
      return d !== undefined && d.digest !== pp.digest && d.view >= nv.view && this.inWindow(pp.seq);
    });
  }

  private enterView(nv: SignedNewView, checkpoint: StableCheckpoint, maxSeq: number): void {
    this.view = nv.view;
    this.role = this.primaryOf(nv.view) === this.id ? 'primary' : 'backup';
    this.newViewMsg = nv;
    this.hardStateDirty = true;
    // The backoff stays until a request executes in this view (see failedViewChanges); broken on
    // purpose under the mutant, which forgets it here, as the code once did.
    if (this.mutant === 'forget-backoff-on-new-view') this.failedViewChanges = 0;
    this.viewProven = this.mutant === 'forget-backoff-on-new-view';
    this.viewChangeTimerTicks = null;
    // The request timer starts over, forwarding stage included: a backup that carried "already
    // forwarded" into the new view would give up on it after one timeout while the others wait
    // two, and with f liars silent one honest replica leaving a view early stalls it.
    this.requestTimerTicks = 0;
    this.timedRequest = null;
    this.ownViewChange = null;
    this.slots.clear();
    this.assigned.clear();
    for (const v of this.viewChanges.keys()) if (v <= nv.view) this.viewChanges.delete(v);
    if (checkpoint.seq > this.stable.seq) this.adoptCheckpoint(checkpoint);
    // What the old view's pre-prepares lacked no longer matters, unless a decision waits for it.
    for (const [seq, digest] of this.missingBatches) if (this.decided.get(seq)?.digest !== digest) this.missingBatches.delete(seq);
    for (const named of nv.prePrepares) {
      if (!this.inWindow(named.seq)) continue;
      const earlier = this.decided.get(named.seq);
      assert(earlier === undefined || earlier.digest === named.digest, `${this.id}: NEW-VIEW ${nv.view} re-issues sequence ${named.seq} with ${named.digest}, but ${earlier?.digest} committed there`);
      const batch = this.batchFor(named.seq, named.digest);
      const pp: SignedPrePrepare = batch === null ? byDigest(named) : { ...named, batch };
      if (batch === null) this.missingBatches.set(pp.seq, pp.digest);
      else if (this.missingBatches.delete(pp.seq) && earlier !== undefined && earlier.batch === null) this.decided.set(pp.seq, { ...earlier, batch });
      const s = this.slot(pp.seq);
      s.prePrepare = pp;
      this.dirtySlots.add(pp.seq);
      for (const r of pp.batch) this.assigned.add(requestKey(r));
      if (this.role === 'backup') {
        if (this.mutant === 'no-prepare-phase') {
          s.prepared = true;
          this.setCert(pp.seq, { prePrepare: pp, prepares: [] });
          this.sendCommit(pp.seq, s);
          continue;
        }
        const own = this.signPrepare(pp);
        s.ownPrepare = own;
        s.prepares.set(this.id, own);
        this.broadcast({ type: 'prepare', prepare: own });
      }
    }
    this.nextSeq = Math.max(maxSeq, this.stable.seq, this.lastExecuted) + 1;
    this.fetchMissingBatches();
    if (this.role === 'backup') {
      for (const r of this.pending.values()) this.send(this.primaryOf(this.view), { type: 'request', request: r });
      this.sendStatus();
    }
    this.tryAssign();
  }
}

/**
 * Replicas after the primary that forward its NEW-VIEW to one still changing to its view: 2f, so
 * that an honest one in the view is among them even when a lying primary keeps f honest replicas
 * out of it and its f - 1 accomplices are the rest (see forwardsNewView). At least f + 1, so that
 * with f = 1 the asker right after the primary is not left with only the primary.
 */
function newViewForwardersAfterPrimary(f: number): number {
  return Math.max(2 * f, f + 1);
}

function stableCheckpointData(state: Uint8Array, cp: StableCheckpoint, partBytes: number | undefined): Uint8Array {
  return pack((partBytes === undefined ? { state, digest: cp.digest, proof: cp.proof } : { state, digest: cp.digest, proof: cp.proof, partBytes }) satisfies StableCheckpointData);
}

/** Roughly what a STATE-META with `meta` weighs (its part digests; the proof is small beside them), for the answer budget. */
function stateMetaBytes(meta: StateMeta): number {
  let bytes = 256;
  for (const d of meta.partDigests) bytes += d.length + 2;
  return bytes;
}

/** Bytes in part `i` of a state with meta-data `meta` (the last part may be shorter). */
function partLength(meta: StateMeta, i: number): number {
  return Math.min(meta.partBytes, meta.totalBytes - i * meta.partBytes);
}

/** Meta-data a state could have: its parts cover its size exactly, in at most MAX_STATE_PARTS parts of at most MAX_STATE_PART_BYTES. */
function validStateMeta(meta: StateMeta): boolean {
  return typeof meta === 'object' && meta !== null && Number.isSafeInteger(meta.totalBytes) && meta.totalBytes >= 0
    && Number.isSafeInteger(meta.partBytes) && meta.partBytes >= 1 && meta.partBytes <= MAX_STATE_PART_BYTES
    && Array.isArray(meta.partDigests) && meta.partDigests.length <= MAX_STATE_PARTS
    && meta.partDigests.length === Math.ceil(meta.totalBytes / meta.partBytes) && meta.partDigests.every((d) => typeof d === 'string');
}

function requestKey(r: ClientRequest): string {
  return `${r.client}|${r.timestamp}`;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The claims recorded at `seq` (learnedCommits, decidedClaims), made empty if none yet. */
function claimsAt(bySeq: Map<number, Map<NodeId, { view: number; digest: string }>>, seq: number): Map<NodeId, { view: number; digest: string }> {
  let claims = bySeq.get(seq);
  if (claims === undefined) {
    claims = new Map();
    bySeq.set(seq, claims);
  }
  return claims;
}

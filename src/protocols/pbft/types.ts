/**
 * PBFT's messages and options, in Castro & Liskov's vocabulary (OSDI'99; Castro's thesis, 2001).
 *
 * Authentication (see `Authenticator` in src/core/): requests are signed by their client; a
 * PRE-PREPARE and a PREPARE are signed by their sender because a prepared certificate travels
 * inside a VIEW-CHANGE as proof; CHECKPOINT, VIEW-CHANGE and NEW-VIEW are signed for the same
 * reason; COMMIT, FETCH-STATE and REPLY carry MAC vectors (one MAC per receiver). STATE-META and
 * STATE-PART need no authenticator: a STATE-META carries the proof (2f + 1 signed CHECKPOINTs) of a
 * stable checkpoint and is checked against its digest, which covers the state's meta-data (its
 * size, the part size and each part's digest); each STATE-PART is checked against its part's digest.
 */
import type { MacVector, Principal } from '../../core/authenticator.js';
import type { NodeId } from '../../core/ids.js';
import type { Authenticator } from '../../core/authenticator.js';
import type { Envelope, LogEntry, Ready, ReplicaOptions, ReplicaStatus, Snapshot } from '../../core/replica.js';

/** A client's request. `timestamp` orders one client's requests (the client's sequence number). */
export interface ClientRequest {
  readonly client: Principal;
  readonly timestamp: number;
  readonly op: Uint8Array;
  /** Read-only optimisation: executed without ordering; the client needs 2f + 1 matching replies. */
  readonly readOnly: boolean;
  readonly signature: string;
}

export interface SignedPrePrepare {
  readonly view: number;
  readonly seq: number;
  /** Digest of the batch (the digests of its requests, in order); the empty batch is the null request. */
  readonly digest: string;
  readonly batch: readonly ClientRequest[];
  readonly primary: NodeId;
  readonly signature: string;
}

export interface SignedPrepare {
  readonly view: number;
  readonly seq: number;
  readonly digest: string;
  readonly replica: NodeId;
  readonly signature: string;
}

export interface SignedCheckpoint {
  readonly seq: number;
  readonly stateDigest: string;
  readonly replica: NodeId;
  readonly signature: string;
}

/** A pre-prepare and 2f matching prepares from distinct backups: "this request was prepared at (view, seq)". */
/**
 * What a checkpoint digest covers: the state's size, the size of its parts (the last may be
 * shorter) and the digest of each part, in order. A replica fetching the state verifies each part
 * on arrival, so no message need carry the whole state.
 */
export interface StateMeta {
  readonly totalBytes: number;
  readonly partBytes: number;
  readonly partDigests: readonly string[];
}

export interface PreparedCertificate {
  readonly prePrepare: SignedPrePrepare;
  readonly prepares: readonly SignedPrepare[];
}

export interface SignedViewChange {
  readonly newView: number;
  /** The replica's stable checkpoint, with its proof (empty for the genesis checkpoint 0). */
  readonly stableSeq: number;
  readonly stableDigest: string;
  readonly checkpointProof: readonly SignedCheckpoint[];
  /**
   * For every sequence number above stableSeq: the certificate prepared in the highest view, by
   * digest: its pre-prepare's batch is left out (empty), so that a VIEW-CHANGE (and the NEW-VIEW
   * that carries 2f + 1 of them) stays small whatever the batches hold. A replica that lacks a
   * re-issued batch fetches it (FETCH-BATCH / BATCH) and checks it against the digest.
   */
  readonly prepared: readonly PreparedCertificate[];
  readonly replica: NodeId;
  readonly signature: string;
}

export interface SignedNewView {
  readonly view: number;
  readonly viewChanges: readonly SignedViewChange[];
  readonly prePrepares: readonly SignedPrePrepare[];
  readonly primary: NodeId;
  readonly signature: string;
}

export type PbftMessage =
  | (Envelope & { readonly type: 'request'; readonly request: ClientRequest })
  /** `retransmitted`: sent again by the retransmission timer; a replica that has the slot answers with what it sent. */
  | (Envelope & { readonly type: 'pre-prepare'; readonly prePrepare: SignedPrePrepare; readonly retransmitted?: boolean })
  | (Envelope & { readonly type: 'prepare'; readonly prepare: SignedPrepare; readonly retransmitted?: boolean })
  | (Envelope & { readonly type: 'commit'; readonly view: number; readonly seq: number; readonly digest: string; readonly replica: NodeId; readonly macs: MacVector; readonly retransmitted?: boolean })
  /**
   * "I decided `digest` at `seq`" (committed-local: I hold its prepared certificate and 2f + 1
   * COMMITs; `view` is where). Sent in answer to a STATUS from a replica that has yet to execute
   * `seq`: f + 1 matching claims include an honest replica's, so the receiver may decide from them
   * (see onDecided) even when a liar withholds its COMMITs and its own vote is missing.
   */
  | (Envelope & { readonly type: 'decided'; readonly view: number; readonly seq: number; readonly digest: string; readonly replica: NodeId; readonly macs: MacVector })
  | (Envelope & { readonly type: 'checkpoint'; readonly checkpoint: SignedCheckpoint })
  | (Envelope & { readonly type: 'view-change'; readonly viewChange: SignedViewChange })
  | (Envelope & { readonly type: 'new-view'; readonly newView: SignedNewView })
  /** "I executed up to lastExecuted in view": peers resend what they sent for later slots of that view. */
  | (Envelope & { readonly type: 'status'; readonly view: number; readonly lastExecuted: number; readonly replica: NodeId; readonly macs: MacVector })
  /**
   * "Send me the state of checkpoint `seq`": its meta-data (STATE-META) when `part` is null, else
   * that part (STATE-PART). A replica that no longer holds `seq` answers with the meta-data of its
   * later stable checkpoint.
   */
  | (Envelope & { readonly type: 'fetch-state'; readonly seq: number; readonly part: number | null; readonly replica: NodeId; readonly macs: MacVector })
  /** A stable checkpoint's meta-data and proof: the checkpoint digest is checkpointDigestOf(meta) (the digest of stateMetaPayload(meta), and the part size). */
  | (Envelope & { readonly type: 'state-meta'; readonly seq: number; readonly stateDigest: string; readonly proof: readonly SignedCheckpoint[]; readonly meta: StateMeta })
  /** Part `part` of the state of checkpoint `seq` (bytes [part * partBytes, ...) of it). */
  | (Envelope & { readonly type: 'state-part'; readonly seq: number; readonly stateDigest: string; readonly part: number; readonly data: Uint8Array })
  /** "I lack the batch `digest` re-issued at `seq`": whoever holds it answers with a BATCH. */
  | (Envelope & { readonly type: 'fetch-batch'; readonly seq: number; readonly digest: string; readonly replica: NodeId; readonly macs: MacVector })
  /** A batch by its digest: unauthenticated, since the receiver checks it against the digest and its requests' signatures. */
  | (Envelope & { readonly type: 'batch'; readonly seq: number; readonly digest: string; readonly batch: readonly ClientRequest[] })
  | PbftReply;

/** A replica's answer to a client, MAC'd for the client. Built by the driver once it executed the request. */
export type PbftReply = Envelope & {
  readonly type: 'reply';
  readonly view: number;
  readonly client: Principal;
  readonly timestamp: number;
  readonly replica: NodeId;
  readonly result: Uint8Array;
  readonly readOnly: boolean;
  readonly mac: string;
};

export type PbftMessageType = PbftMessage['type'];

/** One committed sequence number, in order: what the driver executes. An empty batch is the null request. */
export interface CommittedBatch {
  readonly seq: number;
  readonly view: number;
  readonly requests: readonly ClientRequest[];
  /**
   * Parallel to `requests`: false for a request at or below its client's last executed timestamp
   * (Castro: executed once; a faulty primary may order it again). Decided from the client table,
   * which is replicated state (part of every checkpoint), so every replica decides alike.
   */
  readonly fresh: readonly boolean[];
}

/**
 * What a replica keeps durable besides its slots (see "Durability" in pbft.ts): its view, the
 * VIEW-CHANGE it sent while changing to that view, and the NEW-VIEW through which it entered it.
 */
export interface PbftHardState {
  readonly view: number;
  /** Set while changing to `view`: the VIEW-CHANGE this replica sent (resent, never rebuilt, after a restart). */
  readonly viewChange: SignedViewChange | null;
  /** The NEW-VIEW of `view` (null in view 0). */
  readonly newView: SignedNewView | null;
}

/** One sequence number's durable record, stored as the log entry at index = sequence number. */
export interface PbftSlotRecord {
  /** The pre-prepare this replica accepted (or, as primary, sent) the last time it handled the slot. */
  readonly prePrepare: SignedPrePrepare | null;
  /** The certificate prepared in the highest view (what a VIEW-CHANGE must carry). */
  readonly cert: PreparedCertificate | null;
  /** Committed-local: the batch to execute here (null: known by its digest only, fetched before it executes). */
  readonly decided: { readonly view: number; readonly digest: string; readonly batch: readonly ClientRequest[] | null } | null;
}

/** A stable checkpoint as stored (the snapshot's data): the state, its digest and the 2f + 1 signatures proving it. */
export interface StableCheckpointData {
  /** The checkpoint's state (service state and client table), exactly the bytes whose digest was agreed. */
  readonly state: Uint8Array;
  readonly digest: string;
  readonly proof: readonly SignedCheckpoint[];
  /** The part size the digest was computed with (absent in snapshots from before parts: served to nobody). */
  readonly partBytes?: number;
}

export interface PbftReady extends Ready<PbftMessage, PbftHardState> {
  /**
   * A checkpoint that became stable: store it as the snapshot (log entries at or below it may
   * go). Unlike `persist.snapshot` (a state transfer), the state machine is already past it, so
   * the driver restores nothing. It need not be durable before `send`.
   */
  readonly stableCheckpoint: Snapshot | null;
  /** Parallel to `apply` (one per sequence number), decoded. */
  readonly batches: readonly CommittedBatch[];
  /** Read-only requests to execute now against the current state, answered with readOnly replies. */
  readonly reads: readonly ClientRequest[];
  /** Requests already executed whose client asked again: resend the cached reply. */
  readonly replyAgain: readonly { readonly client: Principal; readonly timestamp: number }[];
}

export type PbftRole = 'primary' | 'backup' | 'view-change';

export interface PbftStatus extends ReplicaStatus {
  readonly role: PbftRole;
  readonly view: number;
  readonly lowWaterMark: number;
  readonly lastExecuted: number;
  readonly stableCheckpoint: number;
  /** Messages dropped because their MAC or signature did not verify (or named the wrong sender). */
  readonly invalidAuthenticators: number;
  /** NEW-VIEWs with valid signatures refused for re-issuing a sequence number with another digest than this replica decided there. */
  readonly refusedNewViews: number;
  readonly viewChanges: number;
  readonly stateTransfers: number;
}

export interface PbftOptions extends ReplicaOptions<PbftHardState> {
  readonly authenticator: Authenticator;
  /** A checkpoint every K sequence numbers (the driver calls compact(seq, snapshot) at each). */
  readonly checkpointIntervalSeqs?: number;
  /** L: sequence numbers accepted above the low water mark (a multiple of K). */
  readonly logWindowSeqs?: number;
  /** Requests per pre-prepare at most. */
  readonly maxBatchRequests?: number;
  /** Bytes of operations per pre-prepare at most (a batch always takes its first request). */
  readonly maxBatchBytes?: number;
  /** Largest operation a request may carry, in bytes; a replica drops a larger one (counted). */
  readonly maxRequestBytes?: number;
  /** Pre-prepares the primary keeps in flight (assigned, not executed) before it batches. */
  readonly maxInFlightBatches?: number;
  /**
   * A backup with a pending request forwards it to every replica after this many ticks without
   * it executing, and starts a view change after as many more.
   */
  readonly requestTimeoutTicks?: number;
  /** Ticks to wait for NEW-VIEW once 2f + 1 replicas are changing to this view or a later one; doubles per failed view change. */
  readonly viewChangeTimeoutTicks?: number;
  /** Unfinished work (pending slots, view changes, state fetches) is retransmitted this often. */
  readonly retransmitTicks?: number;
  /** The last checkpoint (and the primary's NEW-VIEW) are re-announced this often, for laggards. */
  readonly announceTicks?: number;
  /**
   * Bytes per part of a checkpoint's state (DEFAULT_STATE_PART_BYTES): the checkpoint digest
   * covers the parts' digests, so every replica of a cluster must use the same value (the
   * simulator draws one per run for the whole cluster; members use the default).
   */
  readonly statePartBytes?: number;
  /** Bytes of state parts a replica catching up asks for before the first ones arrive, at most (DEFAULT_MAX_INFLIGHT_STATE_BYTES). */
  readonly maxInflightStateBytes?: number;
}

export const DEFAULT_CHECKPOINT_INTERVAL_SEQS = 16;
export const DEFAULT_MAX_BATCH_REQUESTS = 16;
export const DEFAULT_MAX_IN_FLIGHT_BATCHES = 4;
/**
 * A request's operation, at most: etcd's default --max-request-bytes (1.5 MiB) plus room for the
 * request's own encoding, as the driver's maxCommandBytes (a larger one never reaches a replica
 * from an honest member; one that does is dropped and counted).
 */
export const DEFAULT_MAX_REQUEST_BYTES = 1_572_864 + 4096;
/**
 * Operation bytes per pre-prepare: 16 large requests in one batch made a 24 MiB message, far over
 * the transport's 4 MiB frame limit, so it was never sent and the cluster stalled. Well under the
 * frame limit, with room for signatures and the envelope.
 */
export const DEFAULT_MAX_BATCH_BYTES = 2 * 1024 * 1024;
export const DEFAULT_REQUEST_TIMEOUT_TICKS = 30;
export const DEFAULT_VIEW_CHANGE_TIMEOUT_TICKS = 30;
/**
 * The view-change and request timeouts double with each view change in a row that brought no
 * request executed (Castro's thesis, 2.3.5), at most this many times (x1024): enough for any
 * delay a cluster recovers from, and a replica never waits more than about a thousand timeouts.
 */
export const MAX_VIEW_CHANGE_BACKOFF_DOUBLINGS = 10;
export const DEFAULT_RETRANSMIT_TICKS = 10;
export const DEFAULT_ANNOUNCE_TICKS = 100;
/** Read-only requests waiting for execution to catch up, at most. */
export const MAX_DEFERRED_READS = 1_000;
/** Requests waiting to be ordered, at most (per replica). */
export const MAX_PENDING_REQUESTS = 10_000;
/** Checkpoint claims kept per replica above the low water mark. */
export const MAX_CHECKPOINT_CLAIMS_PER_REPLICA = 4;
/**
 * The longest signature string a replica checks (client or replica); a longer one is refused as
 * a forgery. An Ed25519 signature in base64 is 88 characters, the simulator's 16. Without a
 * bound, a valid signature padded with what node's base64 decoder skips (blanks) verified, and a
 * liar's padding went wherever signed messages are kept: prepared certificates, hard state,
 * VIEW-CHANGEs (past what a transport frame carries), pending requests, the signature memos.
 */
export const MAX_SIGNATURE_CHARS = 512;
/** Requests whose signature a replica remembers having verified (so it verifies each once). */
export const MAX_VERIFIED_REQUESTS_REMEMBERED = 8_192;
/**
 * Replica signatures (pre-prepares, prepares, checkpoints, view changes, new views) a replica
 * remembers having verified, so it verifies each once. Retransmission resends the same signed
 * messages every retransmit interval while a slot waits (and VIEW-CHANGEs carry the same prepared
 * certificates from every replica); verified again each time, a public-key check per copy made a
 * replica that was short of CPU spend most of it re-checking copies (55% of a member's CPU in a
 * loaded crash test), fall behind the messages that would end the wait, and change view again.
 * Enough for the window's prepares and one round of VIEW-CHANGE certificates at N = 7 with the
 * members' window (256 sequence numbers x 6 signers = 1,536 per round); each entry is a digest
 * of signer, signature and payload (64 hex characters, about 150 bytes with the set's own
 * overhead, whatever the size of the signed message), so at most about 2.5 MiB.
 */
export const MAX_VERIFIED_SIGNATURES_REMEMBERED = 16_384;
/** Batches kept per sequence number of the window for NEW-VIEWs that re-issue them by digest. */
export const MAX_BATCHES_HELD_PER_WINDOW_SEQ = 2;
/**
 * Batches a replica sends one other replica in answer to FETCH-BATCH per retransmit interval, at
 * most: a replica catching up fetches a few pipelines' worth per interval, and a liar asking for
 * the whole window each interval gets no more (a FETCH-BATCH is small, a batch up to 2 MiB).
 */
export const MAX_BATCH_ANSWERS_PER_INTERVAL = 16;

/** Bytes per part of a checkpoint's state: a STATE-PART stays far under the transport's 4 MiB frame limit. */
export const DEFAULT_STATE_PART_BYTES = 1024 * 1024;
/** Parts of one checkpoint's state, at most (a STATE-META carries a digest per part: 32,768 hex SHA-256 digests are 2 MiB). */
export const MAX_STATE_PARTS = 32_768;
/** Largest part size a replica accepts from its peers' STATE-META and STATE-PART (and may be configured with). */
export const MAX_STATE_PART_BYTES = 2 * 1024 * 1024;
/** Bytes of state parts asked for and not yet arrived, at most, per replica catching up. */
export const DEFAULT_MAX_INFLIGHT_STATE_BYTES = 4 * 1024 * 1024;

export type { LogEntry };

/**
 * Deliberately broken variants of PBFT, switched on only through ReplicaOptions.mutant. Each
 * removes one thing the protocol needs; scenario tests and the Byzantine simulator must catch
 * every one.
 */
import type { MutantInfo } from '../../core/replica.js';

export const PBFT_MUTANTS = [
  { name: 'skip-authentication', description: 'trusts the sender named in a message: MACs and signatures are not verified' },
  { name: 'no-prepare-phase', description: 'commits as soon as the pre-prepare arrives; a view change sees only pre-prepares, not prepared certificates' },
  { name: 'execute-when-prepared', description: 'executes a request once prepared, without the commit phase' },
  { name: 'forget-on-restart', description: 'ignores its durable state when it restarts: it comes back in view 0 with no record of what it accepted, prepared or committed' },
  { name: 'trust-fetched-batches', description: 'takes a batch re-issued by digest (in a NEW-VIEW) from whoever sends it, without checking it against the digest and its clients\' signatures: a liar makes honest replicas execute a forged request' },
  { name: 'execute-duplicates', description: 'executes a request again when a faulty primary orders it again (at or below its client\'s last executed timestamp)' },
  { name: 'count-own-commit-early', description: 'counts its own COMMIT towards the 2f + 1 before its prepared certificate is durable: the driver executes the batch while the write is in flight, a power loss makes the replica forget the certificate, and a view change without it (a liar hiding its own) re-issues the sequence number as a null request' },
  { name: 'small-read-quorum', description: 'its client accepts a read-only result on 2f + 1 matching replies even when the replicas\' quorum is larger (N not 3f + 1): a read from before a completed write' },
  { name: 'no-learning-in-view-change', description: 'a replica in a view change (or behind in view) ignores the COMMITs and DECIDED claims of the view it left: one that gave up alone on a primary the others keep executes nothing, and serves its callers nothing, until the next view change' },
  { name: 'status-only-when-pending', description: 'sends STATUS on its periodic announcement only while it has requests pending: a replica that restarted into a quiet cluster and lost its first STATUS stays behind' },
  { name: 'no-learning-from-decided', description: 'ignores DECIDED claims: a replica left alone in a view change catches up only from 2f + 1 COMMITs, so a liar that withholds its COMMITs from it keeps it out until the next view change' },
  { name: 'only-primary-forwards-new-view', description: 'only the primary answers a VIEW-CHANGE for the view it already leads with the NEW-VIEW: a lying primary that withholds it from one replica leaves that replica in a view change it cannot end' },
  { name: 'own-checkpoint-only', description: 'answers a replica behind its stable checkpoint with its own CHECKPOINT only, not the proof that made it stable: with a liar withholding its own, that replica never sees 2f + 1 and never catches up' },
  { name: 'reset-timer-on-newer-request', description: 'a backup restarts its request timer when the timed request\'s client replaces it with a newer one before it executed: a liar ordering requests as its own client keeps every timer from running out, and a primary that cannot order is never replaced' },
  { name: 'decided-only-on-status', description: 'sends DECIDED claims only in answer to a STATUS, not as it decides to a replica alone in a later view change: that replica learns each outcome up to an announcement late, and its answers to read-only requests, stale, never match the others\'' },
  { name: 'f-replicas-forward-new-view', description: 'the primary and only the f replicas after it (not f + 1) answer a VIEW-CHANGE for the view they are in with the NEW-VIEW: a lying primary whose victim is right after it (and whose accomplices are the rest of those f) withholds its NEW-VIEW, or sends the victim a second one that it refuses, and no honest replica forwards the first: the victim stays out of the view, its vote lost, until the next view change' },
  { name: 'f-plus-one-replicas-forward-new-view', description: 'the primary and only the f + 1 replicas after it (not 2f) answer a VIEW-CHANGE for the view they are in with the NEW-VIEW: with f >= 2, a lying primary whose f - 1 accomplices are among those f + 1 withholds its NEW-VIEW from the two honest ones, no honest replica in the view forwards it, and the view goes on without them (their votes lost) until the next view change' },
  { name: 'new-view-over-decision', description: 'takes a NEW-VIEW that re-issues a sequence with another digest than the replica decided there: a lying primary that sent two NEW-VIEWs for one view (one to the others, whose quorum committed under it, one to this replica) stops an honest replica' },
  { name: 'assign-before-new-view-installed', description: 'a new primary that makes the NEW-VIEW\'s checkpoint stable assigns sequence numbers before it installs the NEW-VIEW and sets its next sequence number: it pre-prepares a second batch at a (view, seq) it already used, backups keep the first, and with f liars silent the view stalls' },
  { name: 'no-batches-below-stable', description: 'drops a batch as soon as its checkpoint is stable: a replica that gets no pre-prepares (a lying primary shuns it) learns the last outcomes before a checkpoint a round trip late, cannot fetch their batches, catches up only by state transfer, and never executes, so never serves, its own callers\' requests' },
  { name: 'member-client-skips-own-replica', description: 'a member\'s client sends a new request to the primary of the last view it learned only, not to its own replica too: a client idle since an earlier view sends it to that view\'s primary (a liar, maybe), and the request waits a retry interval before it reaches the others; on a slow cluster every caller of that member times out first' },
  { name: 'refetch-on-any-bad-part', description: 'asks a part of the state again whenever a bad copy of it arrives, even from a replica nobody asked for it: each small bad STATE-PART a liar sends makes the replica catching up ask an honest replica for a whole part again, spending what that replica answers it per interval' },
  { name: 'count-stale-part-size-claims', description: 'counts every CHECKPOINT when checking that f + 1 replicas use another statePartBytes, not only those above the stable checkpoint at checkpoints it made itself: after a cluster restarts on another part size, the stable checkpoints its members announce again (made with the old size) stop every member, and f liars relaying an honest replica\'s CHECKPOINT from before the restart stop an honest replica' },
  { name: 'restart-overtaken-transfer', description: 'a state transfer overtaken by a later stable checkpoint starts again from nothing, parts whose digests did not change included: with a large state and a busy cluster, a transfer that takes longer than a checkpoint interval never ends' },
  { name: 'trust-view-change-by-signature', description: 'takes a VIEW-CHANGE without checking it again when a VIEW-CHANGE with the same replica, view and signature was valid before, as the code once did: a lying primary puts another replica\'s VIEW-CHANGE in its NEW-VIEW with a certificate changed under the same signature (which covers the certificates\' signatures, not what they sign), and backups re-issue a digest no quorum prepared' },
  { name: 'forget-backoff-on-new-view', description: 'forgets its doubled view-change timeout as soon as a NEW-VIEW is installed, not once a request executes in the new view: a cluster whose views install but cannot order a request within the request timeout (processes short of CPU) changes view for ever at the same pace and executes nothing' },
  { name: 'trust-state-parts', description: 'takes a part of a checkpoint\'s state in a state transfer without checking it against its part\'s digest in the proven meta-data: a liar that serves a corrupted part makes a replica catching up install a state nobody had' },
  { name: 'checkpoint-sees-later-batches', description: 'the host hands its core the state as it is when a checkpoint\'s encoding ends, not as of the checkpoint\'s sequence number: the batches executed while it was encoded are in it, so replicas sign different digests for one checkpoint (it never becomes stable, or one replica\'s differs from the proven one), and a replica restarted from it executes those batches again' },
] as const satisfies readonly MutantInfo[];

export type PbftMutant = (typeof PBFT_MUTANTS)[number]['name'];

export function assertKnownPbftMutant(name: string): asserts name is PbftMutant {
  if (!PBFT_MUTANTS.some((m) => m.name === name)) {
    throw new Error(`unknown pbft mutant '${name}'; known: ${PBFT_MUTANTS.map((m) => m.name).join(', ')}`);
  }
}

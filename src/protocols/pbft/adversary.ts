/**
 * The Byzantine lab's adversary. One coordinator controls every Byzantine replica (the strongest
 * adversary: they collude). Each Byzantine replica runs an honest core inside, so it takes part
 * in the protocol realistically; the coordinator rewrites, drops, delays, duplicates and injects
 * what those replicas send. It holds the Authenticators of the Byzantine identities only: what it
 * makes in an honest replica's name fails verification (and is counted), as it would with real
 * keys.
 */
import type { Authenticator, Principal } from '../../core/authenticator.js';
import { macVector, principalMember } from '../../core/authenticator.js';
import type { NodeId } from '../../core/ids.js';
import { Prng, type Random } from '../../core/prng.js';
import type { Adversary, AdversaryContext, AdversaryModel, AdversaryOutput } from '../../core/protocol.js';
import {
  batchDigestOf, checkpointPayload, commitPayload, decidedPayload, prePreparePayload, preparePayload, replyPayload, requestPayload, viewChangePayload,
} from './payloads.js';
import type { ClientRequest, PbftMessage, PbftReply, SignedPrePrepare } from './types.js';
import { pack, unpack } from '../../core/codec.js';
import { byzantineFaults } from '../../core/quorum.js';
import { mutateMessage } from './mutator.js';

export const BYZANTINE_KINDS = [
  'equivocate', 'conflict', 'forge', 'replay', 'silent', 'delay', 'checkpoint-lie', 'corrupt-state', 'wrong-reply', 'hide-prepared', 'mutate', 'lag', 'shun', 'hijack-session', 'forge-command',
  'unasked-parts', 'replay-checkpoint', 'follow-laggard', 'checkpoint-equivocate',
] as const;
export type ByzantineKind = (typeof BYZANTINE_KINDS)[number];

export const BYZANTINE_DESCRIPTIONS: Record<ByzantineKind, string> = {
  equivocate: 'a Byzantine primary sends different pre-prepares to two groups of backups; its accomplices back each group\'s story',
  conflict: 'prepares and commits with digests nobody pre-prepared',
  forge: 'messages in honest replicas\' names (prepares, commits, checkpoints, view changes, replies) made without their keys, and forged batches in answer to a batch fetch',
  replay: 'old messages seen on the network sent again to other replicas',
  silent: 'sends nothing at all (a silent primary forces a view change)',
  delay: 'holds back some messages to some replicas (a primary that delays selectively)',
  'checkpoint-lie': 'announces checkpoints with a wrong state digest',
  'corrupt-state': 'answers state transfer with corrupted parts of the state (a byte changed; state parts carry no authenticator, only their digest in the proven meta-data vouches for them)',
  'wrong-reply': 'answers clients with a result the service never produced (colluders agree on it)',
  'hide-prepared': 'view changes that claim nothing prepared since the stable checkpoint (its certificates left out)',
  lag: 'ignores the pre-prepares it receives (its state stays old) and answers read-only requests from that old state',
  shun: 'talks to every replica but one honest replica, which it leaves out entirely (no votes, no COMMITs, no NEW-VIEW): that replica must get by with the other honest ones',
  'hijack-session': 'orders, as its own client, the command bytes of an honest client\'s read-only request with the session sequence number in them moved one ahead (the bytes say whose session; only the signature says who sent them)',
  'forge-command': 'orders, as its own client, the commands the run\'s workload makes for a liar (with etcd auth on: an auth disable naming root, a user its member never logged in as, or a binding to root\'s session it cannot sign; only the signature says who sent a request, and only a proved login or binding who may act as a user; with auth off: a member\'s alarm, one vote of the f + 1 it takes)',
  'unasked-parts': 'sends a replica it sees fetching a checkpoint\'s state STATE-PARTs nobody asked it for, under that checkpoint\'s number and digest: garbage, or an honest part of another checkpoint (its own core\'s answer from before)',
  'replay-checkpoint': 'sends honest replicas\' CHECKPOINTs it received (validly signed by them, replayed as they were, old ones too) again to other replicas',
  'follow-laggard': 'votes (PREPARE and COMMIT, in its own name) at once for every pre-prepare it is sent, but holds back from its core what would take it past the f + 1 slowest honest replicas (by their COMMITs and STATUS): its votes complete quorums without them, and it answers read-only requests from their state, so that its stale answers match theirs',
  'checkpoint-equivocate': 'signs a wrong state digest in the CHECKPOINTs it sends to honest replicas behind that checkpoint (by their COMMITs and STATUS), its honest one to the others: a replica catching up holds the lie first, and sees the liar\'s honest CHECKPOINT only in an honest replica\'s stable proof',
  mutate: 'changes one field of what it sends (views, sequence numbers, digests, batches, timestamps, results, certificates) and signs the result validly with its own keys; as primary, also rewrites a certificate in another replica\'s VIEW-CHANGE inside its NEW-VIEW under that replica\'s signature',
};

/** A message to send after `delayMs` more than the network's own latency. */
type Outgoing = AdversaryOutput<PbftMessage>;

/** Share of a mutating liar's messages it changes (the rest keep it in the protocol, so its changes land). */
export const MUTATE_SHARE = 0.2;
/** Stories an equivocating primary retells to restarted replicas over a run, at most (its memory is bounded too). */
export const MAX_RETOLD_STORIES = 256;
/** Commands a hijacking liar orders over a run, at most; and the share of honest requests it copies. */
export const MAX_HIJACKED_COMMANDS = 64;
export const HIJACK_SHARE = 0.1;
/** Commands a forging liar orders over a run, at most; and the share of honest requests it answers with one. */
export const MAX_FORGED_COMMANDS = 64;
export const FORGE_COMMAND_SHARE = 0.05;
/** Unasked STATE-PARTs a liar sends over a run, at most; and the share of a fetching replica's messages it answers with one. */
export const MAX_UNASKED_PARTS = 1_024;
export const UNASKED_PART_SHARE = 0.3;
/** Unasked parts sent at once after a state answer or fetch it sees, and over how long they spread. */
export const UNASKED_PART_BURST = 4;
export const UNASKED_PART_MAX_DELAY_MS = 20;
/** Largest garbage part it sends (a part of the right size when statePartBytes is at most this). */
export const MAX_UNASKED_PART_BYTES = 4_096;
/** Transfers and honest parts it keeps track of, at most. */
export const MAX_TRACKED_TRANSFERS = 16;
export const MAX_HONEST_PARTS_KEPT = 16;
/** Share of a liar's messages after which it replays an honest CHECKPOINT (replay-checkpoint). */
export const CHECKPOINT_REPLAY_SHARE = 0.1;
/** Messages a replay adversary remembers, at most. */
export const MAX_REPLAY_MEMORY = 512;
/**
 * Behaviours drawn from the context's laterRandom, not its `random` (see
 * AdversaryContext.laterRandom): added after the others were pinned, they leave the runs that do
 * not use them as they were. Each enabled one is used in this share of runs, as the others are.
 */
export const LATER_KINDS: ReadonlySet<ByzantineKind> = new Set<ByzantineKind>(['follow-laggard', 'checkpoint-equivocate']);
/** The state digest a checkpoint-equivocate liar signs for the replicas behind a checkpoint. */
export const EQUIVOCATED_CHECKPOINT_DIGEST = 'lie-to-laggard';
export const LATER_KIND_RUN_SHARE = 0.5;
/** Seed of the later stream an adversary makes when its context brings none (one driven by a test). */
const LATER_STREAM_SEED = 0x1a66;
/** Pre-prepares (liar, view, sequence number, digest) a follow-laggard liar remembers voting for, at most: it votes once for each. */
export const MAX_LAGGARD_VOTES_REMEMBERED = 512;
/** Messages follow-laggard liars hold back from their cores, at most (beyond, the oldest are dropped: retransmissions bring them). */
export const MAX_HELD_MESSAGES = 2_048;

/**
 * Chance that an equivocating primary, once it has told two stories at a sequence number, falls
 * quiet for the rest of its view (as in the scenario tests): the honest replicas then change view
 * with the two stories in their logs, the window where a view change must find what committed.
 * Otherwise it keeps equivocating at every sequence number while the view lasts.
 */
export const EQUIVOCATE_THEN_QUIET_CHANCE = 0.5;

/** PBFT's adversary, for the simulator (see AdversaryModel). */
export const pbftAdversary: AdversaryModel<PbftMessage> = {
  behaviours: BYZANTINE_KINDS.map((name) => ({ name, description: BYZANTINE_DESCRIPTIONS[name] })),
  create: (context) => new PbftAdversary(context),
};

export class PbftAdversary implements Adversary<PbftMessage> {
  /** Honest replicas told the alternative story by an equivocating primary. */
  private readonly groupB: ReadonlySet<NodeId>;
  /** (view|seq) → the alternative pre-prepare sent to group B. */
  private readonly alternatives = new Map<string, SignedPrePrepare>();
  /** (view|seq) → the story the primary told group A (its honest core's pre-prepare). */
  private readonly originals = new Map<string, SignedPrePrepare>();
  /** Stories retold to a restarted replica, at most (per run). */
  private retold = 0;
  /** Honest PREPAREs the liars received, by view|seq|digest (signed by their senders: valid anywhere). */
  private readonly preparesSeen = new Map<string, PbftMessage[]>();
  private readonly seen: PbftMessage[] = [];
  /** Whether this run's equivocating primary falls quiet after its first two stories. */
  private readonly quietAfterEquivocating: boolean;
  /** The quiet primary and the (view|seq) of the two stories it told; null while it talks. */
  private quietAfter: { readonly node: NodeId; readonly key: string } | null = null;
  /** The honest replica every liar leaves out, with 'shun'. */
  private readonly shunned: NodeId | undefined;
  /** Which of the enabled behaviours this run uses (a random non-empty subset: runs differ). */
  readonly active: ReadonlySet<string>;
  forged = 0;
  /** Commands ordered by hijacking liars so far, and each liar's last request timestamp as a client. */
  private hijacked = 0;
  private readonly ownTimestamps = new Map<NodeId, number>();
  /** Honest replicas seen fetching a checkpoint's state (unasked-parts): the checkpoint, its digest and its parts known so far. */
  private readonly transfers = new Map<NodeId, { seq: number; digest: string; parts: number }>();
  /** State digests honest replicas signed in their CHECKPOINTs, by sequence number (bounded as transfers). */
  private readonly honestDigests = new Map<number, string>();
  /** Parts its own core sent (honest bytes), the latest few. */
  private readonly honestParts: { seq: number; part: number; data: Uint8Array }[] = [];
  private unaskedParts = 0;
  /** Honest replicas' CHECKPOINTs it received (replay-checkpoint). */
  private readonly checkpointsSeen: PbftMessage[] = [];
  /** Commands ordered by forging liars so far (see forgeCommand). */
  private forgedCommands = 0;
  private readonly liarCommand: AdversaryContext['liarCommand'];
  /** The run's part size (every replica's), for garbage parts of the right length. */
  private readonly statePartBytes: number;
  /**
   * follow-laggard and checkpoint-equivocate: how far each honest replica is known to be (one
   * entry per replica): the highest sequence number it sent a COMMIT for (it answers no read
   * before it executed that far) or said in a STATUS it executed, whichever is higher.
   */
  private readonly progress = new Map<NodeId, number>();
  /** follow-laggard: messages held back from a liar's core, with the liar, in the order received. */
  private held: { by: NodeId; msg: PbftMessage }[] = [];
  /** follow-laggard: the laggards' progress at each liar's last release (nothing new is released while it stands). */
  private readonly releasedUpTo = new Map<NodeId, number>();
  /** f, for the f + 1 slowest honest replicas follow-laggard stays with. */
  private readonly f: number;
  /** follow-laggard: the pre-prepares voted for in a liar's name, the latest MAX_LAGGARD_VOTES_REMEMBERED. */
  private readonly laggardVotes = new Set<string>();

  private readonly rng: Random;
  readonly byzantine: ReadonlySet<NodeId>;
  private readonly replicas: readonly NodeId[];
  private readonly auths: ReadonlyMap<NodeId, Authenticator>;
  private readonly maxDelayMs: number;

  constructor(context: AdversaryContext) {
    const rng = context.random;
    const { byzantine, replicas } = context;
    this.rng = rng;
    this.byzantine = byzantine;
    this.replicas = replicas;
    this.auths = context.authenticators;
    this.maxDelayMs = context.maxDelayMs;
    this.liarCommand = context.liarCommand;
    const partBytes = context.protocolOptions['statePartBytes'];
    this.statePartBytes = typeof partBytes === 'number' && partBytes > 0 ? partBytes : MAX_UNASKED_PART_BYTES;
    this.f = byzantineFaults(replicas.length);
    const known = (k: string): k is ByzantineKind => (BYZANTINE_KINDS as readonly string[]).includes(k);
    const kinds = [...context.enabled].filter((k): k is ByzantineKind => known(k) && !LATER_KINDS.has(k));
    const chosen = new Set<ByzantineKind>(kinds.filter(() => rng.chance(0.5)));
    if (chosen.size === 0 && kinds.length > 0) chosen.add(rng.pick(kinds));
    const later = [...context.enabled].filter((k): k is ByzantineKind => known(k) && LATER_KINDS.has(k));
    if (later.length > 0) {
      const laterRng = context.laterRandom ?? new Prng(LATER_STREAM_SEED);
      for (const k of later) if (laterRng.chance(LATER_KIND_RUN_SHARE)) chosen.add(k);
      if (chosen.size === 0) chosen.add(laterRng.pick(later));
    }
    this.active = chosen;
    const honest = rng.shuffle(replicas.filter((r) => !byzantine.has(r)));
    // The alternative story goes to the honest replica that leads the view after a Byzantine
    // primary's (the next one in order): its own VIEW-CHANGE comes first in the NEW-VIEW it builds.
    const first = replicas.findIndex((r) => byzantine.has(r));
    const successor = first < 0 ? undefined : replicas.slice(first + 1).concat(replicas.slice(0, first)).find((r) => !byzantine.has(r));
    if (successor !== undefined) {
      honest.splice(honest.indexOf(successor), 1);
      honest.unshift(successor);
    }
    this.groupB = new Set(honest.slice(0, Math.floor(honest.length / 2)));
    this.quietAfterEquivocating = rng.chance(EQUIVOCATE_THEN_QUIET_CHANCE);
    this.shunned = honest.length > 0 ? rng.pick(honest) : undefined;
  }

  has(k: ByzantineKind): boolean {
    return this.active.has(k);
  }

  /** The digest of a batch, as every replica computes it (digests need no secret). */
  private batchDigest(batch: readonly ClientRequest[]): string {
    const auth = this.auths.values().next().value as Authenticator;
    return batchDigestOf(auth, batch);
  }

  /**
   * A message a Byzantine replica received: remembered for replays; and a forger that sees an
   * honest primary's pre-prepare races it with a whole forged certificate for the null request:
   * a pre-prepare in the primary's name and prepares and commits in everyone's name, all to one
   * honest replica. Made without the honest replicas' keys, none of it may be accepted.
   */
  observe(msg: PbftMessage, by: NodeId): Outgoing[] {
    const votes = this.voteAsLaggard(msg, by);
    const reaction = this.react(msg, by);
    return votes.length === 0 ? reaction : [...votes, ...reaction];
  }

  /** What a liar sends in reaction to `msg`, besides follow-laggard's votes (see observe). */
  private react(msg: PbftMessage, by: NodeId): Outgoing[] {
    if (this.has('equivocate') && msg.type === 'prepare' && !this.byzantine.has(msg.prepare.replica)) {
      const key = `${msg.prepare.view}|${msg.prepare.seq}|${msg.prepare.digest}`;
      const list = this.preparesSeen.get(key) ?? [];
      if (list.length < this.replicas.length && !list.some((p) => p.type === 'prepare' && p.prepare.replica === msg.prepare.replica)) list.push(msg);
      this.preparesSeen.set(key, list);
      if (this.preparesSeen.size > MAX_REPLAY_MEMORY) this.preparesSeen.delete(this.preparesSeen.keys().next().value!);
    }
    const retold = this.retellAfterRestart(msg, by);
    if (retold.length > 0) return retold;
    this.rememberCheckpoint(msg);
    const unasked = this.unaskedPart(msg, by);
    if (unasked.length > 0) return unasked;
    const hijack = this.hijackSession(msg, by);
    if (hijack.length > 0) return hijack;
    const forged = this.forgeCommand(msg, by);
    if (forged.length > 0) return forged;
    if (this.has('replay') && msg.type !== 'request') {
      if (this.seen.length < MAX_REPLAY_MEMORY) this.seen.push(msg);
      else this.seen[this.rng.int(0, MAX_REPLAY_MEMORY - 1)] = msg;
    }
    if (this.has('forge') && msg.type === 'fetch-batch' && !this.byzantine.has(msg.replica)) {
      // A replica lacks a re-issued batch: answer first, with one the digest does not name.
      this.forged++;
      const op = new TextEncoder().encode(`EVIL${this.rng.int(1, 9)}`);
      const batch = [{ client: msg.replica as string as Principal, timestamp: this.rng.int(1, 1_000_000), op, readOnly: false, signature: 'not-a-signature' }];
      return [{ msg: { type: 'batch', from: by, to: msg.replica, seq: msg.seq, digest: msg.digest, batch }, delayMs: 0 }];
    }
    if (!this.has('forge') || msg.type !== 'pre-prepare' || this.byzantine.has(msg.prePrepare.primary) || !this.rng.chance(0.5)) return [];
    const honest = this.replicas.filter((r) => !this.byzantine.has(r) && r !== msg.prePrepare.primary);
    if (honest.length === 0) return [];
    const target = this.rng.pick(honest);
    const auth = this.auths.get(by)!;
    const pp = msg.prePrepare;
    const digest = this.batchDigest([]);
    this.forged++;
    const out: Outgoing[] = [{ msg: { type: 'pre-prepare', from: pp.primary, to: target, prePrepare: { ...pp, batch: [], digest, signature: auth.sign(prePreparePayload(pp.view, pp.seq, digest, pp.primary)) } }, delayMs: 0 }];
    for (const r of this.replicas) {
      if (r === target) continue;
      if (r !== pp.primary) out.push({ msg: { type: 'prepare', from: r, to: target, prepare: { view: pp.view, seq: pp.seq, digest, replica: r, signature: auth.sign(preparePayload(pp.view, pp.seq, digest, r)) } }, delayMs: 0 });
      out.push({ msg: { type: 'commit', from: r, to: target, view: pp.view, seq: pp.seq, digest, replica: r, macs: { [target]: auth.mac(commitPayload(pp.view, pp.seq, digest, r), target) } }, delayMs: 0 });
    }
    return out;
  }

  admit(msg: PbftMessage, by: NodeId): boolean {
    // A lagging liar never takes part in ordering, so nothing holds back its read-only answers.
    if (this.has('lag') && (msg.type === 'pre-prepare' || msg.type === 'new-view' || msg.type === 'state-meta' || msg.type === 'state-part')) return false;
    if (!this.has('follow-laggard') || !this.beyondLaggard(msg, this.laggardExecuted())) return true;
    this.held.push({ by, msg });
    if (this.held.length > MAX_HELD_MESSAGES) this.held.shift();
    return false;
  }

  /** follow-laggard: what `by` held back that no longer takes its core past the laggards. */
  release(by: NodeId): PbftMessage[] {
    if (this.held.length === 0) return [];
    // Held only while beyond the laggards: nothing is released while they stand where they stood.
    const lowest = this.laggardExecuted();
    if (this.releasedUpTo.get(by) === lowest) return [];
    this.releasedUpTo.set(by, lowest);
    const out: PbftMessage[] = [];
    const kept: { by: NodeId; msg: PbftMessage }[] = [];
    for (const h of this.held) {
      if (h.by === by && !this.beyondLaggard(h.msg, lowest)) out.push(h.msg);
      else kept.push(h);
    }
    if (out.length > 0) this.held = kept;
    return out;
  }

  /**
   * follow-laggard: how far the f + 1 slowest honest replicas are (the (f + 1)-th lowest
   * progress; 0 for one not heard from yet). f + 1 honest replicas and the f liars are 2f + 1
   * answers, as many as a read-only result takes at N = 3f + 1; an honest replica that cannot
   * hear the others (deaf), hears them late, has a slow disk or just restarted stays behind, and
   * the liar's core stays with it. At most one honest replica may be cut off from the liar for
   * good (crashed, partitioned) without stopping it.
   */
  private laggardExecuted(): number {
    const known = this.replicas.filter((r) => !this.byzantine.has(r)).map((r) => this.progress.get(r) ?? 0).sort((a, b) => a - b);
    return known[Math.min(this.f, known.length - 1)] ?? Infinity;
  }

  /**
   * follow-laggard: would `msg` take the liar's core past the laggard's state? Everything that
   * decides, or moves its state to, a sequence number above it: the pre-prepare (its core would
   * prepare, send a COMMIT and then hold its reads until it executed), COMMITs and DECIDED claims
   * (it may learn outcomes from them), batches, CHECKPOINTs and state transfer (a stable checkpoint
   * above it starts a fetch, which also holds reads), and a NEW-VIEW that re-issues or proves any
   * of that. Its core's STATUS brings it the rest later, once the laggard moved on.
   */
  private beyondLaggard(msg: PbftMessage, lowest: number): boolean {
    if (lowest === Infinity) return false;
    switch (msg.type) {
      case 'pre-prepare':
        return msg.prePrepare.seq > lowest;
      case 'commit':
      case 'decided':
      case 'batch':
      case 'state-meta':
      case 'state-part':
        return msg.seq > lowest;
      case 'checkpoint':
        return msg.checkpoint.seq > lowest;
      case 'new-view':
        return msg.newView.prePrepares.some((pp) => pp.seq > lowest) || msg.newView.viewChanges.some((vc) => vc.stableSeq > lowest);
      default:
        return false;
    }
  }

  /**
   * follow-laggard: note an honest replica's STATUS; and vote, in the liar's name, for a
   * pre-prepare its core will not see (beyond the laggard): a PREPARE signed with its own key and
   * a COMMIT with its own MACs, to every other replica, at once. Honest replicas count them like
   * any replica's votes (a liar may vote for what it never logged), so a quorum forms without the
   * laggards, while the liar's core, and its answers to reads, stay with them.
   */
  private voteAsLaggard(msg: PbftMessage, by: NodeId): Outgoing[] {
    if (!this.has('follow-laggard') && !this.has('checkpoint-equivocate')) return [];
    if (msg.type === 'status' || msg.type === 'commit') {
      const seq = msg.type === 'status' ? msg.lastExecuted : msg.seq;
      if (!this.byzantine.has(msg.replica) && this.replicas.includes(msg.replica) && Number.isSafeInteger(seq)) {
        this.progress.set(msg.replica, Math.max(this.progress.get(msg.replica) ?? 0, seq));
      }
      return [];
    }
    if (!this.has('follow-laggard')) return [];
    if (msg.type !== 'pre-prepare') return [];
    const pp = msg.prePrepare;
    if (pp.primary === by || pp.seq <= this.laggardExecuted()) return []; // its core takes this one in, and votes itself
    const key = `${by}|${pp.view}|${pp.seq}|${pp.digest}`;
    if (this.laggardVotes.has(key)) return [];
    this.laggardVotes.add(key);
    if (this.laggardVotes.size > MAX_LAGGARD_VOTES_REMEMBERED) this.laggardVotes.delete(this.laggardVotes.values().next().value!);
    const auth = this.auths.get(by)!;
    const prepare = { view: pp.view, seq: pp.seq, digest: pp.digest, replica: by, signature: auth.sign(preparePayload(pp.view, pp.seq, pp.digest, by)) };
    const macs = macVector(auth, commitPayload(pp.view, pp.seq, pp.digest, by), this.replicas);
    const out: Outgoing[] = [];
    for (const to of this.replicas) {
      if (to === by) continue;
      out.push({ msg: { type: 'prepare', from: by, to, prepare }, delayMs: 0 });
      out.push({ msg: { type: 'commit', from: by, to, view: pp.view, seq: pp.seq, digest: pp.digest, replica: by, macs }, delayMs: 0 });
    }
    return out;
  }

  /** What a Byzantine replica's honest core wanted to send becomes this. */
  transform(msg: PbftMessage): Outgoing[] {
    const from = msg.from;
    // Its own core's answer to a state fetch shows a transfer: parts nobody asked for follow it.
    const burst = this.noteOwnStateAnswer(msg);
    if (this.has('silent') || (this.has('shun') && msg.to === this.shunned)) return burst;
    const auth = this.auths.get(from)!;
    if (this.quietAfter !== null && this.quietAfter.node === from) {
      // Quiet until it gives up on the view; only the rest of the broadcast of the two stories leaves.
      if (msg.type === 'view-change') this.quietAfter = null;
      else if (msg.type !== 'pre-prepare' || `${msg.prePrepare.view}|${msg.prePrepare.seq}` !== this.quietAfter.key) return [];
    }
    let m: PbftMessage | null = msg;
    if (this.has('equivocate')) {
      const story = this.tellStory(m, auth);
      if (story !== null) return story;
      m = this.equivocate(m, auth);
    }
    if (m !== null && this.has('conflict') && (m.type === 'prepare' || m.type === 'commit' || m.type === 'decided') && this.rng.chance(0.3)) m = this.withDigest(m, auth, `bogus${this.rng.int(1, 3)}`);
    if (m !== null && this.has('checkpoint-equivocate') && m.type === 'checkpoint' && m.checkpoint.replica === from && (this.progress.get(m.to) ?? 0) < m.checkpoint.seq) {
      const d = EQUIVOCATED_CHECKPOINT_DIGEST;
      m = { ...m, checkpoint: { ...m.checkpoint, stateDigest: d, signature: auth.sign(checkpointPayload(m.checkpoint.seq, d, from)) } };
    }
    if (m !== null && this.has('checkpoint-lie') && m.type === 'checkpoint') {
      const d = `lie${this.rng.int(1, 2)}`;
      m = { ...m, checkpoint: { ...m.checkpoint, stateDigest: d, signature: auth.sign(checkpointPayload(m.checkpoint.seq, d, from)) } };
    }
    if (m !== null && this.has('corrupt-state') && m.type === 'state-part' && m.data.length > 0) {
      const data = m.data.slice();
      const i = this.rng.int(0, data.length - 1);
      data[i] = data[i]! ^ 0x5a;
      m = { ...m, data };
    }
    if (m !== null && this.has('wrong-reply') && m.type === 'reply') m = this.lie(m, auth);
    if (m !== null && this.has('mutate') && this.rng.chance(MUTATE_SHARE)) m = mutateMessage(m, { random: this.rng, auth, replicas: this.replicas }) ?? m;
    if (m !== null && this.has('hide-prepared') && m.type === 'view-change' && m.viewChange.prepared.length > 0) {
      const { signature: _, ...vc } = { ...m.viewChange, prepared: [] };
      m = { ...m, viewChange: { ...vc, signature: auth.sign(viewChangePayload(vc)) } };
    }
    if (m === null) return burst;
    const out: Outgoing[] = [{ msg: m, delayMs: this.has('delay') && this.rng.chance(0.3) ? this.rng.float() * this.maxDelayMs : 0 }, ...burst];
    if (this.has('forge') && this.rng.chance(0.2)) {
      const f = this.forge(m, auth);
      if (f !== null) out.push({ msg: f, delayMs: 0 });
    }
    if (this.has('replay-checkpoint') && this.checkpointsSeen.length > 0 && this.rng.chance(CHECKPOINT_REPLAY_SHARE)) {
      const old = this.rng.pick(this.checkpointsSeen);
      const others = this.replicas.filter((r) => old.type === 'checkpoint' && r !== old.checkpoint.replica && !this.byzantine.has(r));
      if (others.length > 0) out.push({ msg: { ...old, from, to: this.rng.pick(others) } as PbftMessage, delayMs: 0 });
    }
    if (this.has('replay') && this.seen.length > 0 && this.rng.chance(0.1)) {
      const old = this.rng.pick(this.seen);
      const to = this.rng.pick(this.replicas);
      out.push({ msg: { ...old, to } as PbftMessage, delayMs: 0 });
    }
    return out;
  }

  /**
   * A liar sees an honest client's read-only request: it orders the same command bytes as its
   * own client (signed with its own key, so valid), with the session sequence number the bytes
   * carry moved one ahead. A state machine that takes the client's identity from the bytes
   * answers that client's next command from this one's result and never executes it. (A read,
   * so that ordering it as the liar's own changes nothing a correct state machine shows: what a
   * Byzantine client writes is its right, and invisible to the checker.)
   */
  private hijackSession(msg: PbftMessage, by: NodeId): Outgoing[] {
    if (!this.has('hijack-session') || msg.type !== 'request' || !msg.request.readOnly || this.hijacked >= MAX_HIJACKED_COMMANDS) return [];
    if (this.byzantine.has(principalMember(msg.request.client) as NodeId) || !this.rng.chance(HIJACK_SHARE)) return [];
    let cmd: unknown;
    try {
      cmd = unpack(msg.request.op);
    } catch {
      return [];
    }
    if (typeof cmd !== 'object' || cmd === null || typeof (cmd as { seq?: unknown }).seq !== 'number') return [];
    const timestamp = (this.ownTimestamps.get(by) ?? 0) + 1;
    this.ownTimestamps.set(by, timestamp);
    this.hijacked++;
    return this.ownRequest(by, timestamp, pack({ ...cmd, seq: (cmd as { seq: number }).seq + 1 }));
  }

  /**
   * An honest replica's CHECKPOINT: its digest is the state's at that sequence number (for
   * unasked-parts), and the message, signed by its replica, is kept for replay-checkpoint.
   */
  private rememberCheckpoint(msg: PbftMessage): void {
    if (msg.type !== 'checkpoint' || this.byzantine.has(msg.checkpoint.replica)) return;
    if (this.has('unasked-parts')) {
      this.honestDigests.set(msg.checkpoint.seq, msg.checkpoint.stateDigest);
      if (this.honestDigests.size > MAX_TRACKED_TRANSFERS) this.honestDigests.delete(this.honestDigests.keys().next().value!);
    }
    if (!this.has('replay-checkpoint')) return;
    if (this.checkpointsSeen.length < MAX_REPLAY_MEMORY) this.checkpointsSeen.push(msg);
    else this.checkpointsSeen[this.rng.int(0, MAX_REPLAY_MEMORY - 1)] = msg;
  }

  /**
   * Its own core answered a state fetch: who fetches what, and honest bytes of a part to offer
   * later as another checkpoint's. Returns a burst of unasked parts to that replica, sent a little
   * after the answer (so that they find its transfer under way).
   */
  private noteOwnStateAnswer(msg: PbftMessage): Outgoing[] {
    if (!this.has('unasked-parts') || this.byzantine.has(msg.to)) return [];
    if (msg.type === 'state-meta') this.track(msg.to, msg.seq, msg.stateDigest, msg.meta.partDigests.length);
    else if (msg.type === 'state-part') {
      this.track(msg.to, msg.seq, msg.stateDigest, msg.part + 1);
      this.honestParts.push({ seq: msg.seq, part: msg.part, data: msg.data });
      if (this.honestParts.length > MAX_HONEST_PARTS_KEPT) this.honestParts.shift();
    } else return [];
    return this.unaskedBurst(msg.from, msg.to);
  }

  /** Up to UNASKED_PART_BURST unasked parts to `to`, each a little later than the last. */
  private unaskedBurst(by: NodeId, to: NodeId): Outgoing[] {
    const out: Outgoing[] = [];
    for (let i = 0; i < UNASKED_PART_BURST; i++) {
      const part = this.makeUnaskedPart(by, to);
      if (part === null) break;
      out.push({ msg: part, delayMs: this.rng.float() * UNASKED_PART_MAX_DELAY_MS });
    }
    return out;
  }

  private track(replica: NodeId, seq: number, digest: string, parts: number): void {
    const t = this.transfers.get(replica);
    if (t !== undefined && t.seq > seq) return;
    this.transfers.set(replica, { seq, digest, parts: t?.seq === seq ? Math.max(t.parts, parts) : parts });
    if (this.transfers.size > MAX_TRACKED_TRANSFERS) this.transfers.delete(this.transfers.keys().next().value!);
  }

  /**
   * A message from an honest replica it believes is fetching a checkpoint's state: now and then a
   * STATE-PART nobody asked this liar for, under that checkpoint's number and digest, of a part
   * drawn among those known: garbage, or the honest bytes of that part of another checkpoint. Parts
   * carry no authenticator (their digests in the proven meta-data vouch for them), so the replica
   * must judge it by its digest alone, without spending an honest replica's answers on it.
   */
  private unaskedPart(msg: PbftMessage, by: NodeId): Outgoing[] {
    if (!this.has('unasked-parts') || this.byzantine.has(msg.from)) return [];
    if (msg.type === 'fetch-state' && msg.part !== null) {
      const digest = this.honestDigests.get(msg.seq);
      if (digest !== undefined) this.track(msg.from, msg.seq, digest, msg.part + 1);
      if (digest !== undefined) return this.unaskedBurst(by, msg.from);
    }
    const t = this.transfers.get(msg.from);
    if (t === undefined) return [];
    if (msg.type === 'status' && msg.lastExecuted >= t.seq) {
      this.transfers.delete(msg.from); // caught up
      return [];
    }
    if (!this.rng.chance(UNASKED_PART_SHARE)) return [];
    const part = this.makeUnaskedPart(by, msg.from);
    return part === null ? [] : [{ msg: part, delayMs: 0 }];
  }

  /** One STATE-PART for the transfer `to` is believed to run, nobody asked for; null past the run's budget. */
  private makeUnaskedPart(by: NodeId, to: NodeId): PbftMessage | null {
    const t = this.transfers.get(to);
    if (t === undefined || this.unaskedParts >= MAX_UNASKED_PARTS) return null;
    this.unaskedParts++;
    const part = this.rng.int(0, Math.max(0, t.parts - 1));
    const stale = this.honestParts.filter((p) => p.part === part && p.seq !== t.seq);
    const data = stale.length > 0 && this.rng.chance(0.5)
      ? this.rng.pick(stale).data
      : new Uint8Array(Math.min(this.statePartBytes, MAX_UNASKED_PART_BYTES)).fill(this.rng.int(0, 255));
    return { type: 'state-part', from: by, to, seq: t.seq, stateDigest: t.digest, part, data };
  }

  /**
   * A liar sees an honest client's request: now and then it orders, as its own client (signed with
   * its own key, so valid), a command the workload makes for a liar. Those commands lie at the
   * state machine's level (an auth change naming a user the liar never logged in as): the
   * protocol orders them as any client's, and the state machines must refuse them alike.
   */
  private forgeCommand(msg: PbftMessage, by: NodeId): Outgoing[] {
    if (!this.has('forge-command') || this.liarCommand === undefined || msg.type !== 'request' || this.forgedCommands >= MAX_FORGED_COMMANDS) return [];
    if (this.byzantine.has(principalMember(msg.request.client) as NodeId) || !this.rng.chance(FORGE_COMMAND_SHARE)) return [];
    const timestamp = (this.ownTimestamps.get(by) ?? 0) + 1;
    const op = this.liarCommand(this.rng, timestamp);
    if (op === null) return [];
    this.ownTimestamps.set(by, timestamp);
    this.forgedCommands++;
    return this.ownRequest(by, timestamp, op);
  }

  /** A request of the liar `by` as its own client, to every replica. */
  private ownRequest(by: NodeId, timestamp: number, op: Uint8Array): Outgoing[] {
    const auth = this.auths.get(by)!;
    const unsigned = { client: by as string as Principal, timestamp, op, readOnly: false };
    const request: ClientRequest = { ...unsigned, signature: auth.sign(requestPayload(auth, unsigned)) };
    return this.replicas.map((to) => ({ msg: { type: 'request', from: by, to, request }, delayMs: 0 }));
  }

  /**
   * A quiet-after-equivocating primary: each backup gets its group's pre-prepare together with
   * the primary's commit for that story (it votes for both), and then the primary falls quiet.
   */
  private tellStory(m: PbftMessage, auth: Authenticator): Outgoing[] | null {
    if (!this.quietAfterEquivocating || m.type !== 'pre-prepare' || m.prePrepare.primary !== m.from) return null;
    const told = this.equivocate(m, auth);
    if (told === null || told.type !== 'pre-prepare') return null;
    const pp = told.prePrepare;
    this.quietAfter = { node: m.from, key: `${pp.view}|${pp.seq}` };
    const commit: PbftMessage = { type: 'commit', from: m.from, to: m.to, view: pp.view, seq: pp.seq, digest: pp.digest, replica: m.from, macs: { [m.to]: auth.mac(commitPayload(pp.view, pp.seq, pp.digest, m.from), m.to) } };
    return [{ msg: told, delayMs: 0 }, { msg: commit, delayMs: 0 }];
  }

  /**
   * An equivocating primary hears a STATUS from a replica that just restarted (it sends one at
   * once): it tells that replica the other story for every sequence number above what it
   * executed, with its prepare-backing commit. A replica that kept what it accepted refuses; one
   * that forgot (it acknowledged before its record was durable) takes the second story too.
   */
  private retellAfterRestart(msg: PbftMessage, by: NodeId): Outgoing[] {
    if (!this.has('equivocate') || msg.type !== 'status' || this.byzantine.has(msg.from) || this.retold >= MAX_RETOLD_STORIES) return [];
    const auth = this.auths.get(by);
    if (auth === undefined) return [];
    const out: Outgoing[] = [];
    const inB = this.groupB.has(msg.from);
    for (const [key, alt] of this.alternatives) {
      const original = this.originals.get(key);
      if (original === undefined || alt.primary !== by || alt.view !== msg.view || alt.seq <= msg.lastExecuted) continue;
      const story = inB ? original : alt;
      this.retold++;
      out.push({ msg: { type: 'pre-prepare', from: by, to: msg.from, prePrepare: story, retransmitted: true }, delayMs: 0 });
      // With the other group's PREPAREs for that story (replayed as they were signed), so the
      // replica can prepare it at once.
      for (const p of this.preparesSeen.get(`${story.view}|${story.seq}|${story.digest}`) ?? []) out.push({ msg: { ...p, to: msg.from }, delayMs: 0 });
      out.push({ msg: { type: 'commit', from: by, to: msg.from, view: story.view, seq: story.seq, digest: story.digest, replica: by, macs: { [msg.from]: auth.mac(commitPayload(story.view, story.seq, story.digest, by), msg.from) } }, delayMs: 0 });
    }
    return out;
  }

  private equivocate(m: PbftMessage, auth: Authenticator): PbftMessage | null {
    if (!this.groupB.has(m.to)) return m;
    if (m.type === 'pre-prepare' && m.prePrepare.primary === m.from) {
      const pp = m.prePrepare;
      const key = `${pp.view}|${pp.seq}`;
      let alt = this.alternatives.get(key);
      if (alt === undefined) {
        // The other story: the batch reversed, or without its first request, or the null request.
        const batch = pp.batch.length > 1 ? [...pp.batch].reverse() : [];
        const digest = this.batchDigest(batch);
        alt = { ...pp, batch, digest, signature: auth.sign(prePreparePayload(pp.view, pp.seq, digest, pp.primary)) };
        this.alternatives.set(key, alt);
        this.originals.set(key, pp);
      }
      return { ...m, prePrepare: alt };
    }
    if (m.type === 'prepare' || m.type === 'commit') {
      const view = m.type === 'prepare' ? m.prepare.view : m.view;
      const seq = m.type === 'prepare' ? m.prepare.seq : m.seq;
      const alt = this.alternatives.get(`${view}|${seq}`);
      if (alt !== undefined) return this.withDigest(m, auth, alt.digest);
    }
    return m;
  }

  private withDigest(m: PbftMessage, auth: Authenticator, digest: string): PbftMessage {
    if (m.type === 'prepare') {
      const p = m.prepare;
      return { ...m, prepare: { ...p, digest, signature: auth.sign(preparePayload(p.view, p.seq, digest, p.replica)) } };
    }
    if (m.type === 'commit') return { ...m, digest, macs: macVector(auth, commitPayload(m.view, m.seq, digest, m.replica), this.replicas) };
    if (m.type === 'decided') return { ...m, digest, macs: macVector(auth, decidedPayload(m.view, m.seq, digest, m.replica), this.replicas) };
    return m;
  }

  /** Colluders agree on one wrong answer per (client, timestamp). */
  private lie(m: PbftReply, auth: Authenticator): PbftReply {
    const result = pack({ ok: true, value: 1000 + (m.timestamp % 7) });
    return { ...m, result, mac: auth.mac(replyPayload(m.view, m.client, m.timestamp, m.replica, m.readOnly, result), m.client) };
  }

  /** A copy of `m` in an honest replica's name, authenticated with the forger's own keys. */
  private forge(m: PbftMessage, auth: Authenticator): PbftMessage | null {
    const honest = this.replicas.filter((r) => !this.byzantine.has(r));
    if (honest.length === 0) return null;
    const victim = this.rng.pick(honest);
    this.forged++;
    switch (m.type) {
      case 'prepare': {
        const digest = this.rng.chance(0.5) ? m.prepare.digest : 'forged';
        return { ...m, from: victim, prepare: { ...m.prepare, digest, replica: victim, signature: auth.sign(preparePayload(m.prepare.view, m.prepare.seq, digest, victim)) } };
      }
      case 'commit':
        return { ...m, from: victim, digest: 'forged', replica: victim, macs: macVector(auth, commitPayload(m.view, m.seq, 'forged', victim), this.replicas) };
      case 'decided':
        return { ...m, from: victim, digest: 'forged', replica: victim, macs: macVector(auth, decidedPayload(m.view, m.seq, 'forged', victim), this.replicas) };
      case 'checkpoint':
        return { ...m, from: victim, checkpoint: { ...m.checkpoint, stateDigest: 'forged', replica: victim, signature: auth.sign(checkpointPayload(m.checkpoint.seq, 'forged', victim)) } };
      case 'view-change':
        return { ...m, from: victim, viewChange: { ...m.viewChange, replica: victim } };
      case 'pre-prepare': {
        const pp = m.prePrepare;
        return { ...m, from: victim, prePrepare: { ...pp, batch: [], digest: this.batchDigest([]), primary: victim, signature: auth.sign(prePreparePayload(pp.view, pp.seq, this.batchDigest([]), victim)) } };
      }
      case 'reply': {
        const result = pack({ ok: true, value: 2000 });
        return { ...m, from: victim, replica: victim, result, mac: auth.mac(replyPayload(m.view, m.client, m.timestamp, victim, m.readOnly, result), m.client) };
      }
      default:
        return null;
    }
  }
}

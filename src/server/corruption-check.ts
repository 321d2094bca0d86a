/**
 * The periodic corruption check (etcd's `--experimental-corrupt-check-time`): members that applied
 * the same log hold the same keys, so the member that leads compares its HashKV at its current
 * revision with every other member's at that revision, asked on the peer port. A member whose
 * hash differs at the same compaction point gets a CORRUPT alarm, through the log: from then on
 * every member refuses writes ("etcdserver: corrupt cluster") until an operator repairs the member
 * (restores it from a healthy one's snapshot, or removes and re-adds it) and disarms the alarm.
 *
 * A member that has not applied that revision yet, or compacted differently, or does not answer,
 * is skipped this round: only a like-for-like disagreement raises the alarm.
 *
 * The leader's own state may be the corrupt one: when a majority of the members agree on a hash
 * that is not the leader's, the leader names itself (and any other member off that majority), not
 * the healthy members; an operator told to restore "the corrupt members" from a healthy one must
 * not be pointed at the majority (etcd's compact hash check decides by majority the same way).
 *
 * Under a Byzantine protocol a CORRUPT alarm is a member's vote, raised once f + 1 members name the
 * same member (KvStateMachine.applyCluster), so every member runs the check, not only the one that
 * leads; and a member whose earlier vote no longer holds (the member's hash agrees again) withdraws it.
 */
import { assert } from '../core/assert.js';

export interface HashAnswer {
  readonly hash: number;
  readonly compactRevision: number;
}

export interface PeerToCheck {
  /** etcd member id (decimal). */
  readonly memberId: string;
  ask(revision: number): Promise<HashAnswer | { error: string }>;
}

export interface CorruptionCheckPorts {
  readonly setTimer: (ms: number, fn: () => void) => () => void;
  readonly leading: () => boolean;
  readonly revision: () => number;
  /** This member's HashKV at `revision` (which it has applied). */
  readonly localHash: (revision: number) => HashAnswer;
  readonly peers: () => readonly PeerToCheck[];
  /** This member's etcd member id (decimal): named when a majority disagrees with it. */
  readonly selfMemberId: () => string;
  /** Members with a CORRUPT alarm already (not raised again). */
  readonly alarmed: () => ReadonlySet<string>;
  readonly raise: (memberId: string) => Promise<void>;
  /** Byzantine protocols: members this member's CORRUPT vote stands on (not yet raised). */
  readonly voted?: () => ReadonlySet<string>;
  /** Byzantine protocols: withdraw this member's standing vote on `memberId`. */
  readonly withdraw?: (memberId: string) => Promise<void>;
  readonly log: (level: 'warn' | 'error', message: string, fields: Record<string, unknown>) => void;
}

export class CorruptionChecker {
  private cancel: (() => void) | null = null;
  private checking = false;
  private stopped = false;

  constructor(private readonly intervalMs: number, private readonly ports: CorruptionCheckPorts) {}

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.cancel = null;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.cancel = this.ports.setTimer(this.intervalMs, () => {
      this.cancel = null;
      void this.check().finally(() => this.schedule());
    });
  }

  /** One round; resolves when every peer answered or was given up on. */
  async check(): Promise<void> {
    if (this.checking || !this.ports.leading()) return;
    this.checking = true;
    try {
      const revision = this.ports.revision();
      const mine = this.ports.localHash(revision);
      const answers = await Promise.all(this.ports.peers().map(async (p) => ({
        p,
        a: await p.ask(revision).catch((err: unknown) => {
          // As etcd's "failed hash kv request": a member that cannot be asked (down, slow, or
          // refusing this member's proof of the peer secret) is left out of this round, visibly.
          this.ports.log('warn', 'corruption check: could not ask a member for its hash; it is left out of this round', { member: p.memberId, revision, error: (err as Error).message });
          return { error: (err as Error).message };
        }),
      })));
      const alarmed = this.ports.alarmed();
      // Like-for-like answers, this member's own among them.
      const comparable: { memberId: string; hash: number }[] = [{ memberId: this.ports.selfMemberId(), hash: mine.hash }];
      for (const { p, a } of answers) if (!('error' in a) && a.compactRevision === mine.compactRevision) comparable.push({ memberId: p.memberId, hash: a.hash });
      // The reference: a hash held by a majority of the members, else this member's.
      const members = answers.length + 1;
      const tally = new Map<number, number>();
      for (const c of comparable) tally.set(c.hash, (tally.get(c.hash) ?? 0) + 1);
      let reference = mine.hash;
      for (const [hash, n] of tally) if (2 * n > members) reference = hash;
      const voted = this.ports.voted?.() ?? new Set<string>();
      for (const c of comparable) {
        if (c.hash === reference && voted.has(c.memberId)) {
          await this.ports.withdraw?.(c.memberId).catch((err: unknown) => this.ports.log('warn', 'corruption check: withdrawing this member\'s CORRUPT vote did not commit; the next round tries again', { member: c.memberId, error: (err as Error).message }));
        }
        if (c.hash === reference || alarmed.has(c.memberId) || voted.has(c.memberId)) continue;
        this.ports.log('error', 'corruption check: a member holds different keys at the same revision; raising the CORRUPT alarm', {
          member: c.memberId, revision, hash: c.hash, referenceHash: reference, leaderHash: mine.hash, compactRevision: mine.compactRevision,
        });
        await this.ports.raise(c.memberId).catch((err: unknown) => this.ports.log('warn', 'corruption check: the CORRUPT alarm did not commit; the next round raises it again', { member: c.memberId, error: (err as Error).message }));
      }
    } finally {
      this.checking = false;
    }
  }
}

/**
 * Answers the peer port's hashkv question. HashKV reads every key (about half a second for
 * 200,000 keys of 100 bytes) on the member's only thread, and the question needs no peer
 * connection: without a peer secret anyone who reaches the peer port may ask it (with one, the
 * asker proves the secret first: see transport/join.ts, but under a Byzantine protocol every member
 * holds it), so a caller repeating it could stall the member's heartbeats and depose or starve its
 * leader; and under a Byzantine protocol every member
 * runs the check, so each member is asked by all the others. So, for this member as a whole,
 * whoever asks:
 * - a hash is computed at most once per MIN_HASHKV_SPACING_FACTOR times the last one's cost (the
 *   member spends at most about a tenth of its time on it, however large its state); a question at
 *   the revision of the last hash, in that window (and at least periodMs / maxHashesPerPeriod after
 *   it began), is answered with that hash again (askers that come together share one computation;
 *   it is no older than the window in which a new one would be refused anyway), any other is refused;
 * - and at most `maxHashesPerPeriod` hashes are computed in any `periodMs` (a cheap hash, of a
 *   small state, has a short window: this bounds how often it runs all the same); a question the
 *   member cannot answer (a revision not applied yet, or compacted) is not one of them.
 * A refused question is answered with an error, and its asker's check skips this member this round.
 * Nothing is answered again past its window: the check is there to see state that changed behind
 * the log, at an unchanged revision.
 */
export const MIN_HASHKV_SPACING_FACTOR = 10;

export interface HashKvLimits {
  /**
   * Hashes computed at most in any periodMs, for all askers together: 4 a second leaves room for
   * the leader's check at any sensible interval and for the other members of a Byzantine cluster.
   */
  readonly maxHashesPerPeriod: number;
  /** The sliding window of maxHashesPerPeriod. */
  readonly periodMs: number;
}

export const DEFAULT_HASHKV_LIMITS: HashKvLimits = { maxHashesPerPeriod: 4, periodMs: 1_000 };

export interface HashKvResponderPorts {
  readonly nowMs: () => number;
  readonly hash: (revision: number) => HashAnswer;
}

export class HashKvResponder {
  /** When the next hash may be computed (the spacing by cost). */
  private nextAllowedMs = -Infinity;
  /** The last hash computed, with its revision: answered again at that revision until `shareUntilMs`. */
  private last: { readonly revision: number; readonly answer: HashAnswer; readonly shareUntilMs: number } | null = null;
  /** When each hash of the last periodMs was computed, oldest first: at most maxHashesPerPeriod. */
  private computedAtMs: number[] = [];
  private readonly limits: HashKvLimits;
  /** Hashes computed so far (the rest were answered again, or refused). */
  computed = 0;

  constructor(private readonly ports: HashKvResponderPorts, limits: Partial<HashKvLimits> = {}) {
    this.limits = { ...DEFAULT_HASHKV_LIMITS, ...limits };
    if (!Number.isSafeInteger(this.limits.maxHashesPerPeriod) || this.limits.maxHashesPerPeriod < 1) {
      throw new Error(`maxHashesPerPeriod must be a positive integer, got ${this.limits.maxHashesPerPeriod}`);
    }
    if (!(this.limits.periodMs > 0)) throw new Error(`periodMs must be positive, got ${this.limits.periodMs}`);
  }

  answer(revision: number): HashAnswer | { error: string } {
    const start = this.ports.nowMs();
    const { maxHashesPerPeriod, periodMs } = this.limits;
    const last = this.last;
    if (last !== null && last.revision === revision && start < last.shareUntilMs) return last.answer;
    if (start < this.nextAllowedMs) return { error: 'hashkv: asked again too soon; skipped this round' };
    while (this.computedAtMs.length > 0 && start - this.computedAtMs[0]! >= periodMs) this.computedAtMs.shift();
    if (this.computedAtMs.length >= maxHashesPerPeriod) {
      return { error: `hashkv: ${maxHashesPerPeriod} hashes computed in the last ${periodMs} ms already (maxHashesPerPeriod); skipped this round` };
    }
    // (The last hash stays shared if this one throws: a question at a revision the member cannot
    // answer does not take the others' shared answer away either.)
    let answer: HashAnswer;
    try {
      answer = this.ports.hash(revision);
    } finally {
      const end = this.ports.nowMs();
      this.nextAllowedMs = end + MIN_HASHKV_SPACING_FACTOR * Math.max(0, end - start);
    }
    // Only a hash computed counts against maxHashesPerPeriod: a question the member cannot answer
    // (a revision it has not applied or has compacted) throws before any work (its cost still spaces
    // the next by MIN_HASHKV_SPACING_FACTOR); counted, four such a second from anyone who reaches
    // the peer port would refuse every real asker.
    this.computedAtMs.push(start);
    assert(this.computedAtMs.length <= maxHashesPerPeriod, () => `${this.computedAtMs.length} hashes in a period, over maxHashesPerPeriod=${maxHashesPerPeriod}`);
    this.computed++;
    // Answered again at its revision for its spacing window, and at least for periodMs /
    // maxHashesPerPeriod (the budget's own spacing): a cheap hash has a window of about nothing, and
    // the askers of one round (every member, under a Byzantine protocol) rarely ask in the same
    // millisecond; without that, the fifth of them within a period would be refused.
    this.last = { revision, answer, shareUntilMs: Math.max(this.nextAllowedMs, start + periodMs / maxHashesPerPeriod) };
    return answer;
  }
}

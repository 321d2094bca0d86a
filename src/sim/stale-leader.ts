/**
 * A nemesis scenario of its own: a leader cut off with writes only it holds comes back to a
 * cluster that moved on and compacted past where the two logs part, so it catches up by a
 * snapshot laid over its stale tail.
 *
 * The nemesis's ordinary faults make this rare: the side that moves on commits dozens of entries
 * before a partition heals, and compacts (every few, dozen or forty entries) long past the few
 * writes the cut-off leader took alone, so the snapshot it is sent covers its whole stale tail, or
 * the leader's log still reaches back to where they part and appends repair the tail instead.
 * The state that matters (a snapshot at index S laid over a log that goes on past S with entries
 * of an older term) needs the snapshot taken soon after the new leader's first commit, and the
 * heal soon after that. So, in a share of runs:
 *
 *   1. the leader (with, some of the time, a follower of its own: a minority that forwards its
 *      clients' writes to it) is cut off from the other members; the clients bound to it keep
 *      writing to it, as Jepsen's workers bound to a node do;
 *   2. once the other side has a leader of a later term that committed something of its own (its
 *      commit index moved after it took over), an operator defragments that leader (etcdctl
 *      defrag: a snapshot at its applied index, the log compacted behind it);
 *   3. the cut heals soon after; the old side catches up by that snapshot, and (in runs with
 *      crashes) a member of it is often crashed the moment that install is durable, and restarted
 *      from what its disk holds before the new leader's appends rewrite what follows the snapshot
 *      (as CRASH_AFTER_INSTALL_PROBABILITY does for any install, at a lower rate).
 *
 * A strike that sees no new leader, or no commit of its, within STALE_LEADER_MAX_CUT_MS heals as
 * it is. Every choice is drawn from a random stream of its own, seeded apart from the run's: runs
 * without the scenario stay as they were.
 */
import { assert } from '../core/assert.js';
import type { NodeId } from '../core/ids.js';
import type { Random } from '../core/prng.js';
import type { ReplicaStatus } from '../core/replica.js';
import type { LinkFaults } from './link-faults.js';
import type { SimNode } from './sim-node.js';

/** Share of runs (with partitions among their faults, under a leader-model protocol) that play the scenario. */
export const STALE_LEADER_RUN_SHARE = 0.5;
/**
 * Members a cluster needs for the scenario: the leader alone must be a minority of the cut, or the
 * other side can elect nobody (and the cut's minority assertion trips as a false safety failure).
 */
export const STALE_LEADER_MIN_MEMBERS = 3;
/** Strikes a run plays at most (one to this many, drawn), each at a drawn time of the fault window. */
export const STALE_LEADER_MAX_STRIKES = 3;
/** A strike starts no earlier than this into the run (a first leader is elected and writing)... */
export const STALE_LEADER_EARLIEST_MS = 300;
/** ...and no later than this before the fault window ends (the heal and the catch-up fall inside it). */
export const STALE_LEADER_LATEST_BEFORE_END_MS = 1_500;
/**
 * An armed strike cuts the leader at its first turn that leaves it holding this many entries no
 * other member has (two: one more than the new leader's first entry covers), or after
 * STALE_LEADER_ARMED_MS at the latest.
 */
export const STALE_LEADER_MIN_AHEAD = 2;
export const STALE_LEADER_ARMED_MS = 1_000;
/** A cut that has not reached its heal (no new leader, or none that committed) heals after this long. */
export const STALE_LEADER_MAX_CUT_MS = 2_000;
/** The cut heals this long (drawn up to it) after the operator's snapshot at the new leader is taken. */
export const STALE_LEADER_HEAL_AFTER_SNAPSHOT_MAX_MS = 20;
/** Share of the cut side's first installs after a heal that the simulator crashes right after (see crashAfterInstall). */
export const STALE_LEADER_CRASH_AFTER_INSTALL_SHARE = 0.75;
/** Share of strikes that cut a follower off with the leader (a minority: its clients' writes reach the old leader too). */
export const STALE_LEADER_WITH_FOLLOWER_SHARE = 0.5;
/** Retries of a strike that found no leader, this far apart. */
export const STALE_LEADER_RETRIES = 5;
export const STALE_LEADER_RETRY_MS = 100;

/** What the scenario acts on. */
export interface StaleLeaderSite {
  readonly links: LinkFaults;
  readonly nodes: readonly SimNode<unknown>[];
  /** The fault window is over: no strike begins. */
  readonly healed: boolean;
  /** The member leading the highest term, if one is. */
  leader(): SimNode<unknown> | null;
  /** The last index of `node`'s log, where the protocol shows its log (null: it does not, or `node` is down). */
  lastIndex(node: SimNode<unknown>): number | null;
  after(ms: number, fn: () => void): void;
  /** Run `fn` as a turn of `node` (what it sends leaves at the turn's end). */
  turnOf(node: SimNode<unknown>, fn: () => void): void;
  note(line: string): void;
}

type Phase =
  | { readonly kind: 'idle' }
  /** Waiting for the leader to get ahead of every other member. */
  | { readonly kind: 'armed'; readonly strike: number }
  /** Cut `side` off (token `token`); waiting for a leader of a term above `term` on the other side. */
  | { readonly kind: 'await-leader'; readonly side: ReadonlySet<NodeId>; readonly token: number; readonly term: number; readonly strike: number }
  /** `leader` took over with commit index `commit` (from `side`'s old leader); waiting for it to commit more. */
  | { readonly kind: 'await-commit'; readonly side: ReadonlySet<NodeId>; readonly token: number; readonly leader: SimNode<unknown>; readonly term: number; readonly commit: number; readonly strike: number }
  /** The operator's snapshot was asked; the cut heals once it is taken. */
  | { readonly kind: 'snapshotting'; readonly side: ReadonlySet<NodeId>; readonly token: number; readonly strike: number };

export class StaleLeaderScenario {
  private phase: Phase = { kind: 'idle' };
  /** Strikes begun: a timer of an earlier strike finds a later one under way and leaves it. */
  private strikes = 0;
  /** Members of the last strike's cut side that have not installed a snapshot since its heal (see crashAfterInstall). */
  private readonly returning = new Set<NodeId>();

  /** `rng` is the scenario's own stream (see the header). */
  constructor(private readonly site: StaleLeaderSite, private readonly rng: Random, faultWindowMs: number) {
    const latest = faultWindowMs - STALE_LEADER_LATEST_BEFORE_END_MS;
    if (latest <= STALE_LEADER_EARLIEST_MS) return;
    const times = Array.from({ length: rng.int(1, STALE_LEADER_MAX_STRIKES) }, () => rng.int(STALE_LEADER_EARLIEST_MS, latest)).sort((a, b) => a - b);
    for (const at of times) site.after(at, () => this.strike(STALE_LEADER_RETRIES));
  }

  /** Arm a strike (unless one is under way): the cut falls at the leader's next turn that leaves it ahead (see observed). */
  private strike(retries: number): void {
    const s = this.site;
    if (s.healed || this.phase.kind !== 'idle') return;
    const leader = s.leader();
    if (leader === null || leader.driver === null) {
      if (retries > 0) s.after(STALE_LEADER_RETRY_MS, () => this.strike(retries - 1));
      return;
    }
    const strike = ++this.strikes;
    this.phase = { kind: 'armed', strike };
    // A leader that never gets ahead (no writes, or every one acknowledged at once) is cut anyway.
    s.after(STALE_LEADER_ARMED_MS, () => {
      const l = s.leader();
      if (this.phase.kind === 'armed' && this.phase.strike === strike) {
        if (l === null || l.driver === null || s.healed) this.phase = { kind: 'idle' };
        else this.cut(l, l.driver.status().term, strike, 'not ahead');
      }
    });
  }

  /** Cut `leader` off (with a follower, some of the time). */
  private cut(leader: SimNode<unknown>, term: number, strike: number, why: string): void {
    const s = this.site;
    const others = s.nodes.filter((n) => n.id !== leader.id);
    // A minority: the leader, and a follower when two of five (or more) are still a minority.
    const withFollower = (s.nodes.length - 1) / 2 >= 2 && this.rng.chance(STALE_LEADER_WITH_FOLLOWER_SHARE);
    const follower = withFollower ? this.rng.pick(others) : null;
    const side = new Set<NodeId>([leader.id, ...(follower === null ? [] : [follower.id])]);
    assert(side.size * 2 < s.nodes.length, () => `stale-leader cut side of ${side.size} is no minority of ${s.nodes.length}`);
    const inside = s.nodes.filter((n) => side.has(n.id)).map((n) => n.key);
    const outside = s.nodes.filter((n) => !side.has(n.id)).map((n) => n.key);
    const token = s.links.cutBoth(inside, outside);
    this.phase = { kind: 'await-leader', side, token, term, strike };
    s.note(`nemesis stale-leader: cut ${inside.join(',')} | ${outside.join(',')} (leader ${why})`);
    s.after(STALE_LEADER_MAX_CUT_MS, () => {
      if (this.phase.kind !== 'idle' && this.phase.strike === strike) this.heal('no new leader committed in time');
    });
  }

  /** After every turn of an honest member that is up (see Simulation.observe): the waits above move on. */
  observed(n: SimNode<unknown>, status: ReplicaStatus): void {
    const p = this.phase;
    switch (p.kind) {
      case 'idle':
      case 'snapshotting':
        return;
      case 'armed': {
        // The leader's turn that left it holding STALE_LEADER_MIN_AHEAD entries no other member
        // has (what it just sent is lost on the cut links); at once where the log is not shown.
        if (!status.leading || this.site.healed) return;
        const last = this.site.lastIndex(n);
        let why = 'log not shown';
        if (last !== null) {
          let othersLast = 0;
          for (const o of this.site.nodes) if (o.id !== n.id) othersLast = Math.max(othersLast, this.site.lastIndex(o) ?? 0);
          if (last - othersLast < STALE_LEADER_MIN_AHEAD) return;
          why = `${last - othersLast} entries ahead`;
        }
        this.cut(n, status.term, p.strike, why);
        return;
      }
      case 'await-leader':
        if (p.side.has(n.id) || !status.leading || status.term <= p.term) return;
        this.phase = { kind: 'await-commit', side: p.side, token: p.token, leader: n, term: status.term, commit: status.commitIndex, strike: p.strike };
        return;
      case 'await-commit': {
        if (n !== p.leader) return;
        if (!status.leading || status.term !== p.term) {
          // Deposed before it committed: wait for the next one.
          this.phase = { kind: 'await-leader', side: p.side, token: p.token, term: p.term, strike: p.strike };
          return;
        }
        if (status.appliedIndex <= p.commit) return;
        this.phase = { kind: 'snapshotting', side: p.side, token: p.token, strike: p.strike };
        const s = this.site;
        s.note(`nemesis stale-leader: defragment ${n.key} at ${status.appliedIndex}`);
        s.turnOf(n, () => {
          const driver = n.runningDriver;
          if (driver === null) return this.heal('the new leader is down');
          driver.snapshotNow((err) => {
            if (this.phase.kind !== 'snapshotting' || this.phase.strike !== p.strike) return;
            if (err !== null) return this.heal(`defragment: ${err.message}`);
            s.after(this.rng.int(0, STALE_LEADER_HEAL_AFTER_SNAPSHOT_MAX_MS), () => {
              if (this.phase.kind === 'snapshotting' && this.phase.strike === p.strike) this.heal('after the snapshot');
            });
          });
        });
        return;
      }
    }
  }

  /**
   * Whether the simulator crashes `n` now that an install of a snapshot is durable on its disk
   * (before what follows the snapshot is rewritten): the first install of a member of the cut side
   * after the heal that followed the operator's snapshot, in STALE_LEADER_CRASH_AFTER_INSTALL_SHARE
   * of them. The caller asks only in runs with crashes among their faults, during the fault window.
   */
  crashAfterInstall(n: SimNode<unknown>): boolean {
    if (!this.returning.delete(n.id)) return false;
    return this.rng.chance(STALE_LEADER_CRASH_AFTER_INSTALL_SHARE);
  }

  private heal(why: string): void {
    const p = this.phase;
    if (p.kind === 'idle') return;
    this.phase = { kind: 'idle' };
    if (p.kind === 'armed') return; // nothing cut yet
    this.returning.clear();
    if (p.kind === 'snapshotting') for (const id of p.side) this.returning.add(id);
    if (this.site.links.healFault('cut', p.token)) this.site.note(`nemesis stale-leader: heal (${why})`);
  }
}

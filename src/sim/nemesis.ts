/**
 * The one nemesis: its fault kinds are a table, applied the same way to every protocol. Every
 * fault heals on its own after a while and everything heals at the end of the fault window.
 *
 * A Byzantine protocol's lying replicas are faulty already: crashes, power losses and disk
 * faults hit honest members only (a restarted honest member must be indistinguishable from a
 * slow one: the f budget stays with the liars).
 */
import type { NodeId } from '../core/ids.js';
import type { Random } from '../core/prng.js';
import type { Membership } from '../core/replica.js';
import type { LinkFaultKind, LinkFaults } from './link-faults.js';
import type { FaultKind } from './options.js';
import type { SimNode } from './sim-node.js';

/** What the nemesis acts on. */
export interface NemesisSite {
  readonly rng: Random;
  readonly links: LinkFaults;
  readonly faults: ReadonlySet<FaultKind>;
  /** Every simulated process (twins included). */
  readonly nodes: readonly SimNode<unknown>[];
  /** Each run is calm or a storm of short faults (see STORM_RUN_SHARE). */
  readonly storm: boolean;
  /** The largest clock-rate error the protocol's configuration tolerates (null: any). */
  readonly clockDriftBound: number | null;
  /** The fault window is over: faults already scheduled (a crash loop's next crash) do not strike. */
  readonly healed: boolean;
  /** The member leading now, if one is. */
  leader(): SimNode<unknown> | null;
  /**
   * The TCP connections between members of `a` and members of `b` are reset while their processes
   * live on (a partition made by a firewall that rejects with a reset, a middlebox dropping its
   * state): each up member on either side learns a network delay later that every connection with
   * each up member of the other side closed (peerDown).
   */
  resetConnections(a: readonly string[], b: readonly string[]): void;
  /** Whether a two-sided partition now rejects (REJECTING_PARTITION_SHARE, from a stream of its own; never under a protocol without peerDown). */
  rejectingPartition(): boolean;
  after(ms: number, fn: () => void): void;
  note(line: string): void;
  /** Restart a member that is down (from its disk). */
  restart(node: SimNode<unknown>, keepStateMachine: boolean): void;
  /**
   * At most this many honest members may have their disk corrupted over a run (the rest must form
   * a quorum): the faults the protocol tolerates, less the liars and the voters proposed whose
   * process has not started (a spare added as a voter is down until it joins).
   */
  readonly maxCorruptedMembers: number;
  /**
   * Whether spare `id`, not started yet, may be proposed as a voter: it is counted already, or the
   * budget has room for one more member down beside the disks already damaged (else it joins as a
   * learner first).
   */
  mayAddVoterNotStarted(id: NodeId): boolean;
  /** Members whose disks were damaged in this run. */
  readonly corrupted: Set<SimNode<unknown>>;
  /** Damage an old file on a member's disk (a flipped bit, an unreadable sector); what was done, or null. */
  corrupt(node: SimNode<unknown>): string | null;
  /** Make a member's next write or datasync fail; what was armed. */
  armIoError(node: SimNode<unknown>): string | null;
  /** Ask `leader` to hand leadership to `target` (an operator's move-leader); false if it refused. */
  transferLeadership(leader: SimNode<unknown>, target: SimNode<unknown>): boolean;
  /** The configuration `leader` has applied (null: it is down). */
  membership(leader: SimNode<unknown>): Membership | null;
  /**
   * Propose `change` at `leader` through the protocol's membership ability; `done` hears how it
   * ended (applied there, or why not). Demotions shrink the voter sets: the site lowers the disk
   * corruption budget before they are proposed (see `demotable`).
   */
  changeMembership(leader: SimNode<unknown>, change: AdminChange, done: (err: Error | null) => void): void;
  /** How many of `voters` voters may be demoted now without leaving fewer than the corruption budget already spent needs. */
  demotable(voters: number): number;
  /** Runs that replace members (see REPLACE_RUN_SHARE): how; null in every other run. */
  readonly replacement: ReplacementSite | null;
}

/**
 * What replacing members takes beyond the other admin faults: spare processes (not members, down
 * until they join, each with an empty disk) and a random stream of its own, so that runs which
 * replace nobody draw exactly what they drew before the feature existed.
 */
export interface ReplacementSite {
  readonly rng: Random;
  /** The joiners' stream (who answers a join: JOIN_FROM_ANY_MEMBER_SHARE), apart from `rng` so that its draws stay as they were. */
  readonly joinerRng: Random;
  /** The next spare that has not joined yet (null: none left). */
  spare(): NodeId | null;
  /** A member of the cluster as it started, not removed yet (a replacement removes only those). */
  original(id: NodeId): boolean;
  /**
   * The join answer `member` gives now (etcd's MemberAdd then a start with
   * --initial-cluster-state existing): its configuration, ranks included, with `since` the index
   * that configuration holds at (toldMembership); null if it is down.
   */
  joinAnswer(member: SimNode<unknown>): Membership | null;
  /** Start spare `id` on its empty disk with the configuration `told`; its process. */
  join(id: NodeId, told: Membership): SimNode<unknown>;
  /** The process of member `id` (null: none). */
  node(id: NodeId): SimNode<unknown> | null;
  /** `n` is no longer a member: clients move on; it stays up (it must do no harm) until retired. */
  removed(n: SimNode<unknown>): void;
  /**
   * Every voter up in the configuration of whoever leads has a commit index of at least `index`
   * (the removal's): none of them needs the removed member's vote for a phase 1 from below it.
   */
  committedAtVoters(index: number): boolean;
  /** Stop a removed member for good (it is never restarted). */
  retire(n: SimNode<unknown>): void;
}

/**
 * The membership changes the nemesis proposes, in the shapes of the membership ability (etcd's
 * ConfChangeV2): a joint change, which demotes the voters it lists as learners (they vote in
 * C_old until it is left) and which the leader leaves on its own unless autoLeave is false; and
 * leaving it explicitly.
 */
export type AdminChange =
  | { readonly kind: 'joint'; readonly voters: readonly NodeId[]; readonly learners: readonly NodeId[]; readonly autoLeave: boolean }
  | { readonly kind: 'leave-joint' }
  | { readonly kind: 'add-learner' | 'add-voter' | 'remove'; readonly node: NodeId };

/**
 * Share of admin strikes that change the membership (the rest move leadership): demote voters to
 * learners through a joint configuration, promote them back, leave a joint configuration the
 * operator chose to leave explicitly.
 */
export const MEMBERSHIP_CHANGE_SHARE = 0.5;
/** Share of joint changes the leader does not leave on its own (autoLeave: false): the operator proposes leave-joint later. */
export const EXPLICIT_LEAVE_SHARE = 0.5;
/** An explicit leave-joint is proposed this long after its joint change, and tried again this often, at most this many times. */
export const EXPLICIT_LEAVE_AFTER_MS = { min: 20, max: 800 } as const;
export const EXPLICIT_LEAVE_ATTEMPTS = 8;
/**
 * Share of demotions (in runs with partitions) followed at once by a cut that leaves the demoted
 * voters with just enough others to be a majority of C_old, cut off from the leader: it often
 * lands while some of them hold the joint entry without knowing it committed (they still run
 * C_old). A core that drops the demoted voters from C_old too early lets each side decide.
 */
export const CUT_AFTER_DEMOTION_SHARE = 0.5;
/** That cut strikes within this many ms of the proposal (a few round trips: replication, commit, its notice). */
export const CUT_AFTER_DEMOTION_MAX_DELAY_MS = 15;

/** Share of runs that are a storm of short faults: leaders come and go every few hundred ms. */
export const STORM_RUN_SHARE = 0.3;
/** Share of power losses that hit every member at once (a data-centre outage), the rest hit one. */
export const CLUSTER_POWER_LOSS_SHARE = 0.25;
/** Clock rates a skew fault draws, when the protocol tolerates any drift: from half to twice true time. */
export const MIN_SKEW_RATE = 0.5;
export const MAX_SKEW_RATE = 2;
/** Share of strikes that bring several faults at once, and how many at most. */
export const COMPOUND_STRIKE_SHARE = 0.25;
export const MAX_COMPOUND_FAULTS = 3;
/**
 * Share of crashes that are a crash loop: the process dies again soon after each restart, up to
 * this many times. Each incarnation lives briefly, so answers meant for one reach the next: the
 * window in which a member that names its requests per process takes a stale answer for a new one.
 */
export const CRASH_LOOP_SHARE = 0.2;
export const MAX_CRASH_LOOP_CRASHES = 5;
/** Chance per disk fault that it corrupts a member's disk (read faults) rather than slowing its fsyncs. */
export const DISK_CORRUPTION_SHARE = 0.3;
/**
 * Share of disk faults that fail a member's next write or datasync (EIO, ENOSPC). Its storage
 * must stop the member rather than retry (a datasync that failed has dropped its pages: a retry
 * reports success for data the platter never got); the machine comes back after a power cycle.
 */
export const IO_ERROR_SHARE = 0.3;

type Injector = (site: NemesisSite, lastingMs: number) => void;

/**
 * Share of two-sided partitions that reject rather than drop: the connections across it are reset
 * at once (each side is told the other's connections closed, as a firewall's REJECT with a TCP
 * reset does), while the processes live on. The rest are silent (a DROP: nothing crosses).
 */
export const REJECTING_PARTITION_SHARE = 0.5;

/**
 * The fault table: what each kind does when the nemesis picks it, and how often it is picked
 * relative to the others (partitions are the faults consensus bugs hide behind most, as
 * Jepsen's nemeses assume: they weigh most).
 */
export const FAULTS: Readonly<Record<FaultKind, { readonly description: string; readonly weight: number; readonly inject: Injector }>> = {
  partition: { description: 'partitions of every shape: majority/minority, one isolated, the leader isolated, a bridge, one-way (the two-sided ones, half the time, rejecting: the connections across are reset); in half the runs of a leader-model protocol, a leader cut off while ahead of the others, back only once they compacted past it', weight: 3, inject: partition },
  drop: { description: 'every link loses and duplicates a share of messages', weight: 1, inject: (s, ms) => {
    const { line, token } = s.links.makeLossy(s.rng);
    s.note(`nemesis lossy ${line}`);
    s.after(ms, () => heal(s, 'lossy', token));
  } },
  delay: { description: 'delay spikes on the links of some members (messages arrive late and out of order)', weight: 1, inject: (s, ms) => {
    const keys = s.nodes.map((n) => n.key);
    const slow = s.rng.shuffle([...keys]).slice(0, s.rng.int(1, Math.max(1, Math.floor(keys.length / 2))));
    const token = s.links.slowDown(s.rng, slow, keys);
    s.note(`nemesis delay ${slow.join(',')}`);
    s.after(ms, () => heal(s, 'slow', token));
  } },
  crash: { description: 'a member\'s process is killed (the kernel keeps what it was given) and restarted, sometimes again and again (a crash loop)', weight: 2, inject: (s) => {
    const n = pickHonestUp(s);
    if (n === null) return;
    if (s.rng.chance(CRASH_LOOP_SHARE)) return crashLoop(s, n, s.rng.int(2, MAX_CRASH_LOOP_CRASHES));
    n.stop(false);
    s.note(`nemesis crash ${n.key}`);
    // Sometimes a supervisor restarts it at once; sometimes it stays down for a while.
    s.after(s.rng.chance(0.3) ? s.rng.int(1, 20) : s.rng.int(50, 2000), () => s.restart(n, true));
  } },
  'power-loss': { description: 'a member, or every member at once, loses power: only what was fsynced survives', weight: 1, inject: (s) => {
    const all = s.rng.chance(CLUSTER_POWER_LOSS_SHARE);
    const victims = all ? s.nodes.filter((n) => n.up && !n.byzantine) : [pickHonestUp(s)].filter((n): n is SimNode<unknown> => n !== null);
    for (const n of victims) {
      const what = n.stop(true);
      s.note(`nemesis power-loss ${n.key}: ${what}`);
      s.after(s.rng.int(1, all ? 300 : 1500), () => s.restart(n, false));
    }
  } },
  pause: { description: 'a member\'s process stops (SIGSTOP) and resumes with what waited', weight: 1, inject: (s, ms) => {
    const n = s.rng.pick(s.nodes);
    n.pause();
    s.note(`nemesis pause ${n.key}`);
    s.after(ms, () => n.resume());
  } },
  skew: { description: 'a member\'s clock runs fast or slow (within the drift the protocol declares, if it declares one)', weight: 1, inject: (s, ms) => {
    const n = s.rng.pick(s.nodes);
    const b = s.clockDriftBound;
    n.rate = b === null ? MIN_SKEW_RATE + s.rng.float() * (MAX_SKEW_RATE - MIN_SKEW_RATE) : 1 - b + s.rng.float() * 2 * b;
    s.note(`nemesis skew ${n.key} ×${n.rate.toFixed(2)}`);
    s.after(ms, () => {
      n.rate = 1;
    });
  } },
  disk: { description: 'a member\'s disk: slow fsyncs, torn and reordered writes on power loss, lost directory entries; flipped bits and unreadable sectors in old files', weight: 1, inject: (s) => {
    // Slow disks and torn writes are the model disks' own (on whenever `disk` is among the faults).
    if (s.rng.chance(IO_ERROR_SHARE)) {
      const victim = pickHonestUp(s);
      const armed = victim === null ? null : s.armIoError(victim);
      if (armed !== null) s.note(`nemesis disk ${victim!.key}: next ${armed}`);
      return;
    }
    // Otherwise: damage an old file of an honest member and restart it, so it reads the damage; at
    // most a minority of members, so the rest still form a quorum.
    const damaged = s.nodes.filter((n) => s.corrupted.has(n));
    const pool = damaged.length >= s.maxCorruptedMembers ? damaged : s.nodes.filter((n) => !n.byzantine && n.up);
    if (pool.length === 0) return;
    const n = s.rng.pick(pool);
    const what = s.corrupt(n);
    if (what === null) return;
    s.corrupted.add(n);
    n.stop(false);
    s.note(`nemesis disk ${n.key}: ${what}`);
    s.after(s.rng.int(1, 200), () => s.restart(n, false));
  } },
  admin: { description: 'an operator moves leadership to another member (etcdctl move-leader), or demotes voters to learners and promotes them back through joint configurations (left by the leader or explicitly); in some runs it also replaces members (a spare joins from a join answer and is promoted, an old voter is removed and later stopped for good, sometimes followed by a power loss of every member), on protocols that can', weight: 1, inject: (s) => {
    const leader = s.leader();
    if (leader === null) return;
    if (s.rng.chance(MEMBERSHIP_CHANGE_SHARE)) return changeMembership(s, leader);
    const targets = s.nodes.filter((n) => n.up && n.id !== leader.id && !n.byzantine);
    if (targets.length === 0) return;
    const target = s.rng.pick(targets);
    if (s.transferLeadership(leader, target)) s.note(`nemesis move-leader ${leader.key} -> ${target.key}`);
  } },
};

export class Nemesis {
  constructor(private readonly site: NemesisSite) {}

  /**
   * One fault, or now and then several at once (faults in real clusters come together: a
   * partition while a member crash-loops, a slow disk during a pause); returns when to strike next.
   */
  strike(): number {
    const s = this.site;
    const kinds = [...s.faults].filter((k) => FAULTS[k].weight > 0);
    const next = s.storm ? s.rng.int(60, 400) : s.rng.int(300, 1500);
    if (kinds.length === 0) return next;
    const count = s.rng.chance(COMPOUND_STRIKE_SHARE) ? s.rng.int(2, MAX_COMPOUND_FAULTS) : 1;
    for (let i = 0; i < count; i++) {
      const kind = weightedPick(s.rng, kinds);
      FAULTS[kind].inject(s, s.storm ? s.rng.int(50, 600) : s.rng.int(300, 2500));
    }
    return next;
  }

  /** Cut a newly elected leader off from everyone right away: it keeps entries of its term nobody else has (Figure 8's rival). */
  isolate(n: SimNode<unknown>): void {
    const s = this.site;
    const token = s.links.cutBoth([n.key], s.nodes.filter((x) => x.id !== n.id).map((x) => x.key));
    s.note(`nemesis isolate leader ${n.key}`);
    s.after(s.rng.int(100, 600), () => heal(s, 'cut', token));
  }

  /** Replace `count` members, one after another (see replaceMember). */
  replace(count: number, hurried: boolean): void {
    const r = this.site.replacement;
    if (r !== null) replaceMember(this.site, r, count, hurried);
  }

  /** End of the fault window: heal links, clocks and pauses, restart whoever is down. */
  healAll(): void {
    const s = this.site;
    s.links.heal();
    for (const n of s.nodes) {
      n.rate = 1;
      n.resume();
      if (!n.up) s.restart(n, true);
    }
    s.note('heal all');
  }
}

/**
 * One step of an operator's membership cycle, from the configuration the leader has applied:
 * all voters → demote a minority (as many as the corruption budget allows) through a joint
 * configuration → (leave it) → promote the learners back through another → (leave it). A joint
 * configuration to be left explicitly is left by a later step, or by the leave scheduled with it.
 */
function changeMembership(s: NemesisSite, leader: SimNode<unknown>): void {
  const m = s.membership(leader);
  if (m === null) return;
  if (m.outgoingVoters.length > 0) {
    if (m.autoLeave === false) leaveJoint(s, 1);
    return; // the leader is leaving it
  }
  let change: AdminChange;
  if (m.learners.length > 0) {
    // A learner whose process has not started (a spare added as one, its join answer not taken
    // yet) promoted is a voter down until it starts: only while the fault budget has room for it
    // (as for a spare added as a voter); else it stays a learner (replaceMember promotes it once it runs).
    const promoted = m.learners.filter((l) => s.nodes.some((n) => n.id === l) || s.mayAddVoterNotStarted(l));
    if (promoted.length === 0) return;
    change = { kind: 'joint', voters: [...m.voters, ...promoted].sort(), learners: m.learners.filter((l) => !promoted.includes(l)), autoLeave: !s.rng.chance(EXPLICIT_LEAVE_SHARE) };
  } else {
    const most = Math.min(Math.floor((m.voters.length - 1) / 2), s.demotable(m.voters.length));
    if (most < 1) return;
    const demoted = new Set(s.rng.shuffle([...m.voters]).slice(0, s.rng.int(1, most)));
    change = { kind: 'joint', voters: m.voters.filter((v) => !demoted.has(v)), learners: [...demoted].sort(), autoLeave: !s.rng.chance(EXPLICIT_LEAVE_SHARE) };
  }
  const what = `joint voters=(${change.voters.join(',')}) learners=(${change.learners.join(',')})${change.autoLeave ? '' : ' autoLeave=false'}`;
  s.note(`nemesis admin ${leader.key}: ${what}`);
  s.changeMembership(leader, change, (err) => s.note(`admin ${what} at ${leader.key}: ${err === null ? 'applied' : err.message}`));
  const demoted = change.learners.filter((l) => m.voters.includes(l));
  if (demoted.length > 0 && s.faults.has('partition') && s.rng.chance(CUT_AFTER_DEMOTION_SHARE)) {
    s.after(s.rng.int(0, CUT_AFTER_DEMOTION_MAX_DELAY_MS), () => cutAfterDemotion(s, leader, m.voters, demoted));
  }
  if (!change.autoLeave) s.after(s.rng.int(EXPLICIT_LEAVE_AFTER_MS.min, EXPLICIT_LEAVE_AFTER_MS.max), () => leaveJoint(s, EXPLICIT_LEAVE_ATTEMPTS));
}

/** See CUT_AFTER_DEMOTION_SHARE: the demoted voters and a few more, a majority of C_old, on one side; the leader on the other. */
function cutAfterDemotion(s: NemesisSite, leader: SimNode<unknown>, voters: readonly NodeId[], demoted: readonly NodeId[]): void {
  const others = s.rng.shuffle(voters.filter((v) => v !== leader.id && !demoted.includes(v)));
  const side = new Set([...demoted, ...others.slice(0, Math.floor(voters.length / 2) + 1 - demoted.length)]);
  const keys = s.nodes.map((n) => n.key);
  const b = s.nodes.filter((n) => side.has(n.id)).map((n) => n.key);
  const token = s.links.cutBoth(keys.filter((k) => !b.includes(k)), b);
  s.note(`nemesis partition after demotion ${b.join(',')} | ${keys.filter((k) => !b.includes(k)).join(',')}`);
  s.after(s.rng.int(300, 2500), () => heal(s, 'cut', token));
}

/**
 * The operator's explicit leave-joint, at whoever leads, tried again while the joint change is
 * still being applied (not joint yet) or the proposal was lost; done once it was seen joint and
 * then left.
 */
function leaveJoint(s: NemesisSite, attempts: number, seenJoint = false): void {
  const leader = s.leader();
  const m = leader === null ? null : s.membership(leader);
  const joint = m !== null && m.outgoingVoters.length > 0;
  if (seenJoint && m !== null && !joint) return;
  if (leader !== null && joint) {
    s.note(`nemesis admin ${leader.key}: leave-joint`);
    s.changeMembership(leader, { kind: 'leave-joint' }, (err) => s.note(`admin leave-joint at ${leader.key}: ${err === null ? 'applied' : err.message}`));
  }
  if (attempts > 1) s.after(s.rng.int(EXPLICIT_LEAVE_AFTER_MS.min, EXPLICIT_LEAVE_AFTER_MS.max), () => leaveJoint(s, attempts - 1, seenJoint || joint));
}

/**
 * Share of runs (of protocols with a membership ability, with admin faults) that replace members:
 * a spare joins from a join answer, is promoted, and an old voter is removed, stays up a while as
 * a removed member, then is stopped for good. Drawn from a stream of its own (see
 * ReplacementSite): the other runs are unchanged.
 */
export const REPLACE_RUN_SHARE = 0.35;
/**
 * Share of replacing runs that are hurried: every spare replaces a member, each step at once after
 * the one before (no linger), so that the whole replacement may fall between two snapshots.
 */
export const HURRIED_REPLACE_SHARE = 0.5;
/** Spare processes a replacing run has (the most members it replaces): a majority of five. */
export const SPARE_MEMBERS = 3;
/** The first replacement starts this far into the fault window. */
export const REPLACE_FIRST_AT_MS = { min: 200, max: 3_000 } as const;
/** Share of spares added as voters at once, fault budget permitting (see NemesisSite.mayAddVoterNotStarted; the rest join as learners and are promoted). */
export const ADD_AS_VOTER_SHARE = 0.3;
/** A learner is promoted, and an old voter then removed, this long after the step before. */
export const PROMOTE_AFTER_MS = { min: 0, max: 600 } as const;
export const REMOVE_AFTER_MS = { min: 0, max: 400 } as const;
/** A removed member stays up this long (it must do no harm), then stops for good. */
export const REMOVED_LINGER_MS = { min: 0, max: 1_500 } as const;
/**
 * Share of joins that take the answer of a member drawn among those up whose configuration lists
 * the spare (a joining server asks whichever member its --initial-cluster names first), not the
 * leader's: among them a member that joined itself and has not applied up to its own since.
 */
export const JOIN_FROM_ANY_MEMBER_SHARE = 0.5;
/**
 * Share of replacements that remove the old voter first and then add the spare (an operator
 * replacing a member whose machine is gone, as the chaos harness's member nemesis does), and of
 * those, the share that remove the leader (a spare may then be elected). Drawn from the joiners'
 * stream.
 */
export const REMOVE_FIRST_SHARE = 0.5;
export const REMOVE_LEADER_SHARE = 0.5;
/** A spare added but not started yet (no join answer to be had yet) asks again this often. */
export const JOIN_RETRY_MS = 100;
/** A removed member stops for good once the voters know its removal committed: checked this often. */
export const RETIRE_POLL_MS = 50;
/**
 * After the nemesis gave up on a removal, how often it looks whether the removal committed after
 * all, and how long the member then lingers: a server without a leader asks whether it was
 * removed every 2 s and stops 1 s later (REMOVED_CHECK_INTERVAL_MS and REMOVED_STOP_DELAY_MS of
 * the server's membership runtime; the simulator does not import the server).
 */
export const REMOVAL_WATCH_MS = 2_000;
export const REMOVED_STOP_MS = 1_000;
/** A step no leader took (none, joint, refused, lost) is tried again this often, at most this many times. */
export const REPLACE_RETRY_MS = { min: 50, max: 300 } as const;
export const REPLACE_STEP_ATTEMPTS = 12;
/** A step whose answer never came (its leader died with it) counts as failed after this long. */
export const REPLACE_STEP_TIMEOUT_MS = 3_000;
/**
 * Share of replacing runs (with power-loss faults) in which every member loses power soon after
 * the last removed member stopped: the restart before any snapshot that needs the configuration
 * at each member's durable commit point.
 */
export const RESTART_ALL_AFTER_REPLACE_SHARE = 0.5;
export const RESTART_ALL_AFTER_MS = { min: 0, max: 200 } as const;

/**
 * One replacement, then the next `count - 1`. Mostly an add first: add a spare (as a learner, or
 * as a voter), start it from a join answer, promote it, then remove an old voter (not the leader
 * if it can be helped), which lingers up and is then retired. In REMOVE_FIRST_SHARE of them the
 * operator removes first, as for a member whose machine is gone (and as the chaos harness's
 * member nemesis does): an old voter, the leader in REMOVE_LEADER_SHARE of those, then the spare
 * is added. The configuration entries before a spare's add then lack it, and a spare that leads
 * later (elected after the leader's removal) answers joiners sent the log from slot 1 through
 * them.
 */
function replaceMember(s: NemesisSite, r: ReplacementSite, count: number, hurried: boolean): void {
  if (s.healed || count < 1) return;
  const wait = (range: { readonly min: number; readonly max: number }): number => (hurried ? range.min : r.rng.int(range.min, range.max));
  const next = (): void => {
    if (count > 1) replaceMember(s, r, count - 1, hurried);
  };
  if (r.joinerRng.chance(REMOVE_FIRST_SHARE)) {
    const takeLeader = r.joinerRng.chance(REMOVE_LEADER_SHARE);
    removeOldVoter(s, r, null, takeLeader, count === 1, wait, () => s.after(wait(REMOVE_AFTER_MS), () => addSpare(s, r, wait, () => next())));
    return;
  }
  addSpare(s, r, wait, (id) => removeOldVoter(s, r, id, false, count === 1, wait, next));
}

/**
 * Add a spare (as a learner, or as a voter), start it from a join answer once one lists it,
 * promote it (a learner), then `joined` a while later.
 */
function addSpare(s: NemesisSite, r: ReplacementSite, wait: (range: { readonly min: number; readonly max: number }) => number, joined: (id: NodeId) => void): void {
  if (s.healed) return;
  const id = r.spare();
  if (id === null) return;
  let asVoter = r.rng.chance(ADD_AS_VOTER_SHARE);
  adminStep(s, r, `${asVoter ? 'add-voter' : 'add-learner'} ${id}`, (m) => {
    if (m.voters.includes(id) || (!asVoter && m.learners.includes(id))) return 'done';
    // Added as a voter, the spare is a voter down until it starts (which takes an answer listing
    // it, so a quorum that has it): only while the fault budget has room for that; else as a
    // learner, promoted once it runs.
    if (asVoter && !s.mayAddVoterNotStarted(id)) {
      asVoter = false;
      s.note(`nemesis replace: ${id} joins as a learner (no fault budget left for a voter not started)`);
    }
    return { kind: asVoter ? 'add-voter' : 'add-learner', node: id };
  }, () => joinWhenAnswered(s, r, id, () => {
    if (asVoter) s.after(wait(REMOVE_AFTER_MS), () => joined(id));
    else {
      s.after(wait(PROMOTE_AFTER_MS), () => adminStep(s, r, `promote ${id}`, (m) => {
        if (m.voters.includes(id)) return 'done';
        return m.learners.includes(id) ? { kind: 'add-voter', node: id } : null;
      }, () => s.after(wait(REMOVE_AFTER_MS), () => joined(id))));
    }
  }), () => joinWhenAnswered(s, r, id, () => {}));
}

/**
 * Remove an old voter (not `spare`; one whose disk failed first; else the leader when
 * `takeLeader`, else any but the leader if it can be helped); it lingers up and is then retired.
 * `removed` once the removal applied.
 */
function removeOldVoter(
  s: NemesisSite, r: ReplacementSite, spare: NodeId | null, takeLeader: boolean, last: boolean,
  wait: (range: { readonly min: number; readonly max: number }) => number, removed: () => void,
): void {
  let victim: NodeId | null = null;
  adminStep(s, r, 'remove an old voter', (m, l) => {
    if (victim === null) {
      const old = m.voters.filter((v) => r.original(v) && v !== spare);
      // An operator replaces a member whose disk failed first; else any but the leader (or the leader).
      const broken = old.filter((v) => (r.node(v)?.refused ?? null) !== null);
      const others = old.filter((v) => v !== l.id);
      if (old.length === 0) return null;
      victim = broken.length > 0 ? r.rng.pick(broken) : takeLeader && old.includes(l.id) ? l.id : r.rng.pick(others.length > 0 ? others : old);
    }
    return m.voters.includes(victim) || m.learners.includes(victim) ? { kind: 'remove', node: victim } : 'done';
  }, (_, index) => {
    const n = victim === null ? null : r.node(victim);
    if (n === null) return;
    removedThenRetired(s, r, n, index, wait(REMOVED_LINGER_MS), last);
    removed();
  }, () => {
    // The removal may still commit after the nemesis gave up on it (its entry was proposed and
    // the answer lost): a server stops itself once it learns it was removed
    // (membership-runtime.ts), so a removed member must not linger up here either.
    const watch = (): void => {
      const n = victim === null ? null : r.node(victim);
      if (n === null || n.retired) return;
      const leader = s.leader();
      const m = leader === null ? null : s.membership(leader);
      if (leader === null || m === null || m.voters.includes(n.id) || m.learners.includes(n.id) || m.outgoingVoters.includes(n.id)) {
        return void s.after(REMOVAL_WATCH_MS, watch);
      }
      s.note(`nemesis replace: ${n.key} was removed after all`);
      removedThenRetired(s, r, n, leader.runningDriver?.status().appliedIndex ?? 0, REMOVED_STOP_MS, last);
    };
    if (victim !== null) s.after(REMOVAL_WATCH_MS, watch);
  });
}

/**
 * Start spare `id` from a join answer that lists it, once one can be had; then `joined`. Asked
 * again until then, past the heal too: an add whose answer was lost (or that was given up on) may
 * still be chosen, and a member added must come up, as an operator starts the member it added
 * (else it is one more voter down than the faults allow).
 */
function joinWhenAnswered(s: NemesisSite, r: ReplacementSite, id: NodeId, joined: () => void): void {
  const told = joinAnswerListing(s, r, id);
  if (told !== null) {
    r.join(id, told);
    return joined();
  }
  s.after(JOIN_RETRY_MS, () => joinWhenAnswered(s, r, id, joined));
}

/**
 * A join answer whose configuration lists `id`: the leader's, else that of any member up (a
 * joining server asks each member its --initial-cluster names, and every member that applied the
 * add answers, leading or not), or in some joins any such member's (JOIN_FROM_ANY_MEMBER_SHARE);
 * null while none does. Asking the leader only, an add-voter that
 * committed as the leader lost its quorum (the new voter counts towards it and is down) left no
 * leader to ask, and the added voter never started: one more voter down than the faults allow.
 */
function joinAnswerListing(s: NemesisSite, r: ReplacementSite, id: NodeId): Membership | null {
  const answers: Membership[] = [];
  const leader = s.leader();
  for (const n of leader === null ? s.nodes : [leader, ...s.nodes.filter((x) => x !== leader)]) {
    if (n.byzantine) continue;
    const told = r.joinAnswer(n);
    if (told !== null && (told.voters.includes(id) || told.outgoingVoters.includes(id) || told.learners.includes(id))) answers.push(told);
  }
  if (answers.length === 0) return null;
  return r.joinerRng.chance(JOIN_FROM_ANY_MEMBER_SHARE) ? r.joinerRng.pick(answers) : answers[0]!;
}

/**
 * One membership change of a replacement at whoever leads: `make` says what to propose from the
 * leader's applied configuration ('done': it shows the change already; null: not now). Tried
 * again while there is no leader, the configuration is joint, or the change failed.
 */
function adminStep(
  s: NemesisSite, r: ReplacementSite, label: string,
  make: (m: Membership, leader: SimNode<unknown>) => AdminChange | 'done' | null,
  then: (leader: SimNode<unknown>, appliedIndex: number) => void, gaveUp: () => void = () => {}, attempts = REPLACE_STEP_ATTEMPTS,
): void {
  if (s.healed) return gaveUp();
  const retry = (): void => {
    if (attempts > 1) s.after(r.rng.int(REPLACE_RETRY_MS.min, REPLACE_RETRY_MS.max), () => adminStep(s, r, label, make, then, gaveUp, attempts - 1));
    else {
      s.note(`nemesis replace: gave up on ${label}`);
      gaveUp();
    }
  };
  const leader = s.leader();
  const m = leader === null ? null : s.membership(leader);
  if (leader === null || m === null || m.outgoingVoters.length > 0) return retry();
  const change = make(m, leader);
  if (change === null) return retry();
  if (change === 'done') return then(leader, leader.runningDriver?.status().appliedIndex ?? 0);
  const what = change.kind === 'add-learner' || change.kind === 'add-voter' || change.kind === 'remove' ? `${change.kind} ${change.node}` : change.kind;
  s.note(`nemesis admin ${leader.key}: ${what}`);
  let settled = false;
  const timer = (): void => {
    if (settled) return;
    settled = true;
    s.note(`admin ${what} at ${leader.key}: no answer`);
    retry();
  };
  s.after(REPLACE_STEP_TIMEOUT_MS, timer);
  s.changeMembership(leader, change, (err) => {
    if (settled) return;
    settled = true;
    s.note(`admin ${what} at ${leader.key}: ${err === null ? 'applied' : err.message}`);
    if (err === null) then(leader, leader.runningDriver?.status().appliedIndex ?? 0);
    else retry();
  });
}

/**
 * `n` is no longer a member: clients move on; it lingers up `lingerMs` (it must do no harm), then
 * stops for good, but only once the voters know the removal committed: before, one that restarts
 * below it needs the old configuration's quorum, the removed member among it (as an operator's
 * member remove is followed by a stop once the cluster has moved on).
 */
function removedThenRetired(s: NemesisSite, r: ReplacementSite, n: SimNode<unknown>, index: number, lingerMs: number, last: boolean): void {
  r.removed(n);
  const retire = (): void => {
    if (!r.committedAtVoters(index)) return void s.after(RETIRE_POLL_MS, retire);
    r.retire(n);
    if (last) restartAllAfterReplace(s, r);
  };
  s.after(lingerMs, retire);
}

/** See RESTART_ALL_AFTER_REPLACE_SHARE: every honest member loses power at once and comes back. */
function restartAllAfterReplace(s: NemesisSite, r: ReplacementSite): void {
  if (!s.faults.has('power-loss') || !r.rng.chance(RESTART_ALL_AFTER_REPLACE_SHARE)) return;
  s.after(r.rng.int(RESTART_ALL_AFTER_MS.min, RESTART_ALL_AFTER_MS.max), () => {
    if (s.healed) return;
    for (const n of s.nodes.filter((x) => x.up && !x.byzantine)) {
      const what = n.stop(true);
      s.note(`nemesis power-loss ${n.key} after replacement: ${what}`);
      s.after(r.rng.int(1, 300), () => s.restart(n, false));
    }
  });
}

/** Crash `n` now, restart it soon, and crash it again `times - 1` more times. */
function crashLoop(s: NemesisSite, n: SimNode<unknown>, times: number): void {
  if (!n.up || s.healed) return;
  n.stop(false);
  s.note(`nemesis crash ${n.key} (crash loop, ${times - 1} to go)`);
  s.after(s.rng.int(1, 30), () => {
    s.restart(n, true);
    if (times > 1) s.after(s.rng.int(5, 120), () => crashLoop(s, n, times - 1));
  });
}

function weightedPick(rng: Random, kinds: readonly FaultKind[]): FaultKind {
  const total = kinds.reduce((n, k) => n + FAULTS[k].weight, 0);
  let roll = rng.float() * total;
  for (const k of kinds) {
    roll -= FAULTS[k].weight;
    if (roll < 0) return k;
  }
  return kinds[kinds.length - 1]!;
}

function heal(s: NemesisSite, kind: LinkFaultKind, token: number): void {
  if (s.links.healFault(kind, token)) s.note(`nemesis heal ${kind}`);
}

function pickHonestUp(s: NemesisSite): SimNode<unknown> | null {
  const up = s.nodes.filter((n) => n.up && !n.byzantine);
  return up.length === 0 ? null : s.rng.pick(up);
}

function partition(s: NemesisSite, lastingMs: number): void {
  const keys = s.nodes.map((n) => n.key);
  const shuffled = s.rng.shuffle([...keys]);
  const style = s.rng.pick(['majority-minority', 'isolate', 'isolate-leader', 'bridge', 'one-way', 'deaf'] as const);
  let token: number;
  /** The two sides of a two-sided cut (a rejecting partition resets the connections between them). */
  const two: { sides: [readonly string[], readonly string[]] | null } = { sides: null };
  const cutBoth = (a: readonly string[], b: readonly string[]): number => {
    two.sides = [a, b];
    return s.links.cutBoth(a, b);
  };
  switch (style) {
    case 'majority-minority': {
      const k = s.rng.int(1, Math.floor(keys.length / 2));
      token = cutBoth(shuffled.slice(0, k), shuffled.slice(k));
      break;
    }
    case 'isolate':
      token = cutBoth(shuffled.slice(0, 1), shuffled.slice(1));
      break;
    case 'isolate-leader': {
      // As Jepsen's nemeses do: cut off whoever leads now; clients that know it keep using it.
      const leader = s.leader()?.key ?? shuffled[0]!;
      token = cutBoth([leader], keys.filter((k) => k !== leader));
      break;
    }
    case 'bridge': {
      // Two halves that cannot talk, and one member that talks to both.
      const k = Math.floor((keys.length - 1) / 2);
      token = cutBoth(shuffled.slice(1, 1 + k), shuffled.slice(1 + k));
      break;
    }
    case 'one-way':
      // An asymmetric link failure: one member hears everyone, nobody hears it. Long enough, it
      // also fills a leader's in-flight window with appends nobody acknowledges.
      token = s.links.cutOneWay(shuffled[0]!, shuffled.slice(1));
      break;
    case 'deaf':
      // The mirror: up to a third of the members hear no other member, while everyone (clients
      // too) hears them: they fall behind and keep answering from an old state.
      token = s.links.cutInbound(shuffled.slice(0, s.rng.int(1, Math.max(1, Math.floor(keys.length / 3)))), keys);
      break;
  }
  const sides = two.sides;
  const rejecting = sides !== null && s.rejectingPartition();
  s.note(`nemesis partition ${style}${rejecting ? ' rejecting' : ''} ${shuffled.join(',')}`);
  if (rejecting) s.resetConnections(sides[0], sides[1]);
  s.after(lastingMs, () => heal(s, 'cut', token));
}

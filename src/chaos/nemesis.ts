/**
 * The nemesis: on a schedule, a fault for a few seconds, then everything healed, then quiet.
 * Faults: partitions (majority/minority halves, an isolated leader, a bridge, a ring, one-way),
 * SIGKILL of a minority with restart on heal, SIGSTOP/SIGCONT pauses, clock skew, jumps and
 * strobes through libfaketime (skew.ts), and membership changes through the Cluster API
 * (membership.ts: members removed, then added back as learners and promoted on heal). Every
 * fault is logged with its interval, for the report's timeline.
 */
import * as grpc from '@grpc/grpc-js';
import type { Random } from '../core/prng.js';
import { etcdService } from '../server/proto.js';
import type { Cluster } from './cluster.js';
import { hears, type Cut, type Lab } from './lab.js';
import { chooseRemovals, ClusterAdmin } from './membership.js';
import { clampBackward, describeSkew, drawSkew, initialOffsets, writeOffset, type SkewPlan } from './skew.js';

export const NEMESIS_KINDS = ['partition', 'kill', 'pause', 'skew', 'member'] as const;
export type NemesisKind = (typeof NEMESIS_KINDS)[number];
/** What `--nemesis` runs when not told: the faults every system takes (skew is quorate's only; member changes are slow). */
export const DEFAULT_NEMESIS: readonly NemesisKind[] = ['partition', 'kill', 'pause'];
export const PARTITION_KINDS = ['halves', 'leader', 'bridge', 'ring', 'one-way'] as const;
export type PartitionKind = (typeof PARTITION_KINDS)[number];

/** By default a fault lasts FAULT_MS plus up to as much again; the quiet between faults QUIET_MS plus up to as much again. */
export const FAULT_MS = 3_000;
export const QUIET_MS = 2_000;
/** Asking who leads: each member's Status, with this deadline. */
const STATUS_TIMEOUT_MS = 500;

export interface NemesisEvent {
  readonly kind: NemesisKind;
  readonly what: string;
  readonly startMs: number;
  endMs: number;
  /** What the heal did beyond undoing the fault (a removed member added back: its new id, promoted). */
  healed?: string;
}

export interface NemesisOptions {
  readonly kinds: readonly NemesisKind[];
  readonly partitions: readonly PartitionKind[];
  readonly random: Random;
  /** The run's clock (ms since its start), the one operations are timed on. */
  readonly now: () => number;
  readonly log: (line: string) => void;
  /** A fault lasts this plus up to as much again (FAULT_MS unless told). */
  readonly faultMs?: number;
  /** The quiet between faults: this plus up to as much again (QUIET_MS unless told). */
  readonly quietMs?: number;
  /** Stop after this many faults (healed), or never (null, the default): the run ends then. */
  readonly maxFaults?: number | null;
}

export class Nemesis {
  readonly events: NemesisEvent[] = [];
  private stopping = false;
  private wake: (() => void) | null = null;
  private readonly killed = new Set<string>();
  private readonly paused = new Set<string>();
  /** Members whose clock is skewed now. */
  private readonly skewed = new Set<string>();
  /** A strobe's timer, while one runs. */
  private strobe: NodeJS.Timeout | null = null;
  /** Members removed from the cluster (stopped, their data wiped), to be added back on heal. */
  private readonly removed: string[] = [];
  /** The ids of every member removed so far: a lagging member may list them still. */
  private readonly formerIds: string[] = [];
  private readonly admin: ClusterAdmin;
  /** What the heal under way did beyond undoing (for the fault's event). */
  private healNotes: string[] = [];
  /** Kill -9 / restart cycles: members killed and restarted (each member's kill and its restart count one). */
  restarts = 0;
  /** Faults injected and healed. */
  faults = 0;

  constructor(private readonly lab: Lab, private readonly cluster: Cluster, private readonly o: NemesisOptions) {
    this.admin = new ClusterAdmin(() => this.serving().map((n) => this.cluster.endpoint(n)));
  }

  /** Members up, not paused and not removed: the ones to ask. */
  private serving(): string[] {
    return this.cluster.names.filter((n) => this.cluster.isUp(n) && !this.cluster.isPaused(n) && !this.removed.includes(n));
  }

  /** Faults until `stop()`; resolves once everything is healed. */
  async run(): Promise<void> {
    const faultMs = this.o.faultMs ?? FAULT_MS;
    const quietMs = this.o.quietMs ?? QUIET_MS;
    while (!this.stopping && (this.o.maxFaults ?? null) !== this.faults) {
      await this.sleep(quietMs * (1 + this.o.random.float()));
      if (this.stopping || this.o.kinds.length === 0) break;
      const kind = this.o.random.pick(this.o.kinds);
      // The fault starts when its injection does: a kill, a removal takes a while, and operations
      // during it are under the fault already (the timeline's shading starts here).
      const startMs = this.o.now();
      const event: NemesisEvent = { kind, what: await this.inject(kind), startMs, endMs: Infinity };
      this.events.push(event);
      this.o.log(`nemesis: ${event.what}`);
      await this.sleep(faultMs * (1 + this.o.random.float()));
      this.healNotes = [];
      await this.heal();
      this.faults++;
      event.endMs = this.o.now();
      if (this.healNotes.length > 0) event.healed = this.healNotes.join('; ');
      this.o.log(`nemesis: healed (${event.what})`);
    }
    await this.heal();
  }

  stop(): void {
    this.stopping = true;
    this.wake?.();
  }

  /**
   * Undo every fault: the network whole, paused members resumed, clocks true, killed ones
   * restarted, removed ones added back (as learners, promoted once caught up).
   */
  async heal(): Promise<void> {
    // The strobe first: a heal that fails further on (iptables refusing to flush) must not leave
    // its interval running, flipping a clock and holding the harness's event loop open for ever.
    if (this.strobe !== null) clearInterval(this.strobe);
    this.strobe = null;
    await this.lab.heal();
    for (const name of this.paused) this.cluster.resume(name);
    this.paused.clear();
    for (const name of this.skewed) writeOffset(this.cluster.clockFile(name), 0);
    this.skewed.clear();
    for (const name of this.killed) {
      this.cluster.start(name);
      this.restarts++;
    }
    this.killed.clear();
    while (this.removed.length > 0) {
      const name = this.removed[0]!;
      await this.addBack(name);
      this.removed.shift();
    }
  }

  /** Add a removed member back: MemberAdd (a learner), started to join, MemberPromote once caught up. */
  private async addBack(name: string): Promise<void> {
    const id = await this.admin.add(this.cluster.peerUrl(name), true, this.formerIds);
    const members = (await this.admin.list()).filter((m) => m.peerUrls.length > 0);
    // Itself too: the member answering may not have applied the add yet.
    const names = this.cluster.names.filter((n) => n === name || members.some((m) => m.peerUrls.includes(this.cluster.peerUrl(n))));
    this.cluster.start(name, names);
    this.o.log(`nemesis: ${name} added back as learner ${id}`);
    await this.admin.promote(id, () => this.cluster.isUp(name));
    this.o.log(`nemesis: ${name} (${id}) promoted`);
    this.healNotes.push(`${name} added back as learner ${id}, promoted`);
  }

  private async inject(kind: NemesisKind): Promise<string> {
    const names = this.cluster.names;
    const minority = Math.floor((names.length - 1) / 2);
    switch (kind) {
      case 'partition': {
        const partition = this.o.random.pick(this.o.partitions);
        const { cut, what } = await this.cut(partition, names);
        const rules = await this.lab.partition(cut);
        // With one or two members some partitions have nothing to cut: said, not passed off as a fault.
        return `partition ${partition}: ${what}${rules.length === 0 ? ` (cuts nothing among ${names.length} members)` : ''}`;
      }
      case 'kill': {
        const victims = this.pick(names, this.o.random.int(1, Math.max(1, minority)));
        // A member that exited on its own (the report names it) is not killed, nor counted a kill/restart cycle.
        const down = victims.filter((v) => !this.cluster.isUp(v));
        for (const v of victims) {
          if (down.includes(v)) continue;
          await this.cluster.kill(v);
          this.killed.add(v);
        }
        return `kill -9 ${victims.map((v) => `${v}${down.includes(v) ? ' (not running: left alone)' : ''}`).join(', ')}`;
      }
      case 'pause': {
        const leader = this.o.random.chance(0.5) ? await this.leader() : null;
        const victim = leader ?? this.pick(names, 1)[0]!;
        this.cluster.pause(victim);
        this.paused.add(victim);
        return `pause ${victim}${leader === null ? '' : ' (the leader)'}`;
      }
      case 'skew':
        return this.skew(names);
      case 'member': {
        const leader = await this.leader();
        // Among the members running: a member that exited on its own is one fewer to make a
        // quorum with, and removing as many as if it ran stalls the second removal (no majority left).
        const victims = chooseRemovals(this.o.random, names.filter((n) => this.cluster.isUp(n)), names.length, leader);
        for (const v of victims) {
          // Stopped first: a quorate member that applies its own removal stops on its own.
          await this.cluster.kill(v);
          this.removed.push(v);
          const id = await this.admin.remove(this.cluster.peerUrl(v));
          if (id !== null) this.formerIds.push(id);
          this.cluster.wipe(v);
        }
        if (victims.length === 0) {
          const running = names.filter((n) => this.cluster.isUp(n)).length;
          return `member: none removed (${names.length} members${running < names.length ? `, ${running} running` : ''}: none can go)`;
        }
        return `member remove ${victims.map((v) => `${v}${v === leader ? ' (the leader)' : ''}`).join(', ')}: stopped, removed, data wiped`;
      }
    }
  }

  private async skew(names: readonly string[]): Promise<string> {
    const leader = this.o.random.chance(0.5) ? await this.leader() : null;
    // Never back past a member's start: node aborts there (a real monotonic clock never goes back at all).
    const plan: SkewPlan | null = clampBackward(drawSkew(this.o.random, names, leader), (n) => this.cluster.uptimeS(n));
    if (plan === null) return 'clock skew: none (every member drawn started too recently to be set back)';
    for (const [name, seconds] of initialOffsets(plan)) {
      writeOffset(this.cluster.clockFile(name), seconds);
      this.skewed.add(name);
    }
    if (plan.kind === 'strobe') {
      let on = true;
      const file = this.cluster.clockFile(plan.member);
      this.strobe = setInterval(() => {
        on = !on;
        writeOffset(file, on ? plan.seconds : 0);
      }, plan.periodMs);
    }
    return `${describeSkew(plan)}${leader !== null && plan.kind !== 'offsets' ? ' (the leader)' : ''}`;
  }

  private async cut(kind: PartitionKind, names: readonly string[]): Promise<{ cut: Cut; what: string }> {
    const shuffled = this.pick(names, names.length);
    const groupsText = (groups: readonly (readonly string[])[]): string => groups.map((g) => g.join(' ')).join(' | ');
    switch (kind) {
      case 'halves': {
        const small = shuffled.slice(0, Math.floor(names.length / 2));
        const groups = [small, shuffled.slice(small.length)];
        return { cut: { kind: 'groups', groups }, what: groupsText(groups) };
      }
      case 'leader': {
        const known = await this.leader();
        const leader = known ?? shuffled[0]!;
        const groups = [[leader], names.filter((n) => n !== leader)];
        return { cut: { kind: 'groups', groups }, what: `${groupsText(groups)} (${known === null ? 'no leader known: a member at random' : 'leader'} isolated)` };
      }
      case 'bridge': {
        // Two halves that cannot reach each other, and one member that reaches both.
        const [bridge, ...rest] = shuffled;
        const half = Math.ceil(rest.length / 2);
        const groups = [[bridge!, ...rest.slice(0, half)], [bridge!, ...rest.slice(half)]];
        return { cut: { kind: 'groups', groups }, what: `${groupsText(groups)} (${bridge} bridges)` };
      }
      case 'ring': {
        // Jepsen's majorities ring: each member hears a majority, no two the same one.
        const cut: Cut = { kind: 'ring', order: shuffled };
        const heard = hears(this.lab.rules(cut), shuffled);
        return { cut, what: `majorities ring: ${shuffled.map((n) => `${n} hears ${heard.get(n)!.join(' ')}`).join('; ')}` };
      }
      case 'one-way': {
        const known = await this.leader();
        const from = known ?? shuffled[0]!;
        const to = names.filter((n) => n !== from);
        return { cut: { kind: 'one-way', from, to }, what: `no one hears ${from}${known === null ? '' : ', the leader'}; it hears everyone` };
      }
    }
  }

  /** `count` distinct members at random. */
  private pick(names: readonly string[], count: number): string[] {
    return this.o.random.shuffle([...names]).slice(0, count);
  }

  /** The member most members name as leader now, or null. */
  async leader(): Promise<string | null> {
    const Maintenance = etcdService('Maintenance', 'string');
    const answers = await Promise.all(this.cluster.names.filter((n) => this.cluster.isUp(n) && !this.cluster.isPaused(n)).map((name) => new Promise<{ name: string; self: string; leader: string } | null>((done) => {
      const client = new Maintenance(this.cluster.endpoint(name), grpc.credentials.createInsecure());
      client['Status']!({}, { deadline: Date.now() + STATUS_TIMEOUT_MS }, (err: Error | null, res: { leader: string; header: { member_id: string } }) => {
        client.close();
        done(err === null ? { name, self: res.header.member_id, leader: res.leader } : null);
      });
    })));
    const known = answers.filter((a) => a !== null);
    const votes = new Map<string, number>();
    for (const a of known) if (a.leader !== '0') votes.set(a.leader, (votes.get(a.leader) ?? 0) + 1);
    const top = [...votes].sort((x, y) => y[1] - x[1])[0];
    if (top === undefined) return null;
    return known.find((a) => a.self === top[0])?.name ?? null;
  }

  private sleep(ms: number): Promise<void> {
    // stop() while a fault was being injected (no sleep to wake then): the fault is healed at once.
    if (this.stopping) return Promise.resolve();
    return new Promise((done) => {
      const timer = setTimeout(() => {
        this.wake = null;
        done();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        done();
      };
    });
  }
}

/**
 * The chaos harness's network: each member in a network namespace of its own, joined by a veth
 * pair to one bridge. The harness (its clients) reaches the members through the bridge's address;
 * partitions are iptables rules inside the members' namespaces, so they cut member from member
 * and never the harness from a member (as Jepsen cuts nodes, not its control node).
 *
 * Every name carries the harness's pid, and the bridge's alias its pid and start time: a lab left
 * behind by a harness that died (SIGKILL, power) is found and removed by the next one, its
 * members' processes killed first (`removeStaleLabs`). Needs root, iproute2 and iptables.
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Every namespace the harness makes starts so: `qchaos-<pid>-<member>`. */
const NAMESPACE_PREFIX = 'qchaos-';
/** Interface names are at most 15 bytes: `q<pid in base 36>b` and `q<pid in base 36>v<i>`. */
const MAX_INTERFACE_NAME = 15;
/** The members' subnet: 10.<A>.<B>.0/24 (A in 64..191), members at .1 up, the bridge at .254. */
const BRIDGE_HOST = 254;
/** The /24 subnets the lab draws from: 10.64.0.0 to 10.191.255.0. */
const SUBNETS = 128 * 256;
/** Subnets tried (from the one the pid names) before giving up: each overlapping a route the host has. */
const SUBNET_TRIES = 256;
/**
 * The bridge's alias: how `removeStaleLabs` knows a bridge is a lab's (and whose) when no
 * namespace is left to say so (a harness killed between making the bridge and the namespaces).
 */
const BRIDGE_ALIAS_PREFIX = 'quorate-chaos-lab ';

export interface LabMember {
  readonly name: string;
  readonly namespace: string;
  readonly ip: string;
}

/**
 * A partition: groups of member names that still reach each other (a member in no group reaches
 * no one); one member no other hears; or Jepsen's majorities ring over `order`, in which every
 * member hears a majority (itself included) and no two hear the same one.
 */
export type Cut =
  | { readonly kind: 'groups'; readonly groups: readonly (readonly string[])[] }
  | { readonly kind: 'one-way'; readonly from: string; readonly to: readonly string[] }
  | { readonly kind: 'ring'; readonly order: readonly string[] };

/** One iptables rule: `at` drops every packet that comes from `from`. */
export interface Drop {
  readonly at: string;
  readonly from: string;
}

/**
 * The rules a cut takes among `names`. Pure, so what each partition does is tested without root.
 *
 * The ring is Jepsen's `majorities-ring`: each window of m = ⌊n/2⌋+1 consecutive members of the
 * ring is the majority its middle member hears; the middle member drops everyone else. With 4 or
 * 5 members that is "each reaches its two neighbours"; with 3 it is one-way (a hears b, b hears c,
 * c hears a): two-way links to both neighbours would be no partition at all among three.
 */
export function dropRules(cut: Cut, names: readonly string[]): Drop[] {
  const rules: Drop[] = [];
  switch (cut.kind) {
    case 'one-way':
      // `from` cannot be heard: every other member drops what it sends.
      for (const to of cut.to) if (to !== cut.from) rules.push({ at: to, from: cut.from });
      return rules;
    case 'groups':
      // Two members reach each other when some group holds both (a bridge member is in two groups).
      for (const at of names) {
        for (const o of names) {
          if (o !== at && !cut.groups.some((g) => g.includes(at) && g.includes(o))) rules.push({ at, from: o });
        }
      }
      return rules;
    case 'ring': {
      const n = cut.order.length;
      const m = Math.floor(n / 2) + 1;
      for (let i = 0; i < n; i++) {
        const window = Array.from({ length: m }, (_, k) => cut.order[(i + k) % n]!);
        const at = window[Math.floor(m / 2)]!;
        for (const o of cut.order) if (!window.includes(o)) rules.push({ at, from: o });
      }
      return rules;
    }
  }
}

/** Which members each member hears under `rules` (itself included), for the nemesis's log. */
export function hears(rules: readonly Drop[], names: readonly string[]): Map<string, string[]> {
  return new Map(names.map((at) => [at, names.filter((o) => !rules.some((r) => r.at === at && r.from === o))]));
}

export class LabError extends Error {
  override readonly name: string = 'LabError';
}

/** The lab could not be made (a tool missing, a name taken, no free subnet): bad input for the CLI. */
export class LabSetupError extends LabError {
  override readonly name = 'LabSetupError';
}

/** An IPv4 prefix as [first address, last address] (numbers), or null for what is not one. */
export function prefixRange(cidr: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?$/.exec(cidr);
  if (m === null) return null;
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o) => o > 255)) return null;
  const length = m[5] === undefined ? 32 : Number(m[5]);
  if (length > 32) return null;
  const address = octets.reduce((a, o) => a * 256 + o, 0);
  const size = 2 ** (32 - length);
  const first = address - (address % size);
  return [first, first + size - 1];
}

/**
 * The lab's subnet: the first of 10.64.0.0/24 .. 10.191.255.0/24, starting at the one the pid
 * names, that overlaps none of `taken` (the host's routes and addresses, other labs' bridges
 * among them). A lab on a subnet the host already routes would take that traffic (a VPN's, a
 * container network's), and two labs on one subnet would send each harness's clients to whichever
 * bridge the kernel picks: the other harness's members. Null when none is free.
 */
export function chooseSubnet(pid: number, taken: readonly string[]): { a: number; b: number } | null {
  const ranges = taken.map(prefixRange).filter((r): r is [number, number] => r !== null && !(r[0] === 0 && r[1] === 2 ** 32 - 1));
  for (let k = 0; k < SUBNET_TRIES; k++) {
    const index = (pid + k * 7919) % SUBNETS;
    const a = 64 + (index % 128);
    const b = Math.floor(index / 128) % 256;
    const [first, last] = prefixRange(`10.${a}.${b}.0/24`)!;
    if (!ranges.some(([f, l]) => f <= last && first <= l)) return { a, b };
  }
  return null;
}

/** Every prefix the host routes or has an address in (all routing tables). */
function hostPrefixes(): string[] {
  const routes = JSON.parse(run(['ip', '-j', '-4', 'route', 'show', 'table', 'all']) || '[]') as { dst?: string }[];
  return routes.map((r) => r.dst ?? '').filter((d) => d !== '' && d !== 'default');
}

/** The tools the lab needs, and what is missing: a clear error before anything is made. */
export function labPrerequisites(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (network namespaces and iptables need it)');
  for (const tool of ['ip', 'iptables']) {
    try {
      execFileSync(tool, ['-V'], { stdio: 'ignore' });
    } catch {
      missing.push(`${tool} (Debian: apt-get install ${tool === 'ip' ? 'iproute2' : 'iptables'})`);
    }
  }
  return missing;
}

function run(argv: readonly string[]): string {
  try {
    return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new LabError(`${argv.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

/**
 * `run` without blocking: the nemesis's iptables calls must not hold up the clients' callbacks,
 * whose completion times (taken when the callback runs) would stretch by as long, and every
 * stretched operation makes the check more lenient.
 */
function runAsync(argv: readonly string[]): Promise<string> {
  return new Promise((done, fail) => {
    execFile(argv[0]!, argv.slice(1), { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err === null) done(stdout);
      else fail(new LabError(`${argv.join(' ')}: ${stderr.trim() || err.message}`));
    });
  });
}

function tryRun(argv: readonly string[]): void {
  try {
    execFileSync(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  } catch {
    // already gone
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * When a process started (clock ticks since boot, /proc/PID/stat's 22nd field), or null when there
 * is no such process: with its pid, who a lab's harness is, so a pid reused by another process
 * does not keep a dead harness's lab alive (pid_max is often 32768).
 */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** The bridge's alias: the harness's pid and start time. */
function bridgeAlias(pid: number): string {
  return `${BRIDGE_ALIAS_PREFIX}${pid} ${processStartTime(pid) ?? '?'}`;
}

/**
 * Kill (SIGKILL) every process inside a namespace, then delete it. A namespace whose name is
 * deleted lives on while a process is in it, and with it its end of the veth pair: the members of
 * a harness that died (they outlive it, reparented to init) would run on, unreachable, forever.
 */
function deleteNamespace(ns: string): void {
  let pids: number[] = [];
  try {
    pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(/\s+/).filter((p) => /^\d+$/.test(p)).map(Number);
  } catch {
    // no such namespace
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  tryRun(['ip', 'netns', 'delete', ns]);
}

/**
 * Remove what harnesses that are no longer running left: their members' processes, namespaces and
 * bridges (a bridge is known by its alias, so one left without namespaces is found too). Returns
 * how many labs.
 */
export function removeStaleLabs(): number {
  const bridges = JSON.parse(run(['ip', '-j', 'link', 'show', 'type', 'bridge']) || '[]') as { ifname: string; ifalias?: string }[];
  // The labs' bridges, by their harness's pid: [bridge, the harness's start time].
  const owners = new Map<number, [string, string]>();
  for (const b of bridges) {
    if (b.ifalias === undefined || !b.ifalias.startsWith(BRIDGE_ALIAS_PREFIX)) continue;
    const [pid, start] = b.ifalias.slice(BRIDGE_ALIAS_PREFIX.length).split(' ');
    if (pid !== undefined && /^\d+$/.test(pid)) owners.set(Number(pid), [b.ifname, start ?? '?']);
  }
  // A lab is stale when its harness is gone: its pid dead, or now another process's.
  const gone = (pid: number): boolean => {
    if (pid === process.pid) return false;
    const owner = owners.get(pid);
    return owner === undefined ? !processAlive(pid) : processStartTime(pid) !== owner[1];
  };
  const stale = new Set<number>([...owners.keys()].filter(gone));
  const namespaces = run(['ip', 'netns', 'list']).split('\n').map((line) => line.trim().split(' ')[0] ?? '');
  for (const ns of namespaces) {
    const m = /^qchaos-(\d+)-\S+/.exec(ns);
    if (m !== null && gone(Number(m[1]))) stale.add(Number(m[1]));
  }
  const links = JSON.parse(run(['ip', '-j', 'link', 'show']) || '[]') as { ifname: string }[];
  for (const pid of stale) {
    for (const ns of namespaces) if (ns.startsWith(`${NAMESPACE_PREFIX}${pid}-`)) deleteNamespace(ns);
    // The host ends of its veth pairs: a namespace outlives its name while its killed members'
    // TCP connections (orphans, retransmitting for minutes) hold it, and with it its links.
    const veth = new RegExp(`^${vethName(pid, '\\d+')}$`);
    for (const l of links) if (veth.test(l.ifname)) tryRun(['ip', 'link', 'delete', l.ifname]);
    const owner = owners.get(pid);
    if (owner !== undefined) tryRun(['ip', 'link', 'delete', owner[0]]);
    // A lab made before bridges carried the alias: its bridge by its name alone.
    else if (bridges.some((b) => b.ifname === bridgeName(pid) && b.ifalias === undefined)) tryRun(['ip', 'link', 'delete', bridgeName(pid)]);
  }
  return stale.size;
}

function bridgeName(pid: number): string {
  return `q${pid.toString(36)}b`;
}

/** The host end of member `i`'s veth pair (`i` may be a pattern, for finding a dead lab's). */
function vethName(pid: number, i: string): string {
  return `q${pid.toString(36)}v${i}`;
}

export class Lab {
  readonly members: readonly LabMember[];
  /** The bridge's address: where the members see the harness's connections come from. */
  readonly hostIp: string;
  private readonly bridge: string;
  private readonly veths: string[] = [];
  private destroyed = false;

  private constructor(names: readonly string[], subnet: { a: number; b: number }) {
    const pid = process.pid;
    this.bridge = bridgeName(pid);
    const { a, b } = subnet;
    this.hostIp = `10.${a}.${b}.${BRIDGE_HOST}`;
    this.members = names.map((name, i) => ({ name, namespace: `${NAMESPACE_PREFIX}${pid}-${name}`, ip: `10.${a}.${b}.${i + 1}` }));
  }

  /** Make the namespaces, the bridge and the links. On any failure what was made is removed. */
  static create(names: readonly string[]): Lab {
    if (names.length >= BRIDGE_HOST) throw new LabSetupError(`at most ${BRIDGE_HOST - 1} members`);
    let lab: Lab | null = null;
    try {
      const subnet = chooseSubnet(process.pid, hostPrefixes());
      if (subnet === null) throw new LabError(`no free subnet in 10.64.0.0/10 (every one tried overlaps a route of this host)`);
      lab = new Lab(names, subnet);
      lab.build();
    } catch (err) {
      lab?.destroy();
      throw err instanceof LabSetupError ? err : new LabSetupError((err as Error).message);
    }
    return lab;
  }

  private build(): void {
    const prefixLength = 24;
    run(['ip', 'link', 'add', this.bridge, 'type', 'bridge']);
    run(['ip', 'link', 'set', this.bridge, 'alias', bridgeAlias(process.pid)]);
    run(['ip', 'addr', 'add', `${this.hostIp}/${prefixLength}`, 'dev', this.bridge]);
    run(['ip', 'link', 'set', this.bridge, 'up']);
    this.members.forEach((m, i) => {
      const veth = vethName(process.pid, String(i));
      if (veth.length > MAX_INTERFACE_NAME) throw new LabError(`interface name ${veth} is too long`);
      run(['ip', 'netns', 'add', m.namespace]);
      run(['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', m.namespace]);
      this.veths.push(veth);
      run(['ip', 'link', 'set', veth, 'master', this.bridge, 'up']);
      run(['ip', '-n', m.namespace, 'addr', 'add', `${m.ip}/${prefixLength}`, 'dev', 'eth0']);
      run(['ip', '-n', m.namespace, 'link', 'set', 'eth0', 'up']);
      run(['ip', '-n', m.namespace, 'link', 'set', 'lo', 'up']);
    });
  }

  member(name: string): LabMember {
    const m = this.members.find((x) => x.name === name);
    if (m === undefined) throw new LabError(`no member ${name}`);
    return m;
  }

  /** Start a process inside a member's namespace. */
  spawn(name: string, argv: readonly string[], options: SpawnOptions): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.member(name).namespace, ...argv], options);
  }

  /**
   * Cut the network as `cut` says (replacing any earlier cut); returns the rules. Packets are
   * dropped on the way in (new and established connections alike), so a cut member's own
   * connections hang as they would behind a dead switch, not fail at once. The bridge's address
   * (the harness) is never dropped.
   */
  async partition(cut: Cut): Promise<Drop[]> {
    await this.heal();
    const rules = this.rules(cut);
    // -w: wait for the xtables lock (iptables-legacy's, shared by every namespace) rather than fail.
    await Promise.all(rules.map((r) => runAsync(['ip', 'netns', 'exec', this.member(r.at).namespace, 'iptables', '-w', '-A', 'INPUT', '-s', this.member(r.from).ip, '-j', 'DROP'])));
    return rules;
  }

  /** The rules `cut` takes among this lab's members. */
  rules(cut: Cut): Drop[] {
    return dropRules(cut, this.members.map((m) => m.name));
  }

  /** Remove every cut. */
  async heal(): Promise<void> {
    await Promise.all(this.members.map((m) => runAsync(['ip', 'netns', 'exec', m.namespace, 'iptables', '-w', '-F', 'INPUT'])));
  }

  /**
   * Remove the namespaces, every process still in them (SIGKILL) and the bridge (idempotent;
   * synchronous so it can run on exit and in a signal handler).
   */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const m of this.members) deleteNamespace(m.namespace);
    // Deleting a namespace's name does not remove it while its killed members' TCP connections
    // (orphans, retransmitting for minutes) hold it: its veth pair goes with the host end.
    for (const veth of this.veths) tryRun(['ip', 'link', 'delete', veth]);
    tryRun(['ip', 'link', 'delete', this.bridge]);
  }
}

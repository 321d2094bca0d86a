/**
 * The chaos harness's network: each member in a network namespace of its own, joined by a veth
 * pair to one bridge. The harness (its clients) reaches the members through the bridge's address;
 * partitions are iptables rules inside the members' namespaces, so they cut member from member
 * and never the harness from a member (as Jepsen cuts nodes, not its control node).
 *
 * Every name carries the harness's pid: a lab left behind by a harness that died (SIGKILL, power)
 * is found and removed by the next one (`removeStaleLabs`). Needs root, iproute2 and iptables.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** Every namespace the harness makes starts so: `qchaos-<pid>-<member>`. */
const NAMESPACE_PREFIX = 'qchaos-';
/** Interface names are at most 15 bytes: `q<pid in base 36>b` and `q<pid in base 36>v<i>`. */
const MAX_INTERFACE_NAME = 15;
/** The members' subnet: 10.<A>.<B>.0/24, A and B from the pid, members at .1 up, the bridge at .254. */
const BRIDGE_HOST = 254;

export interface LabMember {
  readonly name: string;
  readonly namespace: string;
  readonly ip: string;
}

/** A partition: groups of member names that still reach each other, or one member no other hears. */
export type Cut = { readonly kind: 'groups'; readonly groups: readonly (readonly string[])[] } | { readonly kind: 'one-way'; readonly from: string; readonly to: readonly string[] };

export class LabError extends Error {
  override readonly name = 'LabError';
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

/** Remove the namespaces and bridges of harnesses that are no longer running; returns how many labs. */
export function removeStaleLabs(): number {
  const stale = new Set<number>();
  for (const line of run(['ip', 'netns', 'list']).split('\n')) {
    const m = /^qchaos-(\d+)-\S+/.exec(line.trim());
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && !processAlive(pid)) stale.add(pid);
  }
  for (const pid of stale) {
    for (const line of run(['ip', 'netns', 'list']).split('\n')) {
      const ns = line.trim().split(' ')[0] ?? '';
      if (ns.startsWith(`${NAMESPACE_PREFIX}${pid}-`)) tryRun(['ip', 'netns', 'delete', ns]);
    }
    tryRun(['ip', 'link', 'delete', bridgeName(pid)]);
  }
  return stale.size;
}

function bridgeName(pid: number): string {
  return `q${pid.toString(36)}b`;
}

export class Lab {
  readonly members: readonly LabMember[];
  /** The bridge's address: where the members see the harness's connections come from. */
  readonly hostIp: string;
  private readonly bridge: string;
  private readonly veths: string[] = [];
  private destroyed = false;

  private constructor(names: readonly string[]) {
    const pid = process.pid;
    this.bridge = bridgeName(pid);
    const a = 64 + (pid % 128);
    const b = Math.floor(pid / 128) % 256;
    this.hostIp = `10.${a}.${b}.${BRIDGE_HOST}`;
    this.members = names.map((name, i) => ({ name, namespace: `${NAMESPACE_PREFIX}${pid}-${name}`, ip: `10.${a}.${b}.${i + 1}` }));
    if (names.length >= BRIDGE_HOST) throw new LabError(`at most ${BRIDGE_HOST - 1} members`);
  }

  /** Make the namespaces, the bridge and the links. On any failure what was made is removed. */
  static create(names: readonly string[]): Lab {
    const lab = new Lab(names);
    try {
      lab.build();
    } catch (err) {
      lab.destroy();
      throw err;
    }
    return lab;
  }

  private build(): void {
    const prefixLength = 24;
    run(['ip', 'link', 'add', this.bridge, 'type', 'bridge']);
    run(['ip', 'addr', 'add', `${this.hostIp}/${prefixLength}`, 'dev', this.bridge]);
    run(['ip', 'link', 'set', this.bridge, 'up']);
    this.members.forEach((m, i) => {
      const veth = `${this.bridge.slice(0, -1)}v${i}`;
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
   * Cut the network as `cut` says (replacing any earlier cut). Packets are dropped on the way in,
   * so a cut member's own connections hang as they would behind a dead switch, not fail at once.
   */
  partition(cut: Cut): void {
    this.heal();
    const drop = (at: string, from: readonly string[]): void => {
      const ns = this.member(at).namespace;
      for (const f of from) run(['ip', 'netns', 'exec', ns, 'iptables', '-A', 'INPUT', '-s', this.member(f).ip, '-j', 'DROP']);
    };
    if (cut.kind === 'one-way') {
      // `from` cannot be heard: every other member drops what it sends.
      for (const to of cut.to) drop(to, [cut.from]);
      return;
    }
    // Two members reach each other when some group holds both (a bridge member is in two groups);
    // a member in no group reaches no one.
    const names = this.members.map((m) => m.name);
    for (const at of names) {
      drop(at, names.filter((o) => o !== at && !cut.groups.some((g) => g.includes(at) && g.includes(o))));
    }
  }

  /** Remove every cut. */
  heal(): void {
    for (const m of this.members) run(['ip', 'netns', 'exec', m.namespace, 'iptables', '-F', 'INPUT']);
  }

  /** Remove the namespaces and the bridge (idempotent; synchronous so it can run on exit). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const m of this.members) tryRun(['ip', 'netns', 'delete', m.namespace]);
    tryRun(['ip', 'link', 'delete', this.bridge]);
  }
}

/**
 * The cluster under test: one process per member inside its namespace, quorate's `serve` or a
 * real etcd with the same flags, each with its data directory and log file under the run's
 * folder. Kill is SIGKILL (no clean stop), pause is SIGSTOP, and a restart reuses the data.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROTOCOLS } from '../protocols/registry.js';
import type { Lab } from './lab.js';
import { writeOffset } from './skew.js';

export type SystemName = 'quorate' | 'etcd';

/** Client and peer ports inside each member's namespace (each has its own address). */
export const CLIENT_PORT = 2379;
export const PEER_PORT = 2380;
/** A clean stop waits this long before SIGKILL. */
const STOP_GRACE_MS = 5_000;

export interface ClusterOptions {
  readonly system: SystemName;
  /** quorate only: the protocol every member runs. */
  readonly protocol: string;
  /** quorate only: a test-only mutant every member runs (serve --unsafe-mutant). */
  readonly mutant: string | null;
  readonly dir: string;
  /** The etcd binary (etcd only). */
  readonly etcdBinary: string;
  /**
   * libfaketime, when the members' clocks are to be skewed (quorate only): each member runs with it
   * preloaded, its offset in clocks/NAME (clockFile), read on every clock read.
   */
  readonly faketime?: string | null;
}

/** The etcd binary Debian's etcd-server installs, or null when it is not there. */
export function findEtcd(): string | null {
  for (const candidate of ['etcd', '/usr/bin/etcd']) {
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // try the next
    }
  }
  return null;
}

/**
 * libfaketime's shared memory and semaphore for a member, made under its pid by `ip netns exec`
 * (which runs preloaded too, and execs the member) and never removed by a process that is
 * killed: removed by the harness when the member exits.
 *
 * `reaped`: the member's exit was seen (node has waited for it), so its pid is free and may be
 * another process's already: another harness's member under libfaketime makes its files under
 * the same names. Then they are left alone while a process has that pid (a leak at worst, never
 * another run's clock pulled from under it). Not reaped (SIGKILL just sent): the pid is still ours.
 */
export function removeFaketimeShm(pid: number | undefined, reaped: boolean, shm = '/dev/shm', alive = (p: number): boolean => existsSync(`/proc/${p}`)): void {
  if (pid === undefined) return;
  if (reaped && alive(pid)) return;
  for (const f of [join(shm, `faketime_shm_${pid}`), join(shm, `sem.faketime_sem_${pid}`)]) rmSync(f, { force: true });
}

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
  paused: boolean;
}

export class Cluster {
  private readonly running = new Map<string, Running>();
  /** When each running member was started (performance.now()). */
  private readonly startedAt = new Map<string, number>();
  /** Exits nobody asked for (a member that crashed on its own): the report names them. */
  readonly unexpectedExits: string[] = [];

  constructor(private readonly lab: Lab, private readonly o: ClusterOptions) {}

  get names(): string[] {
    return this.lab.members.map((m) => m.name);
  }

  /** The client endpoint (host:port) of a member, reached from the harness through the bridge. */
  endpoint(name: string): string {
    return `${this.lab.member(name).ip}:${CLIENT_PORT}`;
  }

  isUp(name: string): boolean {
    return this.running.has(name);
  }

  isPaused(name: string): boolean {
    return this.running.get(name)?.paused === true;
  }

  /** The file libfaketime reads the member's clock offset from. */
  clockFile(name: string): string {
    return join(this.o.dir, 'clocks', name);
  }

  /**
   * Start a member. `join`: it joins a running cluster (after MemberAdd) whose members are `join`
   * (itself among them), with an empty data directory: --initial-cluster-state existing.
   */
  start(name: string, joining: readonly string[] | null = null): void {
    if (this.running.has(name)) return;
    mkdirSync(join(this.o.dir, 'logs'), { recursive: true });
    const log = openSync(join(this.o.dir, 'logs', `${name}.log`), 'a');
    let env: NodeJS.ProcessEnv | undefined;
    const faketime = this.o.faketime ?? null;
    if (faketime !== null) {
      mkdirSync(join(this.o.dir, 'clocks'), { recursive: true });
      writeOffset(this.clockFile(name), 0);
      env = { ...process.env, LD_PRELOAD: faketime, FAKETIME_TIMESTAMP_FILE: this.clockFile(name), FAKETIME_NO_CACHE: '1' };
    }
    const child = this.lab.spawn(name, this.argv(name, joining), { stdio: ['ignore', log, log], ...(env === undefined ? {} : { env }) });
    closeSync(log);
    const entry: Running = { child, paused: false, exited: new Promise((done) => child.once('exit', () => done())) };
    if (faketime !== null) child.once('exit', () => removeFaketimeShm(child.pid, true));
    child.once('exit', (code, signal) => {
      if (this.running.get(name) === entry) {
        this.running.delete(name);
        this.unexpectedExits.push(`${name} (${signal ?? `exit code ${code}`})`);
      }
    });
    this.running.set(name, entry);
    this.startedAt.set(name, performance.now());
  }

  /** How long the member's process has run (s); 0 when it is not running. */
  uptimeS(name: string): number {
    const at = this.startedAt.get(name);
    return at === undefined || !this.running.has(name) ? 0 : (performance.now() - at) / 1000;
  }

  /** SIGKILL: the process dies between any two instructions; what it had not fsynced is its own loss. */
  async kill(name: string): Promise<void> {
    const r = this.running.get(name);
    if (r === undefined) return;
    this.running.delete(name);
    // `ip netns exec` execs the member, so the child's pid is the member's.
    r.child.kill('SIGKILL');
    await r.exited;
  }

  pause(name: string): void {
    const r = this.running.get(name);
    if (r === undefined || r.paused) return;
    r.child.kill('SIGSTOP');
    r.paused = true;
  }

  resume(name: string): void {
    const r = this.running.get(name);
    if (r === undefined || !r.paused) return;
    r.child.kill('SIGCONT');
    r.paused = false;
  }

  /** The member's data directory. */
  dataDir(name: string): string {
    return join(this.o.dir, 'data', name);
  }

  /** Remove a stopped member's data (it was removed from the cluster: a new member will take its place). */
  wipe(name: string): void {
    if (this.running.has(name)) throw new Error(`${name} is running: its data cannot be wiped`);
    rmSync(this.dataDir(name), { recursive: true, force: true });
  }

  /** SIGKILL every member now, synchronously (a signal handler's or an exit handler's last act). */
  killAllNow(): void {
    for (const [, r] of this.running) {
      r.child.kill('SIGKILL');
      // No exit event comes after this: the harness is exiting.
      if ((this.o.faketime ?? null) !== null) removeFaketimeShm(r.child.pid, false);
    }
    this.running.clear();
  }

  /** Stop every member: resume the paused, SIGTERM, SIGKILL after a grace period. */
  async stopAll(): Promise<void> {
    const all = [...this.running.entries()];
    this.running.clear();
    for (const [, r] of all) {
      if (r.paused) r.child.kill('SIGCONT');
      r.child.kill('SIGTERM');
    }
    const timer = setTimeout(() => { for (const [, r] of all) r.child.kill('SIGKILL'); }, STOP_GRACE_MS);
    await Promise.all(all.map(([, r]) => r.exited));
    clearTimeout(timer);
  }

  /** The member's peer URL. */
  peerUrl(name: string): string {
    return `http://${this.lab.member(name).ip}:${PEER_PORT}`;
  }

  private argv(name: string, joining: readonly string[] | null): string[] {
    const me = this.lab.member(name);
    const cluster = this.lab.members.filter((m) => joining === null || joining.includes(m.name)).map((m) => `${m.name}=${this.peerUrl(m.name)}`).join(',');
    const dataDir = this.dataDir(name);
    const common = [
      '--name', name,
      '--data-dir', dataDir,
      '--listen-client-urls', `http://${me.ip}:${CLIENT_PORT}`,
      '--advertise-client-urls', `http://${me.ip}:${CLIENT_PORT}`,
      '--listen-peer-urls', `http://${me.ip}:${PEER_PORT}`,
      '--initial-advertise-peer-urls', `http://${me.ip}:${PEER_PORT}`,
      '--initial-cluster', cluster,
      '--initial-cluster-token', 'quorate-chaos',
      '--initial-cluster-state', joining === null ? 'new' : 'existing',
    ];
    if (this.o.system === 'etcd') return [this.o.etcdBinary, ...common];
    const main = fileURLToPath(new URL('../cli/main.js', import.meta.url));
    return [
      process.execPath, main, 'serve', ...common,
      '--protocol', this.o.protocol,
      ...(this.o.mutant === null ? [] : ['--unsafe-mutant', this.o.mutant]),
      // A Byzantine protocol's members need keys: in a throwaway lab, derived from the token.
      ...(PROTOCOLS.get(this.o.protocol)?.keys === 'per-member' ? ['--bft-insecure-keys-from-token'] : []),
    ];
  }
}

/**
 * Test harness: a cluster of real `quorate serve` processes on loopback, each with its own
 * data directory, reachable through the `etcd3` npm client (one client per member, with the
 * client's own retries switched off so every outcome the test records is what the server said).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { memberStatus } from '../../src/server/proto.js';
import { generateKeyFiles } from '../../src/node/bft-keys.js';
import { freePort } from '../ports.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The members' --heartbeat-interval and --election-timeout (short: tests wait on them). */
export const HEARTBEAT_INTERVAL_MS = 50;
export const ELECTION_TIMEOUT_MS = 500;
/** How long waitForLeader waits for one member's Status in a round. */
const STATUS_TIMEOUT_MS = 1_000;

/** The message a promise is rejected with, or 'no error' (for asserting on etcd's error texts). */
export async function errorOf(p: PromiseLike<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as Error).message;
  }
  return 'no error';
}

export { freePort };

export interface ClusterOptions {
  /** Clients connect over TLS trusting this CA file. */
  readonly tls?: { readonly ca: string };
  readonly peerScheme?: 'http' | 'https';
  /** Flags of one member only, after the shared ones (each member's own peer certificate, say). */
  readonly memberFlags?: (name: string) => readonly string[];
  /** PBFT: generate every member's keys at start and give each its own (--bft-private-key, --bft-public-keys). */
  readonly memberKeys?: boolean;
  /**
   * Running members that must agree on the leader for waitForLeader (default: all of them). PBFT
   * passes its quorum: a replica that alone gave up on a view waits in a view change until the
   * others change view too (f + 1 are needed to start one), which may not happen.
   */
  readonly leaderQuorum?: number;
}

interface MemberProcess {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  child: ChildProcess | null;
  exited: Promise<void>;
  client: Etcd3 | null;
}

export class ProcessCluster {
  readonly dir: string;
  private readonly members = new Map<string, MemberProcess>();
  /** The last lines of every member's output, for a failing test's report. */
  readonly output: string[] = [];
  /** How many output lines matched each watched phrase (counted as they stream by). */
  readonly seen = new Map<string, number>();
  /** Member ids as Status reports them, by name (learned from the members' answers). */
  private readonly memberIds = new Map<number, string>();
  private static readonly WATCHED = ['snapshot taken', 'installed snapshot from leader', 'restored state machine from snapshot', 'restarting from its log'];

  private constructor(
    readonly names: readonly string[],
    private readonly extraFlags: readonly string[],
    private readonly options: ClusterOptions,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'quorate-cluster-'));
  }

  static async start(size = 3, extraFlags: readonly string[] = [], options: ClusterOptions = {}): Promise<ProcessCluster> {
    const names = Array.from({ length: size }, (_, i) => `m${i + 1}`);
    const c = new ProcessCluster(names, extraFlags, options);
    if (options.memberKeys === true) await generateKeyFiles(join(c.dir, 'keys'), names);
    for (const name of names) {
      c.members.set(name, { name, clientPort: await freePort(), peerPort: await freePort(), child: null, exited: Promise.resolve(), client: null });
    }
    for (const name of names) c.launch(name);
    try {
      // Members that come up one by one on a loaded machine are a cluster moving (see waitForLeader).
      await c.waitForLeader(20_000, { whileProgressingMs: 60_000 });
    } catch (err) {
      // Nobody else holds the cluster yet: members left running would keep the test file alive.
      await c.stop();
      throw err;
    }
    return c;
  }

  get initialCluster(): string {
    return [...this.members.values()].map((m) => `${m.name}=${this.peerScheme}://127.0.0.1:${m.peerPort}`).join(',');
  }

  private get peerScheme(): string {
    return this.options.peerScheme ?? 'http';
  }

  private get trustedCa(): Buffer | null {
    return this.options.tls === undefined ? null : readFileSync(this.options.tls.ca);
  }

  private get clientScheme(): string {
    return this.options.tls === undefined ? 'http' : 'https';
  }

  peerPort(name: string): number {
    return this.member(name).peerPort;
  }

  clientPort(name: string): number {
    return this.member(name).clientPort;
  }

  endpoint(name: string): string {
    return `127.0.0.1:${this.member(name).clientPort}`;
  }

  /** The member's process id (to pause it with SIGSTOP, say). */
  pid(name: string): number {
    const pid = this.member(name).child?.pid;
    if (pid === undefined) throw new Error(`${name} is not running`);
    return pid;
  }

  isRunning(name: string): boolean {
    return this.member(name).child !== null;
  }

  /** A client that talks to this member only, without client-side retries. */
  client(name: string): Etcd3 {
    const m = this.member(name);
    m.client ??= new Etcd3({
      hosts: `${this.clientScheme}://${this.endpoint(name)}`,
      ...(this.options.tls === undefined ? {} : { credentials: { rootCertificate: readFileSync(this.options.tls.ca) } }),
      dialTimeout: 2_000,
      defaultCallOptions: () => ({ deadline: Date.now() + 5_000 }),
      faultHandling: { host: () => noop, global: noop },
    });
    return m.client;
  }

  /** Reserve ports for a member that is not started yet (one to add with MemberAdd). */
  async reserve(name: string): Promise<void> {
    if (this.members.has(name)) throw new Error(`${name} exists`);
    this.members.set(name, { name, clientPort: await freePort(), peerPort: await freePort(), child: null, exited: Promise.resolve(), client: null });
  }

  /** Has the member's process exited (or was it never started)? Waits at most `boundMs`. */
  async exitedWithin(name: string, boundMs: number): Promise<boolean> {
    const m = this.member(name);
    return Promise.race([m.exited.then(() => true), sleep(boundMs).then(() => false)]);
  }

  launch(name: string, extraFlags: readonly string[] = []): void {
    const m = this.member(name);
    if (m.child !== null) throw new Error(`${name} is already running`);
    const child = spawn(process.execPath, [
      MAIN, 'serve',
      '--name', name,
      '--data-dir', join(this.dir, name),
      '--listen-client-urls', `${this.clientScheme}://127.0.0.1:${m.clientPort}`,
      '--listen-peer-urls', `${this.peerScheme}://127.0.0.1:${m.peerPort}`,
      '--initial-cluster', this.initialCluster,
      '--initial-cluster-token', 'test',
      '--heartbeat-interval', String(HEARTBEAT_INTERVAL_MS),
      '--election-timeout', String(ELECTION_TIMEOUT_MS),
      ...(this.options.memberKeys === true ? ['--bft-private-key', join(this.dir, 'keys', `${name}.key`), '--bft-public-keys', join(this.dir, 'keys', 'public-keys.json')] : []),
      ...this.extraFlags,
      ...(this.options.memberFlags?.(name) ?? []),
      ...extraFlags,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (line === '') continue;
        this.output.push(line);
        for (const w of ProcessCluster.WATCHED) if (line.includes(w)) this.seen.set(w, (this.seen.get(w) ?? 0) + 1);
      }
      if (this.output.length > 400) this.output.splice(0, this.output.length - 400);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    m.child = child;
    m.exited = new Promise((resolve) => child.once('exit', () => { m.child = null; resolve(); }));
  }

  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const m = this.member(name);
    if (m.client !== null) {
      m.client.close();
      m.client = null;
    }
    if (m.child === null) return;
    m.child.kill(signal);
    await m.exited;
  }

  /**
   * The leader that every running member (or `leaderQuorum` of them, itself included) names.
   * Each round asks every running member; with a `leaderQuorum`, the members that answered in
   * time are enough: a member still starting, or too busy to answer within a second, is the one
   * the quorum leaves out, and must not hold the others' agreement back.
   *
   * With `executedBeyond`, only members that report an executed/commit index above it count.
   *
   * Fails once `boundMs` pass with no agreement. With `whileProgressingMs`, a cluster that is
   * still moving (a member answered for the first time in this wait, or with a view/term or an
   * executed/commit index above any seen so far in it) gets `boundMs` again from that moment, up
   * to `whileProgressingMs` in all: a slow cluster is told from a stuck one by what it does, not
   * by the wall clock alone. A cluster in which nothing moves for `boundMs` still fails, and so
   * does one that keeps moving without agreeing for `whileProgressingMs`.
   */
  async waitForLeader(boundMs = 20_000, o: { whileProgressingMs?: number; executedBeyond?: number } = {}): Promise<string> {
    const start = Date.now();
    const cap = start + Math.max(boundMs, o.whileProgressingMs ?? boundMs);
    let deadline = start + boundMs;
    let highestView = -1;
    let highestIndex = -1;
    const answered = new Set<string>();
    let extensions = 0;
    for (;;) {
      const running = [...this.members.values()].filter((m) => m.child !== null);
      const answers = await Promise.all(running.map((m) => memberStatus(this.endpoint(m.name), STATUS_TIMEOUT_MS, this.trustedCa).then(
        (s) => {
          this.memberIds.set(s.header.member_id, m.name);
          return { name: m.name, leader: s.leader, self: s.header.member_id, view: s.raftTerm, index: s.raftIndex };
        },
        (err: unknown) => ({ name: m.name, error: (err as Error).message.split('\n')[0] ?? '' }),
      )));
      const statuses = answers.filter((a): a is { name: string; leader: number; self: number; view: number; index: number } => 'leader' in a);
      const quorum = this.options.leaderQuorum ?? running.length;
      // With executedBeyond, only members that executed (committed) past it count: the cluster
      // orders again, rather than a quorum naming a primary whose view is not installed yet.
      const counted = statuses.filter((s) => s.index > (o.executedBeyond ?? -1));
      for (const candidate of counted) {
        const agreeing = counted.filter((s) => s.leader === candidate.self);
        if (agreeing.length >= quorum && agreeing.includes(candidate)) return candidate.name;
      }
      const now = Date.now();
      const view = Math.max(highestView, ...statuses.map((s) => s.view));
      const index = Math.max(highestIndex, ...statuses.map((s) => s.index));
      const firstAnswers = statuses.filter((s) => !answered.has(s.name)).length;
      for (const s of statuses) answered.add(s.name);
      const moved = view > highestView || index > highestIndex || firstAnswers > 0;
      // Counted only when the deadline really moves: without whileProgressingMs, or once at the
      // cap, a move extends nothing, and the failure must not say it waited longer than it did.
      if (moved && Math.min(cap, now + boundMs) > deadline) {
        deadline = Math.min(cap, now + boundMs);
        extensions++;
      }
      highestView = view;
      highestIndex = index;
      if (now > deadline) {
        const lastRound = answers.map((a) => ('leader' in a ? `${a.name} names ${this.nameOf(a.leader)} (view/term ${a.view}, index ${a.index})` : `${a.name}: ${a.error}`)).join('; ');
        const waited = `${now - start} ms${extensions === 0 ? '' : `, ${extensions} times extended while the cluster moved, up to ${o.whileProgressingMs} ms`}`;
        throw new Error(`no agreed leader within ${boundMs} ms of the last change (waited ${waited}; last round: ${lastRound})\n${this.output.slice(-40).join('\n')}`);
      }
      await sleep(100);
    }
  }

  /** The highest executed/commit index the running members that answer within a second report (-1: none answered). */
  async highestIndex(): Promise<number> {
    const running = [...this.members.values()].filter((m) => m.child !== null);
    const indexes = await Promise.all(running.map((m) => memberStatus(this.endpoint(m.name), STATUS_TIMEOUT_MS, this.trustedCa).then((s) => s.raftIndex, () => -1)));
    return Math.max(-1, ...indexes);
  }

  /** The member whose id (as Status reports it) is `memberId`, or the id itself if no running member answered with it. */
  private nameOf(memberId: number): string {
    return this.memberIds.get(memberId) ?? String(memberId);
  }

  async stop(): Promise<void> {
    for (const m of this.members.values()) await this.kill(m.name, 'SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  private member(name: string): MemberProcess {
    const m = this.members.get(name);
    if (m === undefined) throw new Error(`no member ${name}`);
    return m;
  }
}

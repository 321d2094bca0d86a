/**
 * `quorate chaos` end to end, as a user runs it: real members in network namespaces under
 * partitions, kills and pauses, clock skew (quorate) and membership changes; quorate and a real
 * etcd must come out linearizable, and a member that serves reads from its own state (the
 * stale-read mutant) must be caught. Needs root, iproute2, iptables, Debian's etcd-server and
 * faketime (.ci/run installs them); skipped, saying why, without.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { findEtcd } from '../../src/chaos/cluster.js';
import { labPrerequisites, removeStaleLabs } from '../../src/chaos/lab.js';
import { findFaketime } from '../../src/chaos/skew.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const missing = labPrerequisites();
if (findEtcd() === null) missing.push('etcd');
const skip = missing.length > 0 ? `needs ${missing.join(', ')}` : false;

/** Attempts of the mutant run: each a short run, so a catch is near certain in a few. */
const MUTANT_ATTEMPTS = 3;

/** A run to its end; `inspect` looks at its --out before it is removed. */
function chaos(args: string[], inspect: (dir: string) => void = () => {}): { status: number | null; report: string; out: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-chaos-'));
  try {
    const r = spawnSync(process.execPath, [MAIN, 'chaos', '--out', dir, ...args], { encoding: 'utf8', timeout: 240_000 });
    let report = '';
    try {
      report = readFileSync(join(dir, 'report.md'), 'utf8');
    } catch {
      report = `(no report) ${r.stderr}`;
    }
    inspect(dir);
    return { status: r.status, report, out: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Processes whose command line names `text` (a run's --out: its members' data directories). */
function processesNaming(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

/** `probe` until it answers [] (a killed process takes a moment to leave /proc), for at most 3 s. */
async function settled<T>(probe: () => T[]): Promise<T[]> {
  for (let i = 0; i < 30; i++) {
    const left = probe();
    if (left.length === 0) return left;
    await new Promise((done) => setTimeout(done, 100));
  }
  return probe();
}

/** What a harness's lab left: its namespaces and its links (bridge, veth host ends). */
function labOf(pid: number): string[] {
  const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`qchaos-${pid}-`));
  const links = (JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as { ifname: string }[]).map((l) => l.ifname).filter((n) => n.startsWith(`q${pid.toString(36)}`));
  return [...namespaces, ...links];
}

/** A harness started in the background, and a promise of the moment its cluster serves. */
function startChaos(dir: string, args: string[]): { child: ReturnType<typeof spawn>; serving: Promise<void>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [MAIN, 'chaos', '--out', dir, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const serving = new Promise<void>((done, fail) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('is serving')) done();
    });
    child.once('exit', () => fail(new Error(`the harness exited before its cluster served: ${stderr}`)));
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, serving, exited };
}

/** The report's one results row, split into its cells. */
function row(report: string): string[] {
  const line = report.split('\n').find((l) => l.startsWith('| quorate') || l.startsWith('| etcd'));
  assert.ok(line !== undefined, report);
  return line.split('|').slice(1, -1).map((c) => c.trim());
}

describe('quorate chaos', { skip }, () => {
  for (const system of ['quorate', 'etcd']) {
    it(`${system} under partitions, kills and pauses: linearizable, and serving again after the heal`, () => {
      const r = chaos(['--system', system, '--time-limit', '15', '--nemesis', 'partition,kill,pause', '--seed', '7']);
      assert.equal(r.status, 0, r.report);
      const cells = row(r.report);
      assert.equal(cells.at(-1), 'linearizable', r.report);
      assert.ok(Number(cells[4]) > 100, `ok operations: ${r.report}`);
      assert.ok(Number(cells.at(-2)) > 0, `ok operations after the heal: ${r.report}`);
      assert.match(r.report, /\| \d+\.\d \| \d+\.\d \| (partition|kill|pause)/, 'the nemesis injected faults');
      // A member that dies on its own (a restart that cannot read its data, a crash) is a bug too.
      assert.doesNotMatch(r.report, /exited on their own/, r.report);
    });
  }

  // Clock faults reach only members under libfaketime: quorate's (etcd's Go runtime reads the clock through the vDSO).
  it('quorate under clock skew, jumps and strobes: linearizable, the members\' clocks reset after', { skip: findFaketime() === null ? 'needs libfaketime (Debian: faketime)' : false }, () => {
    const r = chaos(['--nemesis', 'skew', '--time-limit', '12', '--fault-ms', '1500', '--quiet-ms', '1000', '--seed', '3'], (dir) => {
      for (const n of ['n1', 'n2', 'n3']) assert.equal(readFileSync(join(dir, 'clocks', n), 'utf8'), '+0\n', `${n}'s clock after the heal`);
    });
    assert.equal(r.status, 0, r.report);
    const cells = row(r.report);
    assert.equal(cells.at(-1), 'linearizable', r.report);
    assert.ok(Number(cells.at(-2)) > 0, `ok operations after the heal: ${r.report}`);
    assert.match(r.report, /\| \d+\.\d \| \d+\.\d \| clock (skew|jump|strobe): n\d/, 'the nemesis skewed clocks');
    // libfaketime's shared memory, made under each member's pid, goes with the member.
    const left = readdirSync('/dev/shm').filter((f) => /faketime_(shm|sem)_\d+$/.test(f) && !existsSync(`/proc/${/\d+$/.exec(f)![0]}`));
    assert.deepEqual(left, [], 'libfaketime shared memory of members that are gone');
    assert.doesNotMatch(r.report, /exited on their own/, r.report);
  });

  // A member removed (stopped, wiped), added back as a learner into its namespace, promoted.
  for (const [system, protocol] of [['quorate', 'raft'], ['etcd', 'raft']] as const) {
    it(`${system} under membership changes: linearizable, every removed member added back and promoted`, () => {
      const r = chaos(['--system', system, '--protocol', protocol, '--nemesis', 'member', '--time-limit', '8', '--fault-ms', '1000', '--quiet-ms', '1000', '--seed', '5']);
      assert.equal(r.status, 0, r.report);
      const cells = row(r.report);
      assert.equal(cells.at(-1), 'linearizable', r.report);
      assert.ok(Number(cells.at(-2)) > 0, `ok operations after the heal: ${r.report}`);
      const removals = r.report.match(/\| member remove n\d/g) ?? [];
      assert.ok(removals.length >= 1, r.report);
      assert.equal((r.stderr.match(/ promoted/g) ?? []).length, (r.stderr.match(/ added back as learner/g) ?? []).length, r.stderr);
      assert.equal((r.stderr.match(/ added back as learner/g) ?? []).length, removals.length, r.stderr);
      assert.doesNotMatch(r.report, /exited on their own/, r.report);
    });
  }

  it('has teeth: a member serving linearizable reads from its own state (stale-read) is caught under partitions', () => {
    const verdicts: string[] = [];
    for (let attempt = 1; attempt <= MUTANT_ATTEMPTS; attempt++) {
      const r = chaos(['--unsafe-mutant', 'stale-read', '--nemesis', 'partition', '--partitions', 'halves,leader', '--time-limit', '20', '--seed', String(attempt)]);
      verdicts.push(`${r.status}`);
      if (r.status === 1) {
        assert.match(r.report, /no linearization of these operations/);
        return;
      }
    }
    assert.fail(`not caught in ${MUTANT_ATTEMPTS} runs (exit codes ${verdicts.join(', ')})`);
  });

  it('list-append under partitions and kills: strictly serializable (Elle-style cycle search finds nothing)', () => {
    const r = chaos(['--workload', 'list-append', '--nemesis', 'partition,kill', '--partitions', 'halves,leader', '--time-limit', '12', '--seed', '2']);
    assert.equal(r.status, 0, r.report);
    const cells = row(r.report);
    assert.equal(cells.at(-1), 'valid (no anomaly)', r.report);
    assert.ok(Number(cells[4]) > 100, `ok transactions: ${r.report}`);
  });

  it('watch under kills and partitions: every watcher sees every event once, in order, across its reconnects', () => {
    const r = chaos(['--workload', 'watch', '--nemesis', 'kill,partition', '--partitions', 'halves,leader', '--time-limit', '12', '--seed', '3']);
    assert.equal(r.status, 0, r.report);
    const cells = row(r.report);
    assert.equal(cells.at(-1), 'every event once, in order', r.report);
    assert.ok(Number(cells[4]) > 100, `ok puts: ${r.report}`);
    const reconnects = /over \d+ streams \((\d+) reconnects/.exec(r.report);
    // Every watcher resumes many times (of its own accord every few seconds, besides the faults').
    assert.ok(reconnects !== null && Number(reconnects[1]) >= 24, `watchers reconnected: ${r.report}`);
  });

  it('has teeth: an unfenced lock under pauses loses updates (a holder stalled past its lease writes over another)', () => {
    const verdicts: string[] = [];
    for (let attempt = 1; attempt <= MUTANT_ATTEMPTS; attempt++) {
      const r = chaos(['--workload', 'lock-unfenced', '--nemesis', 'pause', '--time-limit', '12', '--seed', String(attempt)]);
      verdicts.push(`${r.status}`);
      if (r.status === 1) {
        assert.match(row(r.report).at(-1)!, /lost update \d+/, r.report);
        return;
      }
    }
    assert.fail(`not caught in ${MUTANT_ATTEMPTS} runs (exit codes ${verdicts.join(', ')})`);
  });

  it('a fenced lock under pauses: stalled holders\' writes are refused, no lost update, overlap or stale token', () => {
    const r = chaos(['--workload', 'lock', '--nemesis', 'pause', '--time-limit', '12', '--seed', '1']);
    assert.equal(r.status, 0, r.report);
    assert.equal(row(r.report).at(-1), 'no lost update, overlap or stale token', r.report);
    assert.ok(Number(row(r.report)[4]) > 10, `accepted writes: ${r.report}`);
  });

  it('SIGTERM (or Ctrl-C) mid-run: the members are killed, the lab removed, exit 128+15', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quorate-chaos-term-'));
    try {
      const h = startChaos(dir, ['--time-limit', '60', '--nemesis', 'pause']);
      await h.serving;
      const members = (): number[] => processesNaming(dir).filter((p) => p !== h.child.pid);
      assert.equal(members().length, 3, 'the members run');
      h.child.kill('SIGTERM');
      assert.equal(await h.exited, 143);
      assert.deepEqual(await settled(members), [], 'no member outlives the harness');
      assert.deepEqual(labOf(h.child.pid!), [], 'the lab is removed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a harness killed with SIGKILL: the next one kills its members and removes its lab', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quorate-chaos-kill-'));
    try {
      const h = startChaos(dir, ['--time-limit', '60', '--nemesis', 'none']);
      await h.serving;
      h.child.kill('SIGKILL');
      await h.exited;
      const members = (): number[] => processesNaming(dir).filter((p) => p !== h.child.pid);
      assert.equal(members().length, 3, 'the members outlive a harness killed with SIGKILL');
      assert.ok(labOf(h.child.pid!).length > 0);
      assert.ok(removeStaleLabs() >= 1);
      assert.deepEqual(await settled(members), [], 'the stale members are killed');
      assert.deepEqual(labOf(h.child.pid!), [], 'the stale lab is removed, its links too');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a nemesis that fails (iptables refusing a rule) ends the run with its error: no member or lab left, no hang', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quorate-chaos-iptables-'));
    try {
      // An iptables that refuses to add a rule, as one behind another's xtables lock does.
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      const real = execFileSync('sh', ['-c', 'command -v iptables'], { encoding: 'utf8' }).trim();
      writeFileSync(join(bin, 'iptables'), `#!/bin/sh\ncase "$*" in *-A*) echo 'Another app is currently holding the xtables lock' >&2; exit 4;; esac\nexec ${real} "$@"\n`, { mode: 0o755 });
      const out = join(dir, 'out');
      const r = spawnSync(process.execPath, [MAIN, 'chaos', '--out', out, '--time-limit', '60', '--nemesis', 'partition'], {
        encoding: 'utf8', timeout: 120_000, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      });
      assert.notEqual(r.status, null, `killed by ${r.signal}: the run hung`);
      assert.notEqual(r.status, 0);
      assert.notEqual(r.status, 3, 'not "the lab cannot be made here": it was made');
      assert.equal(r.status, 4, `the nemesis failed: ${r.stderr}`);
      assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /\*\*The nemesis failed: .*xtables lock/, 'the history up to then is reported');
      assert.match(r.stderr, /xtables lock/);
      assert.doesNotMatch(r.stderr, /unhandled|Unhandled/);
      assert.deepEqual(await settled(() => processesNaming(out)), [], 'no member outlives the harness');
      assert.deepEqual(labOf(r.pid!), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what it does not know or cannot do here, by name (exit 3)', () => {
    for (const args of [['--workload', 'no-such-workload'], ['--system', 'etcd', '--nemesis', 'skew'], ['--unsafe-mutant', 'no-such-bug'], ['--system', 'etcd', '--unsafe-mutant', 'stale-read']]) {
      const r = spawnSync(process.execPath, [MAIN, 'chaos', ...args], { encoding: 'utf8' });
      assert.equal(r.status, 3, `${args.join(' ')}: ${r.stderr}`);
    }
  });
});

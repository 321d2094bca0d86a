/**
 * The nemesis's bookkeeping against a fake lab and cluster (no root, no processes): when a fault's
 * interval starts, and what a heal that fails leaves running.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Prng } from '../../src/core/prng.js';
import type { Cluster } from '../../src/chaos/cluster.js';
import type { Lab } from '../../src/chaos/lab.js';
import { Nemesis, type NemesisKind } from '../../src/chaos/nemesis.js';
import { runChaos } from '../../src/chaos/run.js';

interface Fake { lab: Lab; cluster: Cluster; calls: string[] }

function fake(dir: string, o: { healFails?: boolean; killMs?: number; now: () => number; down?: readonly string[] }): Fake {
  const calls: string[] = [];
  const names = ['n1', 'n2', 'n3'];
  const up = new Set(names.filter((n) => !(o.down ?? []).includes(n)));
  const lab = {
    heal: async () => { calls.push('lab.heal'); if (o.healFails === true) throw new Error('iptables: refused'); },
    partition: async () => [],
    rules: () => [],
  } as unknown as Lab;
  const cluster = {
    names,
    isUp: (n: string) => up.has(n),
    isPaused: () => false,
    // No member answers Status: the nemesis knows no leader.
    endpoint: () => '127.0.0.1:1',
    clockFile: (n: string) => join(dir, n),
    uptimeS: () => 100,
    kill: async (n: string) => { calls.push(`kill ${n} at ${o.now()}`); await sleep(o.killMs ?? 0); up.delete(n); },
    start: (n: string) => { calls.push(`start ${n}`); up.add(n); },
    pause: () => {},
    resume: () => {},
  } as unknown as Cluster;
  return { lab, cluster, calls };
}

const activeTimeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('a fault\'s interval starts when its injection does (a kill takes a while: operations during it are under the fault)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-nemesis-'));
  try {
    const t0 = performance.now();
    const now = (): number => performance.now() - t0;
    const f = fake(dir, { killMs: 200, now });
    const nemesis = new Nemesis(f.lab, f.cluster, { kinds: ['kill'] as NemesisKind[], partitions: ['halves'], random: new Prng(1), now, log: () => {}, faultMs: 10, quietMs: 10, maxFaults: 1 });
    await nemesis.run();
    const killedAt = Number(/at ([\d.]+)/.exec(f.calls.find((c) => c.startsWith('kill'))!)![1]);
    assert.equal(nemesis.events.length, 1);
    assert.ok(nemesis.events[0]!.startMs <= killedAt, `fault from ${nemesis.events[0]!.startMs} ms, the kill began at ${killedAt} ms`);
    assert.equal(nemesis.restarts, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a kill -9 of a member that is not running (it exited on its own) kills and restarts nothing, and counts no cycle', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-nemesis-'));
  try {
    const t0 = performance.now();
    const now = (): number => performance.now() - t0;
    const f = fake(dir, { now, down: ['n1', 'n2', 'n3'] });
    const nemesis = new Nemesis(f.lab, f.cluster, { kinds: ['kill'] as NemesisKind[], partitions: ['halves'], random: new Prng(1), now, log: () => {}, faultMs: 10, quietMs: 10, maxFaults: 1 });
    await nemesis.run();
    assert.equal(nemesis.restarts, 0);
    assert.deepEqual(f.calls.filter((c) => !c.startsWith('lab.')), []);
    assert.match(nemesis.events[0]!.what, /^kill -9 n\d \(not running: left alone\)$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a membership fault removes none while a member that exited on its own leaves no spare (3 members, 1 down: removing one leaves no majority)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-nemesis-'));
  try {
    const t0 = performance.now();
    const now = (): number => performance.now() - t0;
    for (let seed = 1; seed <= 5; seed++) {
      const f = fake(dir, { now, down: ['n1'] });
      const nemesis = new Nemesis(f.lab, f.cluster, { kinds: ['member'] as NemesisKind[], partitions: ['halves'], random: new Prng(seed), now, log: () => {}, faultMs: 10, quietMs: 10, maxFaults: 1 });
      await nemesis.run();
      assert.match(nemesis.events[0]!.what, /^member: none removed/, `seed ${seed}`);
      assert.deepEqual(f.calls.filter((c) => !c.startsWith('lab.')), []);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a heal that fails (iptables refusing the flush) during a clock strobe stops the strobe: no timer left flipping the clock, holding the harness open', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-nemesis-'));
  try {
    let strobes = 0;
    for (let seed = 1; seed < 200 && strobes < 2; seed++) {
      const before = activeTimeouts();
      const t0 = performance.now();
      const now = (): number => performance.now() - t0;
      const f = fake(dir, { healFails: true, now });
      const nemesis = new Nemesis(f.lab, f.cluster, { kinds: ['skew'] as NemesisKind[], partitions: ['halves'], random: new Prng(seed), now, log: () => {}, faultMs: 10, quietMs: 10, maxFaults: 1 });
      await assert.rejects(nemesis.run(), /iptables: refused/);
      if (!/clock strobe/.test(nemesis.events[0]?.what ?? '')) continue;
      strobes++;
      assert.equal(activeTimeouts(), before, `seed ${seed}: ${nemesis.events[0]!.what}: a timer outlives the failed heal`);
    }
    assert.equal(strobes, 2, 'some seeds draw a strobe');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('runChaos refuses --system etcd with skew (also in a mixed list) before it makes anything: no lab, no namespace, no handler left', async () => {
  const out = mkdtempSync(join(tmpdir(), 'quorate-refused-'));
  const ours = (): string[] => {
    try {
      return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith(`qchaos-${process.pid}-`));
    } catch {
      return [];
    }
  };
  const exits = process.listenerCount('exit');
  try {
    for (const nemesis of [['skew'], ['kill', 'skew']] as NemesisKind[][]) {
      await assert.rejects(runChaos({
        system: 'etcd', protocol: 'raft', mutant: null, workload: 'register', nodes: 3, clients: 1, keys: 1, nemesis, partitions: ['halves'], timeLimitS: 1,
        faultMs: 10, quietMs: 10, maxFaults: null, seed: 1, out, etcdBinary: 'etcd', commandLine: 'quorate chaos', log: () => {},
      }), /--nemesis skew: not applicable to etcd/);
      assert.deepEqual(ours(), [], `${nemesis.join(',')}: a lab was made and left behind`);
      assert.equal(process.listenerCount('exit'), exits);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

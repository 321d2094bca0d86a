/**
 * The pure parts of `quorate chaos`'s clock and membership faults (no root): what a member's
 * clock file says, what a skew fault draws, which members a membership fault removes (never
 * below a majority of the original size), and what is refused (etcd under skew: libfaketime does
 * not reach Go's clock; a protocol with a fixed membership under member changes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../../src/core/prng.js';
import { removeFaketimeShm } from '../../src/chaos/cluster.js';
import { chooseRemovals, majority, memberRefusal, membershipProtocols } from '../../src/chaos/membership.js';
import { DEFAULT_NEMESIS, NEMESIS_KINDS } from '../../src/chaos/nemesis.js';
import {
  clampBackward, describeSkew, drawSkew, findFaketime, initialOffsets, JUMP_MAX_S, offsetText, SKEW_MAX_S, skewRefusal, STROBE_MAX_MS, STROBE_MIN_MS, writeOffset,
} from '../../src/chaos/skew.js';
import { PROTOCOLS } from '../../src/protocols/registry.js';

const members = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${i + 1}`);

test('a clock file holds libfaketime\'s relative offset: "+2s", "-5s", "+0"; whole seconds only', () => {
  assert.equal(offsetText(2), '+2s');
  assert.equal(offsetText(-5), '-5s');
  assert.equal(offsetText(0), '+0');
  assert.equal(offsetText(60), '+60s');
  assert.throws(() => offsetText(1.5), /whole seconds/);
});

test('writeOffset replaces the file whole (no temp file left, one line)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-clock-'));
  try {
    const file = join(dir, 'n1');
    writeOffset(file, -3);
    assert.equal(readFileSync(file, 'utf8'), '-3s\n');
    writeOffset(file, 0);
    assert.equal(readFileSync(file, 'utf8'), '+0\n');
    assert.deepEqual(readdirSync(dir), ['n1']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('libfaketime\'s shared memory goes with its member, never another process\'s that took the pid after (another run\'s member under libfaketime)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-shm-'));
  try {
    const make = (pid: number): void => { for (const f of [`faketime_shm_${pid}`, `sem.faketime_sem_${pid}`]) writeFileSync(join(dir, f), ''); };
    make(123);
    make(456);
    // Reaped, and the pid is some other process's now: its files, left alone.
    removeFaketimeShm(123, true, dir, () => true);
    assert.deepEqual(readdirSync(dir).sort(), ['faketime_shm_123', 'faketime_shm_456', 'sem.faketime_sem_123', 'sem.faketime_sem_456']);
    // Reaped, the pid free: the member's files removed, no one else's.
    removeFaketimeShm(123, true, dir, () => false);
    assert.deepEqual(readdirSync(dir).sort(), ['faketime_shm_456', 'sem.faketime_sem_456']);
    // SIGKILL just sent, not reaped: the pid is still the member's.
    removeFaketimeShm(456, false, dir, () => true);
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('skew faults: offsets within ±SKEW_MAX_S on one to all members, jumps and strobes on one member, never +0; a seed draws the same', () => {
  const names = members(5);
  const random = new Prng(3);
  const kinds = new Set<string>();
  for (let i = 0; i < 500; i++) {
    const plan = drawSkew(random, names);
    kinds.add(plan.kind);
    const offsets = initialOffsets(plan);
    assert.ok(offsets.size >= 1 && offsets.size <= names.length);
    for (const [name, s] of offsets) {
      assert.ok(names.includes(name));
      assert.ok(Number.isInteger(s) && s !== 0, `${s}`);
      assert.ok(Math.abs(s) <= (plan.kind === 'jump' ? JUMP_MAX_S : SKEW_MAX_S), describeSkew(plan));
      // Back only a few seconds: a member's timers stall for as long.
      assert.ok(s >= -SKEW_MAX_S);
    }
    if (plan.kind === 'strobe') assert.ok(plan.periodMs >= STROBE_MIN_MS && plan.periodMs <= STROBE_MAX_MS);
    assert.match(describeSkew(plan), /^clock (skew|jump|strobe): n\d/);
  }
  assert.deepEqual([...kinds].sort(), ['jump', 'offsets', 'strobe']);
  assert.deepEqual(drawSkew(new Prng(9), names), drawSkew(new Prng(9), names));
});

test('a jump or strobe aimed at the leader skews the leader', () => {
  const random = new Prng(5);
  for (let i = 0; i < 100; i++) {
    const plan = drawSkew(random, members(3), 'n2');
    if (plan.kind !== 'offsets') assert.deepEqual([...initialOffsets(plan).keys()], ['n2']);
  }
});

test('no member\'s clock is set back past its start (node aborts there): backward offsets clamped to its uptime less a second, dropped when none fits', () => {
  const offsets = { kind: 'offsets', offsets: new Map([['n1', -8], ['n2', 3], ['n3', -2]]) } as const;
  const uptime = (n: string): number => ({ n1: 5.7, n2: 0.2, n3: 1.5 })[n] ?? 0;
  const clamped = clampBackward(offsets, uptime);
  assert.deepEqual(clamped, { kind: 'offsets', offsets: new Map([['n1', -4], ['n2', 3]]) });
  assert.deepEqual(clampBackward({ kind: 'jump', member: 'n1', seconds: -3 }, () => 100), { kind: 'jump', member: 'n1', seconds: -3 });
  assert.deepEqual(clampBackward({ kind: 'strobe', member: 'n1', seconds: -9, periodMs: 100 }, () => 4), { kind: 'strobe', member: 'n1', seconds: -3, periodMs: 100 });
  assert.equal(clampBackward({ kind: 'jump', member: 'n1', seconds: -3 }, () => 1.9), null);
  assert.deepEqual(clampBackward({ kind: 'jump', member: 'n1', seconds: 20 }, () => 0), { kind: 'jump', member: 'n1', seconds: 20 }, 'forward: any uptime');
});

test('skew is refused for etcd (Go reads the clock through the vDSO) and without libfaketime; allowed for quorate with it', () => {
  assert.match(skewRefusal('etcd', '/lib/libfaketime.so.1') ?? '', /not applicable to etcd: .*vDSO/);
  assert.match(skewRefusal('quorate', null) ?? '', /needs libfaketime \(Debian: apt-get install faketime/);
  assert.equal(skewRefusal('quorate', '/lib/libfaketime.so.1'), null);
  assert.equal(findFaketime(['/no/such/libfaketime.so.1']), null);
});

test('membership faults remove one member up to as many as leave a majority of the original size', () => {
  assert.equal(majority(3), 2);
  assert.equal(majority(4), 3);
  assert.equal(majority(5), 3);
  const random = new Prng(1);
  for (const n of [1, 2, 3, 4, 5, 7]) {
    const names = members(n);
    const counts = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const removed = chooseRemovals(random, names, n, null);
      counts.add(removed.length);
      assert.equal(new Set(removed).size, removed.length, 'distinct');
      for (const r of removed) assert.ok(names.includes(r));
      assert.ok(n - removed.length >= majority(n), `${n} members, ${removed.length} removed`);
    }
    const spare = n - majority(n);
    assert.deepEqual([...counts].sort(), spare <= 0 ? [0] : Array.from({ length: spare }, (_, i) => i + 1), `${n} members`);
  }
});

test('membership faults count the original size, not the members left; the leader is among the removed about half the time', () => {
  // Four voters left of five: one more may go (3 stay), not four-minus-majority(4).
  assert.equal(chooseRemovals(new Prng(2), members(3), 3, null).length, 1);
  assert.deepEqual(chooseRemovals(new Prng(2), members(2), 5, null), []);
  const random = new Prng(7);
  let withLeader = 0;
  for (let i = 0; i < 400; i++) if (chooseRemovals(random, members(3), 3, 'n2').includes('n2')) withLeader++;
  // Half aimed at it, plus a third of the rest by chance: about 2/3.
  assert.ok(withLeader > 200 && withLeader < 320, `${withLeader}`);
});

test('member changes: etcd and the protocols with the membership ability; a fixed membership and fewer than three members refused', () => {
  const changeable = membershipProtocols();
  for (const [name, p] of PROTOCOLS) {
    assert.equal(changeable.includes(name), p.membership !== undefined, name);
    const refusal = memberRefusal('quorate', name, changeable, 3);
    if (p.membership === undefined) assert.match(refusal ?? '', new RegExp(`not applicable to ${name}: its membership is fixed`));
    else assert.equal(refusal, null, name);
  }
  assert.ok(changeable.length >= 1);
  assert.equal(memberRefusal('etcd', 'anything', changeable, 3), null);
  assert.match(memberRefusal('etcd', 'anything', changeable, 2) ?? '', /needs at least 3 members/);
});

test('every fault of the issue is built; the default leaves out skew and member changes', () => {
  assert.deepEqual([...NEMESIS_KINDS].sort(), ['kill', 'member', 'partition', 'pause', 'skew']);
  assert.deepEqual([...DEFAULT_NEMESIS], ['partition', 'kill', 'pause']);
});

/**
 * What each partition of `quorate chaos` cuts, as iptables rules (`dropRules`, pure: no root), and
 * how the lab picks its subnet. The names must say what the rules do: a ring among three members
 * used to cut nothing while the report named it a fault.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseSubnet, dropRules, hears, prefixRange, type Cut, type Drop } from '../../src/chaos/lab.js';

const members = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${i + 1}`);
const key = (r: Drop): string => `${r.at}<${r.from}`;
const sorted = (rules: readonly Drop[]): string[] => rules.map(key).sort();
/** Whether `a` hears `b` under the rules. */
const heard = (rules: readonly Drop[], a: string, b: string): boolean => !rules.some((r) => r.at === a && r.from === b);

test('halves and an isolated member: symmetric cuts between the groups, none within', () => {
  const names = members(5);
  const rules = dropRules({ kind: 'groups', groups: [['n1', 'n2'], ['n3', 'n4', 'n5']] }, names);
  for (const a of names) {
    for (const b of names) {
      if (a === b) continue;
      const same = (['n1', 'n2'].includes(a) && ['n1', 'n2'].includes(b)) || (['n3', 'n4', 'n5'].includes(a) && ['n3', 'n4', 'n5'].includes(b));
      assert.equal(heard(rules, a, b), same, `${a} hears ${b}`);
    }
  }
  assert.deepEqual(sorted(dropRules({ kind: 'groups', groups: [['n1'], ['n2', 'n3']] }, members(3))), ['n1<n2', 'n1<n3', 'n2<n1', 'n3<n1']);
});

test('a bridge: the bridge member reaches both halves, the halves not each other', () => {
  const rules = dropRules({ kind: 'groups', groups: [['n3', 'n1'], ['n3', 'n2']] }, members(3));
  assert.deepEqual(sorted(rules), ['n1<n2', 'n2<n1']);
});

test('a member in no group reaches no one', () => {
  const rules = dropRules({ kind: 'groups', groups: [['n1', 'n2']] }, members(3));
  assert.deepEqual(sorted(rules), ['n1<n3', 'n2<n3', 'n3<n1', 'n3<n2']);
});

test('one-way: every other member drops what the one sends; it still hears them', () => {
  const rules = dropRules({ kind: 'one-way', from: 'n2', to: ['n1', 'n3'] }, members(3));
  assert.deepEqual(sorted(rules), ['n1<n2', 'n3<n2']);
  assert.ok(heard(rules, 'n2', 'n1') && heard(rules, 'n2', 'n3'));
});

test('the majorities ring cuts something among three members: each hears a majority, no two the same', () => {
  for (let n = 3; n <= 9; n++) {
    const names = members(n);
    const cut: Cut = { kind: 'ring', order: [...names].reverse() };
    const rules = dropRules(cut, names);
    assert.ok(rules.length > 0, `${n} members: the ring cuts nothing`);
    const majority = Math.floor(n / 2) + 1;
    const heardBy = hears(rules, names);
    const majorities = new Set<string>();
    for (const [at, set] of heardBy) {
      assert.equal(set.length, majority, `${n} members: ${at} hears ${set.join(' ')}`);
      assert.ok(set.includes(at));
      majorities.add([...set].sort().join(' '));
    }
    assert.equal(majorities.size, n, `${n} members: every member hears a majority of its own`);
  }
});

test('the ring among three is one-way around the ring; among four and five each member hears its two neighbours', () => {
  assert.deepEqual(sorted(dropRules({ kind: 'ring', order: ['a', 'b', 'c'] }, ['a', 'b', 'c'])), ['a<b', 'b<c', 'c<a']);
  const five = ['a', 'b', 'c', 'd', 'e'];
  const rules = dropRules({ kind: 'ring', order: five }, five);
  const heardBy = hears(rules, five);
  assert.deepEqual(heardBy.get('c'), ['b', 'c', 'd']);
  assert.deepEqual(heardBy.get('a'), ['a', 'b', 'e']);
  // Symmetric for five: each drops exactly the two members that drop it.
  for (const r of rules) assert.ok(rules.some((s) => s.at === r.from && s.from === r.at), key(r));
  assert.deepEqual(sorted(dropRules({ kind: 'ring', order: ['a', 'b', 'c', 'd'] }, ['a', 'b', 'c', 'd'])), ['a<c', 'b<d', 'c<a', 'd<b']);
});

test('prefixes: a route or an address as the range of addresses it covers', () => {
  assert.deepEqual(prefixRange('10.0.0.0/8'), [10 * 2 ** 24, 11 * 2 ** 24 - 1]);
  assert.deepEqual(prefixRange('10.1.2.3'), [prefixRange('10.1.2.3/32')![0], prefixRange('10.1.2.3/32')![1]]);
  assert.deepEqual(prefixRange('10.1.2.77/24'), prefixRange('10.1.2.0/24'));
  assert.equal(prefixRange('default'), null);
  assert.equal(prefixRange('fe80::/64'), null);
});

test('the subnet: the one the pid names unless the host routes it, then another; never one the host has', () => {
  const pid = 4242;
  const first = chooseSubnet(pid, [])!;
  assert.deepEqual(first, { a: 64 + (pid % 128), b: Math.floor(pid / 128) % 256 });
  // The host routes that /24 (another lab's bridge, a VPN): another subnet.
  const taken = `10.${first.a}.${first.b}.0/24`;
  const second = chooseSubnet(pid, [taken])!;
  assert.notDeepEqual(second, first);
  // A wider route that covers the pid's subnet (a container network's 10.64.0.0/12): outside it.
  const wide = chooseSubnet(pid, ['10.64.0.0/12', '192.168.0.0/16'])!;
  assert.ok(wide.a >= 80, `10.${wide.a}.${wide.b}.0/24 is inside 10.64.0.0/12`);
  // Addresses inside a /24 (the local table's host routes) count too.
  assert.notDeepEqual(chooseSubnet(pid, [`10.${first.a}.${first.b}.254`]), first);
  // The default route is not a reason to move.
  assert.deepEqual(chooseSubnet(pid, ['0.0.0.0/0']), first);
  // Every candidate taken: none.
  assert.equal(chooseSubnet(pid, ['10.0.0.0/8']), null);
  // Two harnesses whose pids agree modulo 32768 took one subnet (and one another's clients).
  assert.notDeepEqual(chooseSubnet(pid + 32768, [taken]), first);
});

/**
 * A KV snapshot restored in slices (beginRestore, see snapshot-decoding.ts) gives the state a whole
 * restore gives: for random states with leases, auth, sessions and compactions; from format 1 and
 * format 2 snapshots; and from another field order. An unknown format stops at the first step with
 * the existing message; a truncated or corrupt snapshot throws at some step and leaves the state
 * machine as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvStateMachine, encodeKvCommand, type KvRequest, type PasswordHash } from '../../src/statemachine/mvcc/index.js';
import type { AuthRequest } from '../../src/statemachine/mvcc/auth-store.js';
import type { LeaseRequest } from '../../src/statemachine/mvcc/leases.js';
import { index } from '../../src/core/ids.js';
import { Prng } from '../../src/core/prng.js';
import { pack, unpack } from '../../src/core/codec.js';

const b = (s: string): Uint8Array => Buffer.from(s);
const HASH: PasswordHash = { algorithm: 'scrypt', n: 16384, r: 8, p: 1, salt: Buffer.from('salt'), hash: Buffer.from('hash') };

function writer(kv: KvStateMachine) {
  let seq = 0;
  return (request: KvRequest | AuthRequest | LeaseRequest, user?: string) => {
    seq++;
    return kv.apply(encodeKvCommand({ client: `c${seq % 4}`, seq, lowestPending: Math.max(1, seq - 3), request, ...(user === undefined ? {} : { user }) }), index(seq));
  };
}

function randomWrite(random: Prng, n: number): KvRequest | LeaseRequest {
  // Keys with bytes above 0x7f too: their text is not ASCII (the codec's slow path).
  const key = random.chance(0.1) ? Uint8Array.of(0x6b, 0xe9, random.int(0, 255)) : b(`key-${random.int(0, 80)}`);
  const r = random.int(0, 99);
  if (r < 15) return { op: 'delete', key, rangeEnd: b(''), prevKv: false };
  if (r < 20) return { op: 'lease-grant', id: String(random.int(1, 6)), ttlSeconds: 30 };
  if (r < 22) return { op: 'lease-revoke', id: String(random.int(1, 6)) };
  if (r < 24) return { op: 'compact', revision: Math.max(1, n - random.int(5, 40)) };
  const lease = random.chance(0.3) ? String(random.int(1, 6)) : '0';
  return { op: 'put', key, value: new Uint8Array(random.int(0, 200)).fill(n & 0xff), lease, prevKv: false, ignoreValue: false, ignoreLease: false };
}

/** A state with keys, leases, compactions, sessions, auth users and roles. */
function randomState(seed: number, writes: number): KvStateMachine {
  const random = new Prng(seed);
  const kv = new KvStateMachine();
  const write = writer(kv);
  write({ op: 'user-add', name: 'root', password: HASH });
  write({ op: 'role-add', name: 'root' });
  write({ op: 'user-grant-role', user: 'root', role: 'root' });
  write({ op: 'user-add', name: `u${seed}`, password: HASH });
  for (let i = 0; i < writes; i++) write(randomWrite(random, i));
  return kv;
}

/** Restore `data` in slices of random budgets; how many steps it took. */
function restoreSliced(kv: KvStateMachine, data: Uint8Array, random: Prng, maxBudget = 3000): number {
  const restoring = kv.beginRestore(data);
  let steps = 1;
  while (!restoring.step(random.int(1, maxBudget))) steps++;
  restoring.install();
  return steps;
}

/** What a snapshot's bytes do not show: the key order, leases' keys, what later writes do to both. */
function sameBehaviour(a: KvStateMachine, b2: KvStateMachine, seed: number, what: string): void {
  assert.ok(Buffer.from(a.snapshot()).equals(Buffer.from(b2.snapshot())), `${what}: the same snapshot`);
  const all: KvRequest = {
    op: 'range', key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0), limit: 0, revision: 0, sortOrder: 'NONE', sortTarget: 'KEY',
    keysOnly: false, countOnly: false, minModRevision: 0, maxModRevision: 0, minCreateRevision: 0, maxCreateRevision: 0,
  };
  assert.deepEqual(a.execute(all), b2.execute(all), `${what}: the same range over every key, in order`);
  const random = new Prng(seed + 1000);
  const wa = writer(a);
  const wb = writer(b2);
  for (let i = 0; i < 60; i++) {
    const req = randomWrite(random, 5000 + i);
    assert.deepEqual(wa(req), wb(req), `${what}: write ${i} (${req.op}) answers the same`);
  }
  assert.ok(Buffer.from(a.snapshot()).equals(Buffer.from(b2.snapshot())), `${what}: the same state after later writes`);
  assert.equal(a.store.approximateBytes(), b2.store.approximateBytes(), `${what}: the same bytes counted`);
}

test('a restore in slices gives the state a whole restore gives (random states with leases, auth, sessions, compactions)', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const source = randomState(seed, 300);
    const data = source.snapshot();
    const whole = new KvStateMachine();
    whole.restore(data);
    const sliced = randomState(seed + 50, 40); // a state of its own to replace
    const steps = restoreSliced(sliced, data, new Prng(seed));
    assert.ok(steps > 10, `seed ${seed}: ${steps} steps`);
    sameBehaviour(whole, sliced, seed, `seed ${seed}`);
  }
});

test('a key written many times since its last compaction is decoded a few versions per slice, not in one slice', () => {
  // One key entry holds the key's whole history: decoded whole, 200k versions were one slice of
  // about 0.8 s, however small the budget. Each version counts 1 KiB of a slice.
  const source = new KvStateMachine();
  const write = writer(source);
  for (let i = 0; i < 3000; i++) {
    write({ op: 'put', key: b('hot'), value: new Uint8Array(8).fill(i & 0xff), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false });
  }
  write({ op: 'put', key: b('cold'), value: b('v'), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false });
  const data = source.snapshot();
  const whole = new KvStateMachine();
  whole.restore(data);
  const sliced = randomState(31, 40);
  const restoring = sliced.beginRestore(data);
  let steps = 1;
  while (!restoring.step(64 * 1024)) steps++;
  restoring.install();
  assert.ok(steps >= 40, `3000 versions at 1 KiB each in slices of 64 KiB: ${steps} steps`);
  sameBehaviour(whole, sliced, 31, 'a long history');
});

test('the state does not change until install(): reads during the steps see the old state', () => {
  const old = randomState(7, 100);
  const before = old.snapshot();
  const restoring = old.beginRestore(randomState(8, 200).snapshot());
  while (!restoring.step(500)) assert.ok(Buffer.from(old.snapshot()).equals(Buffer.from(before)), 'unchanged while decoding');
  assert.ok(Buffer.from(old.snapshot()).equals(Buffer.from(before)), 'unchanged once decoded');
  restoring.install();
  assert.ok(Buffer.from(old.snapshot()).equals(Buffer.from(randomState(8, 200).snapshot())), 'replaced at install()');
  assert.throws(() => restoring.install(), /installed once/);
});

test('format 1 (lease ids as numbers) and format 2 snapshots, and another field order, restore alike in slices and whole', () => {
  const source = randomState(11, 300);
  const snap = unpack(source.snapshot()) as { format: number; keys: [string, unknown[][]][]; leases: unknown[][] };
  assert.equal(snap.format, 2);
  const format2 = pack(snap);
  const v1 = unpack(source.snapshot()) as typeof snap;
  v1.format = 1;
  for (const [, revs] of v1.keys) for (const r of revs) r[5] = Number(r[5]);
  for (const l of v1.leases) l[0] = Number(l[0]);
  const format1 = pack(v1);
  // The keys last, the format after them: the first step unpacks it whole, the keys still go in slices.
  const { keys, format, ...rest } = snap;
  const reordered = pack({ ...rest, keys, format });
  for (const [what, data] of [['format 2', format2], ['format 1', format1], ['keys last', reordered]] as const) {
    const whole = new KvStateMachine();
    whole.restore(data);
    const sliced = new KvStateMachine();
    const steps = restoreSliced(sliced, data, new Prng(3));
    assert.ok(steps > 10, `${what}: ${steps} steps`);
    sameBehaviour(whole, sliced, 11, what);
    sameBehaviour(source, sliced, 11, `${what} against the source`);
  }
});

test('an unknown format stops at the first step with its message, before any key is decoded', () => {
  const snap = unpack(randomState(12, 50).snapshot()) as { format: number };
  snap.format = 3;
  const kv = randomState(13, 30);
  const before = kv.snapshot();
  const restoring = kv.beginRestore(pack(snap));
  assert.throws(() => restoring.step(1), /unknown KV snapshot format 3 \(this build reads 1 and 2\)/);
  assert.throws(() => kv.restore(pack(snap)), /unknown KV snapshot format 3 \(this build reads 1 and 2\)/);
  assert.ok(Buffer.from(kv.snapshot()).equals(Buffer.from(before)), 'the old state is untouched');
});

/** Step `data` to the end or to an error; the error, or null. */
function stepToError(kv: KvStateMachine, data: Uint8Array, budget: number): Error | null {
  try {
    const restoring = kv.beginRestore(data);
    while (!restoring.step(budget));
    return null;
  } catch (err) {
    return err as Error;
  }
}

test('a truncated snapshot throws at some step and leaves the state as it was', () => {
  const data = randomState(14, 200).snapshot();
  const kv = randomState(15, 60);
  const before = kv.snapshot();
  const random = new Prng(4);
  const cuts = [0, 1, 2, 5, 20, data.byteLength - 1, data.byteLength - 2];
  for (let i = 0; i < 60; i++) cuts.push(random.int(1, data.byteLength - 1));
  for (const cut of cuts) {
    const err = stepToError(kv, data.subarray(0, cut), 700);
    assert.ok(err !== null, `cut at ${cut} of ${data.byteLength}: refused`);
    assert.ok(Buffer.from(kv.snapshot()).equals(Buffer.from(before)), `cut at ${cut}: the old state is untouched`);
  }
  // Trailing bytes are refused too.
  const longer = new Uint8Array(data.byteLength + 3);
  longer.set(data);
  assert.match(String(stepToError(kv, longer, 700)), /bytes follow its end|Extra bytes/);
});

test('a corrupt key entry or table throws a clear error at some step and leaves the state as it was', () => {
  const snap = unpack(randomState(16, 100).snapshot()) as { keys: unknown[] };
  const kv = randomState(17, 60);
  const before = kv.snapshot();
  const cases: [string, (keys: unknown[]) => void, RegExp][] = [
    ['an entry that is no pair', (k) => { k[30] = 'garbage'; }, /unreadable KV snapshot: key entry 30 is no \[key, versions\]/],
    ['a version with a text revision', (k) => { ((k[31] as unknown[])[1] as unknown[][])[0]![0] = 'x'; }, /key entry 31 has a revision that is no count/],
    ['a value that is no bytes', (k) => { ((k[32] as unknown[])[1] as unknown[][])[0]![4] = 42; }, /key entry 32 has a value that is no bytes/],
    ['a lease that is no int64', (k) => { ((k[33] as unknown[])[1] as unknown[][])[0]![5] = 'seven'; }, /key entry 33 names a lease that is no int64/],
    ['a key twice', (k) => { k[34] = k[35]; }, /restored twice/],
  ];
  for (const [what, corrupt, message] of cases) {
    const copy = unpack(pack(snap)) as { keys: unknown[] };
    corrupt(copy.keys);
    const err = stepToError(kv, pack(copy), 2000);
    assert.ok(err !== null, `${what}: refused`);
    assert.match(err.message, message, what);
    assert.ok(Buffer.from(kv.snapshot()).equals(Buffer.from(before)), `${what}: the old state is untouched`);
  }
  // A table besides the keys that its own restore refuses: refused before the swap, not halfway through it.
  const badAuth = unpack(pack(snap)) as { auth: { format: number } };
  badAuth.auth.format = 99;
  const authErr = stepToError(kv, pack(badAuth), 2000);
  assert.match(String(authErr), /unknown auth snapshot format 99/);
  assert.throws(() => kv.restore(pack(badAuth)), /unknown auth snapshot format 99/);
  assert.ok(Buffer.from(kv.snapshot()).equals(Buffer.from(before)), 'a refused auth table: the old state is untouched');
  // Random byte flips: refused at some step, or (a flip inside a value) a state; never a half-installed one.
  const data = randomState(18, 100).snapshot();
  const random = new Prng(5);
  for (let i = 0; i < 200; i++) {
    const flipped = data.slice();
    const at = random.int(0, data.byteLength - 1);
    flipped[at] = flipped[at]! ^ (1 << random.int(0, 7));
    const err = stepToError(kv, flipped, 900);
    if (err !== null) assert.ok(Buffer.from(kv.snapshot()).equals(Buffer.from(before)), `flip ${i}: the old state is untouched`);
  }
});

test('restore() is beginRestore() stepped to its end: the same state, one code path', () => {
  const data = randomState(19, 150).snapshot();
  const a = new KvStateMachine();
  a.restore(data);
  const b2 = new KvStateMachine();
  const r = b2.beginRestore(data);
  assert.equal(r.step(Number.POSITIVE_INFINITY) || r.step(Number.POSITIVE_INFINITY) || r.step(Number.POSITIVE_INFINITY) || r.step(Number.POSITIVE_INFINITY) || r.step(Number.POSITIVE_INFINITY), true, 'an unbounded step ends each phase');
  r.install();
  sameBehaviour(a, b2, 19, 'whole and stepped');
});

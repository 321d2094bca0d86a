/**
 * Issue 15: the store's size is kept as versions come and go (Status and the quota check read it
 * without walking the store), and the snapshot a client downloads holds no token key; a cluster
 * restored from it gets one through the log ('auth-token-key'), which fills a missing key only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unpack } from '../../src/core/codec.js';
import { index } from '../../src/core/ids.js';
import { AuthStore, KvStateMachine, encodeKvCommand, decodeKvCommand, MvccStore, KEY_OVERHEAD_BYTES, VERSION_OVERHEAD_BYTES, type KvCommand, type PasswordHash, type PutRequest } from '../../src/statemachine/mvcc/index.js';
import { KeyIndex } from '../../src/statemachine/mvcc/key-index.js';
import { Prng } from '../../src/core/prng.js';

const b = (s: string): Uint8Array => Buffer.from(s);
const HASH: PasswordHash = { algorithm: 'scrypt', n: 16384, r: 8, p: 1, salt: Buffer.from('salt'), hash: Buffer.from('hash') };
const KEY = new Uint8Array(32).fill(7);

function put(key: string, value: string): PutRequest {
  return { op: 'put', key: b(key), value: b(value), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false };
}

/** What the size was before it was kept incrementally: a walk over every kept version. */
function walkedBytes(store: MvccStore): number {
  let bytes = 0;
  for (const [key, revs] of store.state().keys) {
    bytes += key.length + KEY_OVERHEAD_BYTES;
    for (const r of revs) bytes += (r.value?.byteLength ?? 0) + VERSION_OVERHEAD_BYTES;
  }
  return bytes;
}

test('the kept size equals a walk over every version after puts, deletes, compactions and a restore; the peak holds until reset', () => {
  const rng = new Prng(15);
  const store = new MvccStore();
  let peak = 0;
  for (let i = 0; i < 2_000; i++) {
    const key = `k${rng.int(0, 49)}`;
    const roll = rng.int(0, 9);
    if (roll < 7) store.execute(put(key, 'v'.repeat(rng.int(0, 40))));
    else if (roll < 9) store.execute({ op: 'delete', key: b(key), rangeEnd: b(''), prevKv: false });
    else {
      const revision = store.revision - rng.int(0, 20);
      if (revision > store.state().compactRevision) store.execute({ op: 'compact', revision });
    }
    assert.equal(store.approximateBytes(), walkedBytes(store), `after step ${i}`);
    peak = Math.max(peak, store.approximateBytes());
    assert.equal(store.peakBytes(), peak);
  }
  store.resetPeakBytes();
  assert.equal(store.peakBytes(), store.approximateBytes());
  const copy = new MvccStore();
  copy.restore(store.state());
  assert.equal(copy.approximateBytes(), walkedBytes(store));
  assert.equal(copy.peakBytes(), copy.approximateBytes());
});

test('reading the size does not walk the store (Status and every write\'s quota check read it)', (t) => {
  const store = new MvccStore();
  for (let i = 0; i < 100; i++) store.execute(put(`k${i}`, 'value'));
  const walks = t.mock.method(KeyIndex.prototype, 'entries');
  store.approximateBytes();
  store.peakBytes();
  assert.equal(walks.mock.callCount(), 0);
});

function enabledMachine(): { sm: KvStateMachine; apply: (request: KvCommand['request'], user?: string) => ReturnType<KvStateMachine['apply']> } {
  const sm = new KvStateMachine();
  let seq = 0;
  const apply = (request: KvCommand['request'], user?: string) => {
    seq += 1;
    return sm.apply(encodeKvCommand({ client: 'c', seq, lowestPending: seq, request, ...(user === undefined ? {} : { user }) }), index(seq));
  };
  apply({ op: 'user-add', name: 'root', password: HASH });
  apply({ op: 'role-add', name: 'root' });
  apply({ op: 'user-grant-role', user: 'root', role: 'root' });
  apply({ op: 'auth-enable', tokenKey: KEY });
  apply(put('a', '1'), 'root');
  return { sm, apply };
}

test('the client snapshot holds no token key and no sessions; the log\'s snapshot holds both', () => {
  const { sm } = enabledMachine();
  const whole = unpack(sm.snapshot()) as { auth: { tokenKey: Uint8Array | null }; sessions: unknown[] };
  const client = unpack(sm.clientSnapshot()) as { auth: { tokenKey: Uint8Array | null; enabled: boolean }; sessions: unknown[] };
  assert.deepEqual(whole.auth.tokenKey, KEY);
  assert.ok(whole.sessions.length > 0);
  assert.equal(client.auth.tokenKey, null);
  assert.equal(client.auth.enabled, true);
  assert.deepEqual(client.sessions, []);
  assert.equal(Buffer.from(sm.clientSnapshot()).indexOf(Buffer.from(KEY)), -1, 'the key\'s bytes appear nowhere');
});

test('restored from a client snapshot: auth is on without a key until an auth-token-key command, which fills a missing key only', () => {
  const { sm } = enabledMachine();
  const restored = new KvStateMachine();
  restored.restore(sm.clientSnapshot());
  assert.equal(restored.auth.enabled, true);
  assert.equal(restored.auth.tokenKey, null);
  const apply = (request: KvCommand['request'], seq: number) =>
    restored.apply(encodeKvCommand({ client: 'r', seq, lowestPending: seq, request }), index(seq));
  const fresh = new Uint8Array(32).fill(9);
  assert.equal(apply({ op: 'auth-token-key', tokenKey: fresh }, 1).ok, true, 'no administrator needed: no caller chooses the key');
  assert.deepEqual(restored.auth.tokenKey, fresh);
  assert.equal(apply({ op: 'auth-token-key', tokenKey: new Uint8Array(32).fill(1) }, 2).ok, true);
  assert.deepEqual(restored.auth.tokenKey, fresh, 'a key that is there is never replaced');
  assert.equal(restored.auth.revision, sm.auth.revision, 'the auth revision counts changes of users and roles, not of the key');

  const disabled = new AuthStore();
  assert.equal(disabled.apply(null, { op: 'auth-token-key', tokenKey: fresh }), null);
  assert.equal((disabled.snapshot() as { tokenKey: unknown }).tokenKey, null, 'no key while auth is disabled');
  const short = encodeKvCommand({ client: 'x', seq: 1, lowestPending: 1, request: { op: 'auth-token-key', tokenKey: new Uint8Array(4) } });
  assert.equal(decodeKvCommand(short), null, 'a key shorter than 128 bits is no command');
});

/**
 * The replicated auth state on its own: etcd's root rules, key-range permissions (single keys,
 * ranges, prefixes, open-ended ranges, merged across roles), which keys a request touches, and
 * that the state survives a snapshot and is applied identically through the KV state machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AUTH_ERROR_MESSAGES, AuthStore, KvStateMachine, MAX_AUTH_PERMISSION_BYTES, MAX_MERGED_PERMISSION_BYTES, PERMISSION_OVERHEAD_BYTES, encodeKvCommand,
  type AuthRequest, type PasswordHash, type PutRequest, type RangeRequest, type TxnRequest,
} from '../../src/statemachine/mvcc/index.js';
import { hashPassword, mintToken, readToken, verifyPassword } from '../../src/server/auth-service.js';
import { index } from '../../src/core/ids.js';
import { pack, unpack } from '../../src/core/codec.js';

const b = (s: string): Uint8Array => Buffer.from(s);
const HASH: PasswordHash = { algorithm: 'scrypt', n: 16384, r: 8, p: 1, salt: Buffer.from('salt'), hash: Buffer.from('hash') };
const KEY = new Uint8Array(32).fill(7);

function put(key: string, prevKv = false): PutRequest {
  return { op: 'put', key: b(key), value: b('v'), lease: '0', prevKv, ignoreValue: false, ignoreLease: false };
}
function range(key: string, end = ''): RangeRequest {
  return {
    op: 'range', key: b(key), rangeEnd: b(end), limit: 0, revision: 0, sortOrder: 'NONE', sortTarget: 'KEY',
    keysOnly: false, countOnly: false, minModRevision: 0, maxModRevision: 0, minCreateRevision: 0, maxCreateRevision: 0,
  };
}

/** Apply as root (or anyone while auth is off) and insist it worked. */
function must(store: AuthStore, req: AuthRequest, user: string | null = 'root'): void {
  assert.equal(store.apply(user, req), null, `${req.op} should succeed`);
}

function withRootAndEnabled(): AuthStore {
  const s = new AuthStore();
  must(s, { op: 'user-add', name: 'root', password: HASH }, null);
  must(s, { op: 'role-add', name: 'root' }, null);
  must(s, { op: 'user-grant-role', user: 'root', role: 'root' }, null);
  must(s, { op: 'auth-enable', tokenKey: KEY }, null);
  return s;
}

test('auth enable needs a user root holding the role root; enabling twice changes nothing', () => {
  const s = new AuthStore();
  assert.equal(s.apply(null, { op: 'auth-enable', tokenKey: KEY }), 'root-user-not-exist');
  must(s, { op: 'user-add', name: 'root', password: HASH }, null);
  assert.equal(s.apply(null, { op: 'auth-enable', tokenKey: KEY }), 'root-role-not-exist');
  must(s, { op: 'user-grant-role', user: 'root', role: 'root' }, null); // as etcd: root may be granted before the role exists
  must(s, { op: 'auth-enable', tokenKey: KEY }, null);
  assert.equal(s.enabled, true);
  const revision = s.revision;
  must(s, { op: 'auth-enable', tokenKey: new Uint8Array(32) });
  assert.equal(s.revision, revision, 'a second enable is a no-op');
  assert.deepEqual(s.tokenKey, KEY, 'the first key stays');
});

test('while enabled: root cannot be deleted, lose its root role, nor the root role be deleted; others are refused admin', () => {
  const s = withRootAndEnabled();
  assert.equal(s.apply('root', { op: 'user-delete', name: 'root' }), 'invalid-auth-mgmt');
  assert.equal(s.apply('root', { op: 'user-revoke-role', name: 'root', role: 'root' }), 'invalid-auth-mgmt');
  assert.equal(s.apply('root', { op: 'role-delete', role: 'root' }), 'invalid-auth-mgmt');
  must(s, { op: 'user-add', name: 'alice', password: HASH });
  assert.equal(s.apply('alice', { op: 'role-add', name: 'x' }), 'permission-denied');
  assert.equal(s.apply(null, { op: 'role-add', name: 'x' }), 'user-empty');
  assert.equal(s.apply('ghost', { op: 'role-add', name: 'x' }), 'user-not-found');
  assert.equal(s.apply('root', { op: 'user-add', name: 'alice', password: HASH }), 'user-already-exist');
  assert.equal(s.apply('root', { op: 'user-add', name: '', password: HASH }), 'user-empty');
  assert.equal(s.apply('root', { op: 'role-add', name: '' }), 'role-empty');
  assert.equal(s.apply('root', { op: 'user-revoke-role', name: 'alice', role: 'root' }), 'role-not-granted');
  assert.equal(s.apply('root', { op: 'role-revoke-permission', role: 'root', key: b('a'), rangeEnd: b('') }), 'permission-not-granted');
  must(s, { op: 'auth-disable' });
  assert.equal(s.tokenKey, null, 'disabling voids every token');
  must(s, { op: 'user-delete', name: 'root' }, null);
});

test('root may do everything; without a token nothing is allowed; while disabled everything is', () => {
  const s = withRootAndEnabled();
  assert.equal(s.checkRequest('root', put('any')), null);
  assert.equal(s.checkRequest('root', { op: 'compact', revision: 1 }), null);
  assert.equal(s.checkRequest(null, range('a')), 'user-empty');
  assert.equal(s.checkRequest('ghost', range('a')), 'permission-denied');
  must(s, { op: 'auth-disable' });
  assert.equal(s.checkRequest(null, put('a')), null);
});

test('permissions: single keys, ranges, prefixes and open-ended ranges, merged across roles', () => {
  const s = withRootAndEnabled();
  must(s, { op: 'user-add', name: 'alice', password: HASH });
  must(s, { op: 'role-add', name: 'r1' });
  must(s, { op: 'role-add', name: 'r2' });
  must(s, { op: 'role-grant-permission', name: 'r1', perm: { permType: 'READ', key: b('foo'), rangeEnd: b('') } });
  must(s, { op: 'role-grant-permission', name: 'r1', perm: { permType: 'READWRITE', key: b('app/'), rangeEnd: b('app0') } });
  must(s, { op: 'role-grant-permission', name: 'r2', perm: { permType: 'WRITE', key: b('k1'), rangeEnd: b('k5') } });
  must(s, { op: 'role-grant-permission', name: 'r2', perm: { permType: 'READ', key: b('k5'), rangeEnd: b('k9') } });
  must(s, { op: 'role-grant-permission', name: 'r2', perm: { permType: 'READ', key: b('z'), rangeEnd: b('\0') } });
  assert.equal(s.checkRange('alice', b('foo'), b('')), 'permission-denied', 'no roles yet');
  must(s, { op: 'user-grant-role', user: 'alice', role: 'r1' });
  must(s, { op: 'user-grant-role', user: 'alice', role: 'r2' });

  assert.equal(s.checkRange('alice', b('foo'), b('')), null);
  assert.equal(s.checkWrite('alice', b('foo'), b('')), 'permission-denied', 'read only');
  assert.equal(s.checkRange('alice', b('foo'), b('fop')), 'permission-denied', 'a range wider than the single key');
  assert.equal(s.checkRange('alice', b('app/'), b('app0')), null, 'the prefix');
  assert.equal(s.checkRange('alice', b('app/x'), b('app/y')), null, 'inside the prefix');
  assert.equal(s.checkRange('alice', b('app'), b('app0')), 'permission-denied', 'starts before the prefix');
  assert.equal(s.checkWrite('alice', b('k3'), b('')), null);
  assert.equal(s.checkWrite('alice', b('k5'), b('')), 'permission-denied', 'range ends are exclusive');
  assert.equal(s.checkRange('alice', b('k3'), b('')), 'permission-denied', 'write only');
  assert.equal(s.checkRange('alice', b('z'), b('\0')), null, 'open-ended');
  assert.equal(s.checkRange('alice', b('zzz'), b('')), null);
  assert.equal(s.checkRange('alice', b('\0'), b('\0')), 'permission-denied', 'every key');

  // Adjacent grants from different roles join up: [k1,k5) write + nothing… read [k5,k9) only.
  must(s, { op: 'role-grant-permission', name: 'r1', perm: { permType: 'READ', key: b('k1'), rangeEnd: b('k5') } });
  assert.equal(s.checkRange('alice', b('k2'), b('k7')), null, 'covered by [k1,k5) from r1 and [k5,k9) from r2');
  // Granting the same range again replaces its type; revoking takes it away.
  must(s, { op: 'role-grant-permission', name: 'r1', perm: { permType: 'READ', key: b('app/'), rangeEnd: b('app0') } });
  assert.equal(s.checkWrite('alice', b('app/x'), b('')), 'permission-denied');
  must(s, { op: 'role-revoke-permission', role: 'r1', key: b('app/'), rangeEnd: b('app0') });
  assert.equal(s.checkRange('alice', b('app/x'), b('')), 'permission-denied');
  // Deleting a role takes it from its users.
  must(s, { op: 'role-delete', role: 'r2' });
  assert.deepEqual(s.userGet('root', 'alice'), ['r1']);
  assert.equal(s.checkRange('alice', b('zzz'), b('')), 'permission-denied');
});

test('a request needs every key it touches: prev_kv needs read, txn compares need read, compaction needs root', () => {
  const s = withRootAndEnabled();
  must(s, { op: 'user-add', name: 'w', password: HASH });
  must(s, { op: 'role-add', name: 'writer' });
  must(s, { op: 'role-grant-permission', name: 'writer', perm: { permType: 'WRITE', key: b('a'), rangeEnd: b('') } });
  must(s, { op: 'user-grant-role', user: 'w', role: 'writer' });
  assert.equal(s.checkRequest('w', put('a')), null);
  assert.equal(s.checkRequest('w', put('a', true)), 'permission-denied');
  const t: TxnRequest = { op: 'txn', compare: [{ key: b('a'), rangeEnd: b(''), target: 'VERSION', result: 'EQUAL', operand: 0 }], success: [put('a')], failure: [] };
  assert.equal(s.checkRequest('w', t), 'permission-denied');
  assert.equal(s.checkRequest('w', { ...t, compare: [] }), null);
  assert.equal(s.checkRequest('w', { ...t, compare: [], failure: [put('b')] }), 'permission-denied', 'both branches are checked');
  assert.equal(s.checkRequest('w', { op: 'compact', revision: 1 }), 'permission-denied');
});

test('users may read themselves and roles they hold; the root role reads as every key, read-write', () => {
  const s = withRootAndEnabled();
  must(s, { op: 'user-add', name: 'alice', password: HASH });
  must(s, { op: 'role-add', name: 'mine' });
  must(s, { op: 'role-add', name: 'other' });
  must(s, { op: 'user-grant-role', user: 'alice', role: 'mine' });
  assert.deepEqual(s.userGet('alice', 'alice'), ['mine']);
  assert.equal(s.userGet('alice', 'root'), 'permission-denied');
  assert.deepEqual(s.roleGet('alice', 'mine'), []);
  assert.equal(s.roleGet('alice', 'other'), 'permission-denied');
  assert.equal(s.userList('alice'), 'permission-denied');
  assert.deepEqual(s.userList('root'), ['alice', 'root']);
  assert.deepEqual(s.roleList('root'), ['mine', 'other', 'root']);
  const rootPerms = s.roleGet('root', 'root');
  assert.ok(Array.isArray(rootPerms));
  assert.deepEqual(rootPerms.map((p) => [p.permType, Buffer.from(p.key).toString(), [...p.rangeEnd]]), [['READWRITE', '', [0]]]);
});

test('the auth state is applied through the log, refused per user at apply, and survives a snapshot', () => {
  const sm = new KvStateMachine();
  let seq = 1;
  const apply = (request: Parameters<typeof encodeKvCommand>[0]['request'], user?: string) =>
    sm.apply(encodeKvCommand({ client: 'c', seq, lowestPending: seq++, request, ...(user === undefined ? {} : { user }) }), index(seq));
  assert.equal(apply({ op: 'user-add', name: 'root', password: HASH }).ok, true);
  assert.equal(apply({ op: 'user-grant-role', user: 'root', role: 'root' }).ok, true);
  assert.equal(apply({ op: 'user-add', name: 'bob', password: HASH }).ok, true);
  assert.equal(apply({ op: 'auth-enable', tokenKey: KEY }).ok, true);
  assert.deepEqual(apply(put('x')), { ok: false, error: 'user-empty' });
  assert.deepEqual(apply(put('x'), 'bob'), { ok: false, error: 'permission-denied' });
  assert.equal(apply(put('x'), 'root').ok, true);

  const copy = new KvStateMachine();
  copy.restore(sm.snapshot());
  assert.equal(copy.auth.enabled, true);
  assert.equal(copy.auth.revision, sm.auth.revision);
  assert.deepEqual(copy.auth.tokenKey, KEY);
  assert.deepEqual(copy.auth.userList('root'), ['bob', 'root']);
  const restored = copy.auth.passwordOf('bob');
  assert.deepEqual(restored === null ? null : { ...restored, salt: Buffer.from(restored.salt), hash: Buffer.from(restored.hash) }, HASH);
  assert.equal(copy.auth.checkRequest('bob', put('x')), 'permission-denied');
  assert.equal(copy.auth.checkRequest('root', put('x')), null);
});

test('apply is deterministic: two members applying the same log reach byte-identical snapshots', () => {
  const log: Parameters<typeof encodeKvCommand>[0][] = [
    { client: 'c', seq: 1, lowestPending: 1, request: { op: 'user-add', name: 'root', password: HASH } },
    { client: 'c', seq: 2, lowestPending: 2, request: { op: 'user-grant-role', user: 'root', role: 'root' } },
    { client: 'c', seq: 3, lowestPending: 3, request: { op: 'role-add', name: 'r' } },
    { client: 'c', seq: 4, lowestPending: 4, request: { op: 'role-grant-permission', name: 'r', perm: { permType: 'READWRITE', key: b('a'), rangeEnd: b('b') } } },
    { client: 'c', seq: 5, lowestPending: 5, request: { op: 'user-add', name: 'u', password: null } },
    { client: 'c', seq: 6, lowestPending: 6, request: { op: 'user-grant-role', user: 'u', role: 'r' } },
    { client: 'c', seq: 7, lowestPending: 7, request: { op: 'auth-enable', tokenKey: KEY } },
    { client: 'c', seq: 8, lowestPending: 8, request: put('a1'), user: 'u' },
    { client: 'c', seq: 9, lowestPending: 9, request: put('c1'), user: 'u' },
    { client: 'c', seq: 10, lowestPending: 10, request: { op: 'role-delete', role: 'r' }, user: 'root' },
  ];
  const members = [new KvStateMachine(), new KvStateMachine()];
  const outcomes = members.map((sm) => log.map((cmd, i) => sm.apply(encodeKvCommand(cmd), index(i + 1))));
  assert.deepEqual(outcomes[0], outcomes[1]);
  assert.deepEqual(outcomes[0]?.slice(7, 9).map((o) => o.ok), [true, false]);
  assert.deepEqual(Buffer.from(members[0]!.snapshot()), Buffer.from(members[1]!.snapshot()));
});

test('passwords: scrypt with a random salt (two hashes of one password differ), verified in constant time', async () => {
  const a = await hashPassword('secret');
  const c = await hashPassword('secret');
  assert.notDeepEqual(a.salt, c.salt);
  assert.notDeepEqual(a.hash, c.hash);
  assert.equal(await verifyPassword('secret', a), true);
  assert.equal(await verifyPassword('Secret', a), false);
});

test('tokens: signed with the cluster key; a changed byte or another key is refused', () => {
  const token = mintToken(KEY, 'alice', 5, 60_000, 1_000);
  assert.deepEqual({ ...readToken(KEY, token), n: 'x' }, { u: 'alice', c: 5, e: 61_000, n: 'x' });
  const [payload, mac] = token.split('.') as [string, string];
  const forged = Buffer.from(JSON.stringify({ u: 'root', c: 5, e: 61_000, n: 'x' })).toString('base64url');
  assert.equal(readToken(KEY, `${forged}.${mac}`), null);
  assert.equal(readToken(new Uint8Array(32).fill(8), token), null);
  assert.equal(readToken(KEY, `${payload}.`), null);
  assert.equal(readToken(KEY, 'garbage'), null);
});

test('permission grants hold at most MAX_AUTH_PERMISSION_BYTES of keys in all (not only a count per role): one past it is refused, a revoke or a role delete frees its bytes, a restore counts them again', () => {
  const s = withRootAndEnabled();
  const big = 700 * 1024; // a key and a range end of a 1.4 MiB request, under the request limit
  const perm = (i: number) => {
    const key = Buffer.alloc(big, 0x61);
    key.writeUInt32BE(i, 0);
    return { permType: 'READ' as const, key, rangeEnd: Buffer.alloc(big, 0x62) };
  };
  const each = 2 * big + PERMISSION_OVERHEAD_BYTES;
  const fit = Math.floor(MAX_AUTH_PERMISSION_BYTES / each);
  must(s, { op: 'role-add', name: 'big' });
  for (let i = 0; i < fit; i++) must(s, { op: 'role-grant-permission', name: 'big', perm: perm(i) });
  assert.equal(s.permissionBytes, fit * each);
  // Fewer permissions than MAX_PERMISSIONS_PER_ROLE, and in another role: refused for their bytes.
  must(s, { op: 'role-add', name: 'other' });
  assert.equal(s.apply('root', { op: 'role-grant-permission', name: 'other', perm: perm(fit) }), 'too-many-permission-bytes');
  assert.equal(s.permissionBytes, fit * each, 'a refused grant holds nothing');
  // Granting a held range again (another type) adds no bytes.
  must(s, { op: 'role-grant-permission', name: 'big', perm: { ...perm(0), permType: 'READWRITE' } });
  assert.equal(s.permissionBytes, fit * each);
  // A snapshot restored counts what it holds.
  const restored = new AuthStore();
  restored.restore(s.snapshot());
  assert.equal(restored.permissionBytes, fit * each);
  must(s, { op: 'role-revoke-permission', role: 'big', key: perm(0).key, rangeEnd: perm(0).rangeEnd });
  must(s, { op: 'role-grant-permission', name: 'other', perm: perm(fit) });
  must(s, { op: 'role-delete', role: 'big' });
  assert.equal(s.permissionBytes, each, 'only the other role\'s permission is left');
  assert.equal(AUTH_ERROR_MESSAGES['too-many-permission-bytes'].startsWith('etcdserver: '), true);
});

test('a granted permission holds copies of its key and range end, not views of the command it came in', () => {
  const s = withRootAndEnabled();
  const frame = Buffer.from('xxxxapp/app0yyyy');
  must(s, { op: 'role-add', name: 'r' });
  must(s, { op: 'role-grant-permission', name: 'r', perm: { permType: 'READ', key: frame.subarray(4, 8), rangeEnd: frame.subarray(8, 12) } });
  const [p] = s.roleGet('root', 'r') as { key: Uint8Array; rangeEnd: Uint8Array }[];
  assert.equal(Buffer.from(p!.key).toString(), 'app/');
  assert.equal(p!.key.buffer.byteLength, 4, 'the key has a buffer of its own');
  assert.equal(p!.rangeEnd.buffer.byteLength, 4, 'so has the range end');
});

test('the per-user permission unions stay within MAX_MERGED_PERMISSION_BYTES however many users hold the same large roles', () => {
  const s = withRootAndEnabled();
  const big = 512 * 1024;
  must(s, { op: 'role-add', name: 'wide' });
  for (let i = 0; i < 8; i++) {
    const key = Buffer.alloc(big, 0x61);
    key.writeUInt32BE(i, 0);
    must(s, { op: 'role-grant-permission', name: 'wide', perm: { permType: 'READWRITE', key, rangeEnd: Buffer.alloc(big, 0x62) } });
  }
  const users = Math.ceil((2 * MAX_MERGED_PERMISSION_BYTES) / s.permissionBytes) + 1;
  for (let u = 0; u < users; u++) {
    must(s, { op: 'user-add', name: `u${u}`, password: HASH });
    must(s, { op: 'user-grant-role', user: `u${u}`, role: 'wide' });
  }
  for (let u = 0; u < users; u++) {
    assert.equal(s.checkRange(`u${u}`, b('c'), b('')), 'permission-denied', 'past every range end');
    assert.ok(s.mergedPermissionBytes <= MAX_MERGED_PERMISSION_BYTES, `${s.mergedPermissionBytes} bytes of unions after ${u + 1} users`);
  }
  // Still answered right after the unions were dropped.
  const inside = Buffer.alloc(big, 0x61);
  inside.writeUInt32BE(3, 0);
  assert.equal(s.checkWrite('u0', inside, b('')), null);
});

test('a restored snapshot\'s and a command\'s binary fields are copied, not views that keep the snapshot or frame alive', () => {
  const s = withRootAndEnabled();
  must(s, { op: 'role-add', name: 'r' });
  must(s, { op: 'role-grant-permission', name: 'r', perm: { permType: 'READ', key: b('app/'), rangeEnd: b('app0') } });
  // As a member restores one: decoded from the snapshot's bytes, whose binary fields are views of them.
  const bytes = pack(s.snapshot());
  const restored = new AuthStore();
  restored.restore(unpack(bytes));
  const [p] = restored.roleGet('root', 'r') as { key: Uint8Array; rangeEnd: Uint8Array }[];
  assert.equal(Buffer.from(p!.key).toString(), 'app/');
  assert.equal(p!.key.buffer.byteLength, 4, 'a restored key has a buffer of its own');
  assert.equal(p!.rangeEnd.buffer.byteLength, 4, 'so has its range end');
  const hash = restored.passwordOf('root')!;
  assert.equal(hash.salt.buffer.byteLength, hash.salt.byteLength, 'a restored password salt too');
  assert.equal(hash.hash.buffer.byteLength, hash.hash.byteLength, 'and hash');
  // A user added by a command: its hash is not a view of the command's frame.
  const frame = Buffer.concat([Buffer.alloc(1000), Buffer.from('saltyhashy')]);
  must(s, { op: 'user-add', name: 'u', password: { ...HASH, salt: frame.subarray(1000, 1005), hash: frame.subarray(1005, 1010) } });
  assert.equal(s.passwordOf('u')!.salt.buffer.byteLength, 5);
  assert.equal(s.passwordOf('u')!.hash.buffer.byteLength, 5);
});

test('a permission counts PERMISSION_OVERHEAD_BYTES besides its key and range end: tiny keys do not slip millions of permissions under the byte bound', () => {
  const s = withRootAndEnabled();
  must(s, { op: 'role-add', name: 'tiny' });
  for (let i = 0; i < 1024; i++) must(s, { op: 'role-grant-permission', name: 'tiny', perm: { permType: 'READ', key: Buffer.from([i >> 8, i & 255]), rangeEnd: b('') } });
  assert.equal(s.permissionBytes, 1024 * (PERMISSION_OVERHEAD_BYTES + 2));
  // So at most this many permissions in all, whatever their keys: tens of MB of heap, not gigabytes.
  assert.ok(MAX_AUTH_PERMISSION_BYTES / PERMISSION_OVERHEAD_BYTES <= 32_768);
});

/**
 * The Auth service in one process, on a state machine applied directly: who a token names
 * (expired, forged, revoked and absent tokens), Authenticate, and the watch permission hook
 * (a watch on keys the user may not read is cancelled with etcd's reason).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { KvStateMachine, encodeKvCommand, type AuthRequest, type AuthUser } from '../../src/statemachine/mvcc/index.js';
import { AuthService, WATCH_PERMISSION_DENIED_REASON, hashPassword, mintToken } from '../../src/server/auth-service.js';
import { index } from '../../src/core/ids.js';
import { errorOf } from './process-cluster.js';

const b = (s: string): Uint8Array => Buffer.from(s);

type Method = (request: object, metadata: grpc.Metadata) => Promise<Record<string, unknown>>;

/**
 * An Auth service on `kv` (a fresh one unless given). `origin`: the member it runs on under a
 * Byzantine protocol (its commands are applied as ordered by it, and it proves logins).
 */
function setup(origin?: string, kv = new KvStateMachine(), client = origin ?? 'test') {
  let seq = 1;
  /** The ops this service ordered, in order. */
  const ordered: string[] = [];
  const propose = (request: AuthRequest, user: AuthUser) => {
    ordered.push(request.op);
    return Promise.resolve(kv.apply(encodeKvCommand({ client, seq, lowestPending: seq++, request, ...(user === null ? {} : { user }) }), index(seq), origin));
  };
  const auth = new AuthService({
    kv, propose, readBarrier: () => Promise.resolve(),
    header: () => ({ cluster_id: '1', member_id: '1', revision: kv.store.revision, raft_term: 1 }),
    ...(origin === undefined ? {} : { proveLogins: { origin } }),
  });
  const methods = auth.methods((handler) => handler as unknown as grpc.UntypedHandleCall) as unknown as Record<string, Method>;
  const call = (name: string, request: object, token?: string) => {
    const md = new grpc.Metadata();
    if (token !== undefined) md.set('token', token);
    return Promise.resolve().then(() => methods[name]!(request, md)); // as the server wraps it: a throw becomes a rejection
  };
  return { kv, auth, propose, call, ordered };
}

const withToken = (token: string): grpc.Metadata => {
  const md = new grpc.Metadata();
  md.set('token', token);
  return md;
};


test('tokens: absent → anonymous; issued by Authenticate → the user; expired, forged or revoked → "invalid auth token"', async () => {
  const { kv, auth, propose, call } = setup();
  await call('UserAdd', { name: 'root', password: 'rootpw' });
  await call('UserGrantRole', { user: 'root', role: 'root' });
  await call('UserAdd', { name: 'alice', password: 'alicepw' });
  assert.equal(await auth.userOf(withToken('anything')), null, 'tokens are ignored while auth is disabled');
  assert.match(await errorOf(call('Authenticate', { name: 'alice', password: 'alicepw' })), /etcdserver: authentication is not enabled/);
  await call('AuthEnable', {});

  assert.equal(await auth.userOf(new grpc.Metadata()), null);
  const { token } = await call('Authenticate', { name: 'alice', password: 'alicepw' }) as { token: string };
  assert.equal(await auth.userOf(withToken(token)), 'alice');
  assert.match(await errorOf(call('Authenticate', { name: 'alice', password: 'nope' })), /etcdserver: authentication failed, invalid user ID or password/);

  const key = kv.auth.tokenKey!;
  const credential = kv.auth.credentialRevisionOf('alice')!;
  const expired = mintToken(key, 'alice', credential, 1_000, Date.now() - 10_000);
  assert.match(await errorOf(auth.userOf(withToken(expired))), /etcdserver: invalid auth token/);
  const forged = mintToken(new Uint8Array(32), 'root', kv.auth.credentialRevisionOf('root')!, 60_000, Date.now());
  assert.match(await errorOf(auth.userOf(withToken(forged))), /etcdserver: invalid auth token/);

  const rootToken = (await call('Authenticate', { name: 'root', password: 'rootpw' }) as { token: string }).token;
  await propose({ op: 'user-change-password', name: 'alice', password: await hashPassword('new') }, 'root');
  assert.match(await errorOf(auth.userOf(withToken(token))), /etcdserver: invalid auth token/, 'revoked by the password change');
  assert.equal(await auth.userOf(withToken(rootToken)), 'root', 'other users keep theirs');
  const err = await auth.userOf(withToken(token)).catch((e: grpc.ServiceError) => e);
  assert.equal((err as grpc.ServiceError).code, grpc.status.UNAUTHENTICATED);
});

test('watch hook: a watch on keys the user may not read gets etcd\'s cancel reason; readable ranges get none', async () => {
  const { auth, call } = setup();
  await call('UserAdd', { name: 'root', password: 'rootpw' });
  await call('UserGrantRole', { user: 'root', role: 'root' });
  await call('UserAdd', { name: 'alice', password: 'alicepw' });
  await call('RoleAdd', { name: 'app' });
  await call('RoleGrantPermission', { name: 'app', perm: { permType: 'READ', key: b('app/'), range_end: b('app0') } });
  await call('UserGrantRole', { user: 'alice', role: 'app' });
  await call('AuthEnable', {});
  assert.equal(WATCH_PERMISSION_DENIED_REASON, 'rpc error: code = PermissionDenied desc = etcdserver: permission denied');
  assert.equal(auth.watchCancelReason('alice', b('app/x'), b('')), null);
  assert.equal(auth.watchCancelReason('alice', b('app/'), b('app0')), null);
  assert.equal(auth.watchCancelReason('alice', b('app/'), b('\0')), WATCH_PERMISSION_DENIED_REASON, 'open-ended reaches past the prefix');
  assert.equal(auth.watchCancelReason('alice', b('other'), b('')), WATCH_PERMISSION_DENIED_REASON);
  assert.equal(auth.watchCancelReason(null, b('app/x'), b('')), WATCH_PERMISSION_DENIED_REASON, 'no token');
  assert.equal(auth.watchCancelReason('root', b('\0'), b('\0')), null);
  assert.equal(auth.checkRange('alice', b('other'), b(''))?.code, grpc.status.PERMISSION_DENIED);
});

test('admin calls: refused to non-root users before any hashing or log entry; a missing permission is refused', async () => {
  const { kv, call } = setup();
  await call('UserAdd', { name: 'root', password: 'rootpw' });
  await call('UserGrantRole', { user: 'root', role: 'root' });
  await call('UserAdd', { name: 'bob', password: 'bobpw' });
  await call('AuthEnable', {});
  const { token } = await call('Authenticate', { name: 'bob', password: 'bobpw' }) as { token: string };
  const revision = kv.auth.revision;
  assert.match(await errorOf(call('UserAdd', { name: 'eve', password: 'x' }, token)), /etcdserver: permission denied/);
  assert.match(await errorOf(call('UserAdd', { name: 'eve', password: 'x' })), /etcdserver: user name is empty/);
  assert.match(await errorOf(call('AuthStatus', {}, token)), /etcdserver: permission denied/);
  assert.equal(kv.auth.revision, revision);
  const rootToken = (await call('Authenticate', { name: 'root', password: 'rootpw' }) as { token: string }).token;
  assert.match(await errorOf(call('RoleGrantPermission', { name: 'root' }, rootToken)), /etcdserver: permission not given/);
  assert.deepEqual(await call('AuthStatus', {}, rootToken).then((r) => [r['enabled'], r['authRevision']]), [true, revision]);
});

/**
 * Every Auth RPC etcd keeps for administrators (its needAdminPermission list, plus UserGet and
 * RoleGet of another user or a role the caller lacks), with request fields that would succeed for
 * root: refused without a token and for a user without the role root, with etcd's texts, before
 * anything is ordered or hashed.
 */
const AUTH_ADMIN_CALLS: readonly [string, object][] = [
  ['AuthEnable', {}],
  ['AuthDisable', {}],
  ['AuthStatus', {}],
  ['UserAdd', { name: 'eve', password: 'evepw' }],
  ['UserGet', { name: 'root' }],
  ['UserList', {}],
  ['UserDelete', { name: 'bob' }],
  ['UserChangePassword', { name: 'bob', password: 'taken' }],
  ['UserGrantRole', { user: 'bob', role: 'root' }],
  ['UserRevokeRole', { name: 'bob', role: 'app' }],
  ['RoleAdd', { name: 'ops' }],
  ['RoleGet', { role: 'root' }],
  ['RoleList', {}],
  ['RoleDelete', { role: 'app' }],
  ['RoleGrantPermission', { name: 'app', perm: { permType: 'READWRITE', key: b('a'), range_end: b('b') } }],
  ['RoleRevokePermission', { role: 'app', key: b('app/'), range_end: b('app0') }],
];

test('every Auth admin RPC: "user name is empty" without a token, "permission denied" for a user without root; nothing ordered', async () => {
  const { kv, call, ordered } = setup();
  await call('UserAdd', { name: 'root', password: 'rootpw' });
  await call('UserGrantRole', { user: 'root', role: 'root' });
  await call('UserAdd', { name: 'bob', password: 'bobpw' });
  await call('RoleAdd', { name: 'app' });
  await call('RoleGrantPermission', { name: 'app', perm: { permType: 'READWRITE', key: b('app/'), range_end: b('app0') } });
  await call('UserGrantRole', { user: 'bob', role: 'app' });
  await call('AuthEnable', {});
  const { token: bob } = await call('Authenticate', { name: 'bob', password: 'bobpw' }) as { token: string };
  const [revision, orderedBefore] = [kv.auth.revision, ordered.length];
  for (const [method, request] of AUTH_ADMIN_CALLS) {
    assert.match(await errorOf(call(method, request)), /etcdserver: user name is empty/, `${method}, anonymous`);
    assert.match(await errorOf(call(method, request, bob)), /etcdserver: permission denied/, `${method}, bob`);
  }
  assert.equal(kv.auth.revision, revision, 'no auth change took effect');
  assert.deepEqual(ordered.slice(orderedBefore), [], 'nothing was ordered');
  // Root passes the check (so the refusals above are about the caller; a call may still fail on
  // what an earlier one of root's changed, a user or role deleted).
  const { token: root } = await call('Authenticate', { name: 'root', password: 'rootpw' }) as { token: string };
  for (const [method, request] of AUTH_ADMIN_CALLS.filter(([m]) => m !== 'AuthDisable')) {
    assert.doesNotMatch(await errorOf(call(method, request, root)), /user name is empty|permission denied|invalid auth token/, `${method}, root`);
  }
});

test('Byzantine protocols: Authenticate proves the login through the log; another member shown the token binds itself before acting as the user', async () => {
  const m1 = setup('m1');
  const { kv, call } = m1;
  await call('UserAdd', { name: 'root', password: 'rootpw' });
  await call('UserGrantRole', { user: 'root', role: 'root' });
  await call('AuthEnable', {});
  assert.equal(kv.auth.actsAs('m1', 'root'), false, 'no login yet');
  const { token } = await call('Authenticate', { name: 'root', password: 'rootpw' }) as { token: string };
  assert.equal(kv.auth.actsAs('m1', 'root'), true, 'the login went through the log, bound to m1');
  assert.equal(kv.auth.actsAs('m2', 'root'), false);
  assert.equal(await m1.auth.userOf(withToken(token)), 'root');
  // The proof lets m1 act as root: an admin change as root applies.
  await call('UserAdd', { name: 'alice', password: 'alicepw' }, token);
  assert.notEqual(kv.auth.credentialRevisionOf('alice'), null);
  // A token signed with the replicated key (which a lying member holds) is refused without the
  // session's seed, and with another seed; a token for another user with root's seed too.
  const minted = (sessionSeed?: Uint8Array, user = 'root') => mintToken(kv.auth.tokenKey!, user, kv.auth.credentialRevisionOf(user)!, 60_000, Date.now(), sessionSeed);
  assert.match(await errorOf(m1.auth.userOf(withToken(minted()))), /etcdserver: invalid auth token/);
  assert.match(await errorOf(m1.auth.userOf(withToken(minted(new Uint8Array(32).fill(1))))), /etcdserver: invalid auth token/);
  await call('UserAdd', { name: 'bob', password: 'bobpw' }, token);
  await call('Authenticate', { name: 'bob', password: 'bobpw' });
  const rootSeed = Buffer.from((JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as { s: string }).s, 'base64url');
  assert.match(await errorOf(m1.auth.userOf(withToken(minted(rootSeed, 'bob')))), /etcdserver: invalid auth token/, 'root\'s seed is no seed of bob\'s');
  // m1's token at m2: the user is root; m2 orders its binding the first time it acts as root, and only then.
  const m2 = setup('m2', kv);
  assert.equal(await m2.auth.userOf(withToken(token)), 'root');
  assert.equal(kv.auth.actsAs('m2', 'root'), false, 'a read binds nothing');
  await m2.call('UserAdd', { name: 'carol', password: 'carolpw' }, token);
  assert.notEqual(kv.auth.credentialRevisionOf('carol'), null, 'm2 acted as root with m1\'s token');
  assert.deepEqual(m2.ordered, ['auth-login-use', 'user-add']);
  assert.equal(kv.auth.actsAs('m2', 'root'), true);
  await m2.call('UserAdd', { name: 'dave', password: 'davepw' }, token);
  assert.deepEqual(m2.ordered, ['auth-login-use', 'user-add', 'user-add'], 'one binding per member');
  // Concurrent first requests at m3 share one binding.
  const m3 = setup('m3', kv);
  await Promise.all([1, 2, 3].map((i) => m3.auth.callerOf(withToken(token)).then((u) => assert.equal(u, 'root', `request ${i}`))));
  assert.deepEqual(m3.ordered, ['auth-login-use']);
  assert.match(await errorOf(m2.call('Authenticate', { name: 'root', password: 'wrong' })), /etcdserver: authentication failed/);
  // The password changes: the token dies at every member.
  await call('UserChangePassword', { name: 'root', password: 'rootpw2' }, token);
  for (const m of [m1, m2, m3]) assert.match(await errorOf(m.auth.userOf(withToken(token))), /etcdserver: invalid auth token/);
});

test('Byzantine protocols: Authenticate orders a login only when its member does not hold that one already (and still after a restart)', async () => {
  const m1 = setup('m1');
  const { kv, call, ordered } = m1;
  await call('UserAdd', { name: 'root', password: 'rootpw' });
  await call('UserGrantRole', { user: 'root', role: 'root' });
  await call('UserAdd', { name: 'alice', password: 'alicepw' });
  await call('AuthEnable', {});
  const logins = (o: string[]) => o.filter((op) => op === 'auth-login').length;
  const before = (await call('Authenticate', { name: 'root', password: 'rootpw' }) as { token: string }).token;
  await call('Authenticate', { name: 'root', password: 'rootpw' });
  await call('Authenticate', { name: 'root', password: 'rootpw' });
  assert.equal(logins(ordered), 1, 'one login for three Authenticates');
  await call('Authenticate', { name: 'alice', password: 'alicepw' });
  assert.equal(logins(ordered), 2, 'another user: its own login');
  // Another member is not bound to root's session: Authenticate there orders a binding, no login
  // (the session the password opens is the same on every member).
  const m2 = setup('m2', kv);
  await m2.call('Authenticate', { name: 'root', password: 'rootpw' });
  assert.deepEqual(m2.ordered, ['auth-login-use']);
  assert.equal(kv.auth.actsAs('m2', 'root'), true);
  await m2.call('Authenticate', { name: 'root', password: 'rootpw' });
  assert.deepEqual(m2.ordered, ['auth-login-use'], 'and nothing more');

  // A restart: the state comes back from a snapshot, logins included; nothing is ordered again.
  const restored = new KvStateMachine();
  restored.restore(kv.snapshot());
  const again = setup('m1', restored, 'm1-restarted');
  const { token } = await again.call('Authenticate', { name: 'root', password: 'rootpw' }) as { token: string };
  assert.equal(logins(again.ordered), 0, 'the login survived the restart');
  assert.equal(await again.auth.userOf(withToken(before)), 'root', 'and so did the token issued before it');
  await again.call('UserAdd', { name: 'bob', password: 'bobpw' }, token);
  assert.notEqual(restored.auth.credentialRevisionOf('bob'), null, 'and m1 acts as root on it');

  // A password change voids the login: the next Authenticate orders a new one.
  await again.call('UserChangePassword', { name: 'alice', password: 'alicepw2' }, token);
  await again.call('Authenticate', { name: 'alice', password: 'alicepw2' });
  assert.equal(logins(again.ordered), 1);
  // So does auth disable (and enable again, with a new token key).
  const rootToken = (await again.call('Authenticate', { name: 'root', password: 'rootpw' }) as { token: string }).token;
  assert.equal(logins(again.ordered), 1);
  await again.call('AuthDisable', {}, rootToken);
  await again.call('AuthEnable', {});
  await again.call('Authenticate', { name: 'root', password: 'rootpw' });
  assert.equal(logins(again.ordered), 2, 'a login under the old token key is no login under the new one');
  assert.equal(restored.auth.actsAs('m1', 'root'), true);
  // A snapshot a client downloads carries no logins: a cluster restored from it orders them anew.
  const fresh = new KvStateMachine();
  fresh.restore(restored.clientSnapshot());
  const m1Fresh = setup('m1', fresh);
  await m1Fresh.call('Authenticate', { name: 'root', password: 'rootpw' });
  assert.equal(logins(m1Fresh.ordered), 1);
  assert.equal(fresh.auth.actsAs('m1', 'root'), true);
});

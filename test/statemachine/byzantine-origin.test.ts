/**
 * Under a Byzantine protocol the state machine learns which member ordered each command (the
 * protocol checked its client's signature) and trusts that, not what the command claims: a lying
 * member can neither pre-seed nor close another member's session, nor expire a live lease alone,
 * nor act as a user (root) whose login it did not prove or whose token it was not shown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { index } from '../../src/core/ids.js';
import { encodeKvCommand, KvStateMachine, MAX_ALARM_VOTES_PER_MEMBER, type KvCommand, type KvOutcome, type LeaseResult } from '../../src/statemachine/mvcc/index.js';
import { legacyLoginStatement, loginKeyOf, loginStatement, loginUseStatement, sessionSeedOf, signLogin } from '../../src/statemachine/mvcc/login-proof.js';
import { checkPassword, hashPassword } from '../../src/server/auth-service.js';

const b = (s: string): Uint8Array => Buffer.from(s);
const put = (key: string, value: string): KvCommand['request'] =>
  ({ op: 'put', key: b(key), value: b(value), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false });
let at = 0;
const apply = (sm: KvStateMachine, origin: string, client: string, seq: number, request: KvCommand['request']): KvOutcome =>
  sm.apply(encodeKvCommand({ client, seq, lowestPending: seq, request }), index(++at), origin);
const applied = (o: KvOutcome): boolean => o.ok && (o.result as LeaseResult).applied;

test('a session belongs to the member that ordered it: a liar using an honest member\'s client id gets its own session', () => {
  const sm = new KvStateMachine();
  // m4 lies: it orders seq 1 of m1's session first, with a put of its own.
  const forged = apply(sm, 'm4', 'm1/session', 1, put('k', 'forged'));
  // m1's own seq 1 must take effect, not be answered with m4's cached result.
  const honest = apply(sm, 'm1', 'm1/session', 1, put('k', 'honest'));
  assert.equal(honest.ok, true);
  assert.notDeepEqual(honest, forged, 'm1 is not answered with the liar\'s result');
  assert.equal(sm.store.state().revision, 3, 'both puts took effect: m1\'s was not swallowed as a duplicate');
  // Nor can the liar close m1's session (a lowestPending far ahead) so that m1's retry is refused as stale.
  sm.apply(encodeKvCommand({ client: 'm1/other', seq: 1, lowestPending: 1_000, request: put('x', '1') }), index(++at), 'm4');
  assert.equal(apply(sm, 'm1', 'm1/other', 1, put('x', '2')).ok, true, 'm1\'s seq 1 is not a stale duplicate');
});

test('with an expiry quorum of f + 1 = 2, one member\'s lease-expire does not expire a live lease; two distinct members\' do', () => {
  const sm = new KvStateMachine(undefined, { leaseExpiryQuorum: 2 });
  assert.equal(apply(sm, 'm1', 'c1', 1, { op: 'lease-grant', id: '7', ttlSeconds: 10 }).ok, true);
  assert.equal(applied(apply(sm, 'm4', 'c4', 1, { op: 'lease-expire', id: '7', renewals: 0 })), false, 'one liar alone');
  assert.equal(applied(apply(sm, 'm4', 'c4', 2, { op: 'lease-expire', id: '7', renewals: 0 })), false, 'the same liar again');
  // A snapshot taken now carries the vote: a member restored from it decides alike.
  const restored = new KvStateMachine(undefined, { leaseExpiryQuorum: 2 });
  restored.restore(sm.snapshot());
  // A keep-alive in between voids the earlier vote.
  for (const s of [sm, restored]) assert.equal(apply(s, 'm1', 'c1', 2, { op: 'lease-renew', id: '7' }).ok, true);
  for (const s of [sm, restored]) assert.equal(applied(apply(s, 'm2', 'c2', 1, { op: 'lease-expire', id: '7', renewals: 0 })), false, 'a vote for a stale renewal count');
  for (const s of [sm, restored]) {
    assert.equal(applied(apply(s, 'm2', 'c2', 2, { op: 'lease-expire', id: '7', renewals: 1 })), false);
    assert.equal(applied(apply(s, 'm3', 'c3', 1, { op: 'lease-expire', id: '7', renewals: 1 })), true, 'two distinct members agree');
    assert.equal(s.leases.get('7'), null);
  }
});

test('crash-fault protocols (no origin, quorum 1): the leader\'s lease-expire decides alone, as before', () => {
  const sm = new KvStateMachine();
  sm.apply(encodeKvCommand({ client: 'c', seq: 1, lowestPending: 1, request: { op: 'lease-grant', id: '9', ttlSeconds: 5 } }), index(++at));
  const o = sm.apply(encodeKvCommand({ client: 'c', seq: 2, lowestPending: 2, request: { op: 'lease-expire', id: '9', renewals: 0 } }), index(++at));
  assert.equal(applied(o), true);
});

// ---- compaction: a member's compaction is a vote, as a lease expiry is --------------------------

test('with a quorum of f + 1 = 2, one member\'s compact-vote does not compact; two members compact to the highest revision both reach', () => {
  const sm = new KvStateMachine(undefined, { leaseExpiryQuorum: 2 });
  for (let i = 1; i <= 10; i++) assert.equal(apply(sm, 'm1', 'w', i, put('k', `v${i}`)).ok, true);
  assert.equal(sm.store.revision, 11);
  const vote = (s: KvStateMachine, origin: string, seq: number, revision: number) => apply(s, origin, `${origin}/c`, seq, { op: 'compact-vote', revision });
  // m4 lies: it wants everything compacted, and votes again and again.
  assert.equal(vote(sm, 'm4', 1, 11).ok, true);
  assert.equal(vote(sm, 'm4', 2, 11).ok, true);
  assert.equal(sm.store.compactRevision, 0, 'one liar alone, however often it votes, compacts nothing');
  // A snapshot carries the votes: a member restored from it decides alike.
  const restored = new KvStateMachine(undefined, { leaseExpiryQuorum: 2 });
  restored.restore(sm.snapshot());
  for (const s of [sm, restored]) {
    assert.equal(vote(s, 'm1', 1, 5).ok, true);
    assert.equal(s.store.compactRevision, 5, 'm1 and m4 both voted for 5 or more: the highest two members reach');
    assert.equal(vote(s, 'm2', 1, 7).ok, true);
    assert.equal(s.store.compactRevision, 7, 'm2 (7) and m4 (11)');
    // m1's latest vote replaces its earlier one; a vote below the compaction changes nothing.
    assert.equal(vote(s, 'm1', 2, 3).ok, true);
    assert.equal(s.store.compactRevision, 7);
    assert.equal(vote(s, 'm1', 3, 9).ok, true);
    assert.equal(s.store.compactRevision, 9, 'm1 (9) and m4 (11); m2 (7) was compacted past');
  }
  assert.deepEqual(sm.snapshot(), restored.snapshot(), 'the same state, votes included');
  // A liar's revision past the head is refused alike on every member (apply stays total).
  const far = new KvStateMachine(undefined, { leaseExpiryQuorum: 2 });
  assert.equal(vote(far, 'm3', 1, 1_000).ok, true);
  assert.deepEqual(vote(far, 'm4', 1, 1_000), { ok: false, error: 'future-rev' });
});

test('crash-fault protocols (no origin, quorum 1): a compact-vote compacts at once', () => {
  const sm = new KvStateMachine();
  for (let i = 1; i <= 3; i++) sm.apply(encodeKvCommand({ client: 'c', seq: i, lowestPending: i, request: put('k', `v${i}`) }), index(++at));
  assert.equal(sm.apply(encodeKvCommand({ client: 'c', seq: 4, lowestPending: 4, request: { op: 'compact-vote', revision: 2 } }), index(++at)).ok, true);
  assert.equal(sm.store.compactRevision, 2);
});

// ---- users: a member acts only as the users whose login it proved (or whose token it was shown) ----

const TOKEN_KEY = new Uint8Array(32).fill(7);

/** Auth enabled with `root` (role root) and `alice` (no roles); all ordered through m1. */
async function withAuth(options: { readonly mutant?: string; readonly leaseExpiryQuorum?: number; readonly memberIds?: ReadonlyMap<string, string> } = {}) {
  const sm = new KvStateMachine(undefined, options);
  const rootHash = await hashPassword('rootpw');
  const aliceHash = await hashPassword('alicepw');
  let seq = 0;
  const admin = (request: KvCommand['request']) => assert.equal(apply(sm, 'm1', 'setup', ++seq, request).ok, true, request.op);
  admin({ op: 'user-add', name: 'root', password: rootHash });
  admin({ op: 'user-grant-role', user: 'root', role: 'root' });
  admin({ op: 'user-add', name: 'alice', password: aliceHash });
  admin({ op: 'auth-enable', tokenKey: TOKEN_KEY });
  /** The seed of `user`'s session as `password` opens it now (what the user's tokens carry). */
  const sessionSeed = async (user: string, password: string, hash = user === 'root' ? rootHash : aliceHash): Promise<Uint8Array> => {
    const seed = await checkPassword(password, hash) ?? new Uint8Array(32); // a wrong password: a seed that is not the user's
    return sessionSeedOf(seed, sm.auth.credentialRevisionOf(user)!, sm.auth.tokenKey!);
  };
  /** The login of `user` with `password` through `origin`, as that member's Auth service builds it. */
  const login = async (user: string, password: string, origin: string, hash = user === 'root' ? rootHash : aliceHash): Promise<KvCommand['request']> => {
    const seed = await checkPassword(password, hash) ?? new Uint8Array(32);
    const credentialRevision = sm.auth.credentialRevisionOf(user)!;
    const session = sessionSeedOf(seed, credentialRevision, sm.auth.tokenKey!);
    const sessionKey = loginKeyOf(session);
    return {
      op: 'auth-login', name: user, credentialRevision, sessionKey,
      signature: signLogin(seed, loginStatement(user, credentialRevision, sessionKey, sm.auth.tokenKey!)),
      binding: signLogin(session, loginUseStatement(user, sessionKey, origin)),
    };
  };
  /** The binding of `origin` to `user`'s session, signed with `session` (a seed a token carried), as a member shown the token builds it. */
  const use = (user: string, session: Uint8Array, origin: string): KvCommand['request'] =>
    ({ op: 'auth-login-use', name: user, binding: signLogin(session, loginUseStatement(user, loginKeyOf(session), origin)) });
  /** A login as members made it before sessions existed: the password's signature names the member. */
  const legacyLogin = async (user: string, password: string, origin: string, hash = user === 'root' ? rootHash : aliceHash): Promise<KvCommand['request']> => {
    const seed = await checkPassword(password, hash) ?? new Uint8Array(32);
    const credentialRevision = sm.auth.credentialRevisionOf(user)!;
    return { op: 'auth-login', name: user, credentialRevision, signature: signLogin(seed, legacyLoginStatement(user, credentialRevision, origin, sm.auth.tokenKey!)) };
  };
  return { sm, login, use, sessionSeed, legacyLogin, rootHash };
}

const applyAs = (sm: KvStateMachine, origin: string, user: string, seq: number, request: KvCommand['request']): KvOutcome =>
  sm.apply(encodeKvCommand({ client: `${origin}/s`, seq, lowestPending: seq, request, user }), index(++at), origin);
const refusedAs = (o: KvOutcome, error: string): boolean => !o.ok && o.error === error;

test('a member claiming root without a login through it is refused with "invalid auth token", on every member alike', async () => {
  const { sm } = await withAuth();
  const revision = sm.store.revision;
  // m2 lies: root never authenticated through it, yet it orders a write and an auth change as root.
  assert.ok(refusedAs(applyAs(sm, 'm2', 'root', 1, put('k', 'forged')), 'invalid-auth-token'));
  assert.ok(refusedAs(applyAs(sm, 'm2', 'root', 2, { op: 'auth-disable' }), 'invalid-auth-token'));
  assert.ok(refusedAs(applyAs(sm, 'm2', 'root', 3, { op: 'lease-grant', id: '1', ttlSeconds: 60 }), 'invalid-auth-token'));
  assert.equal(sm.store.revision, revision, 'nothing was written');
  assert.equal(sm.auth.enabled, true, 'auth is still on');
  assert.equal(sm.leases.get('1'), null);
  // A retry of the same command is answered alike (the refusal is the session's result).
  assert.ok(refusedAs(applyAs(sm, 'm2', 'root', 3, { op: 'lease-grant', id: '1', ttlSeconds: 60 }), 'invalid-auth-token'));
});

test('a proved login binds the user to the member it went through, and to no other', async () => {
  const { sm, login } = await withAuth();
  const byM1 = sm.apply(encodeKvCommand({ client: 'm1/s', seq: 2, lowestPending: 2, request: await login('root', 'rootpw', 'm1') }), index(++at), 'm1');
  assert.equal(byM1.ok, true, 'root logged in through m1');
  assert.equal(applyAs(sm, 'm1', 'root', 3, put('k', 'root via m1')).ok, true);
  assert.ok(refusedAs(applyAs(sm, 'm2', 'root', 1, put('k', 'forged')), 'invalid-auth-token'), 'm2 still may not act as root');
  // m2 replays m1's login from the log, or signs one with a guessed password: refused.
  const replay = await login('root', 'rootpw', 'm1');
  for (const [seq, request] of [[2, replay], [3, await login('root', 'guess', 'm2')]] as const) {
    const o = sm.apply(encodeKvCommand({ client: 'm2/s', seq, lowestPending: seq, request }), index(++at), 'm2');
    assert.ok(refusedAs(o, 'auth-failed'), 'etcd\'s "authentication failed"');
  }
  assert.ok(refusedAs(applyAs(sm, 'm2', 'root', 4, put('k', 'forged')), 'invalid-auth-token'));
  // A member restored from a snapshot judges alike.
  const restored = new KvStateMachine();
  restored.restore(sm.snapshot());
  assert.equal(applyAs(restored, 'm1', 'root', 5, put('k', 'again')).ok, true);
  assert.ok(refusedAs(applyAs(restored, 'm2', 'root', 5, put('k', 'forged')), 'invalid-auth-token'));
  // The user's password changes (a new credential revision): the login no longer holds.
  const changed = await hashPassword('newpw');
  assert.equal(applyAs(sm, 'm1', 'root', 6, { op: 'user-change-password', name: 'root', password: changed }).ok, true);
  assert.ok(refusedAs(applyAs(sm, 'm1', 'root', 7, put('k', 'stale')), 'invalid-auth-token'));
  // A login of another user through m2 lets m2 act as that user only.
  const alice = sm.apply(encodeKvCommand({ client: 'm2/s', seq: 8, lowestPending: 8, request: await login('alice', 'alicepw', 'm2') }), index(++at), 'm2');
  assert.equal(alice.ok, true);
  assert.ok(refusedAs(applyAs(sm, 'm2', 'alice', 9, put('k', 'alice')), 'permission-denied'), 'alice, with her own (empty) permissions');
  assert.ok(refusedAs(applyAs(sm, 'm2', 'root', 10, put('k', 'forged')), 'invalid-auth-token'));
});

test('mutant trust-command-user: the forged root write takes effect (what the check prevents)', async () => {
  const { sm } = await withAuth({ mutant: 'trust-command-user' });
  assert.equal(applyAs(sm, 'm2', 'root', 1, put('k', 'forged')).ok, true);
});

test('crash-fault protocols (no origin): the member\'s word on the user is taken, as before', async () => {
  const { sm } = await withAuth();
  const o = sm.apply(encodeKvCommand({ client: 'c', seq: 1, lowestPending: 1, request: put('k', 'v'), user: 'root' }), index(++at));
  assert.equal(o.ok, true);
});

test('auth disable voids logins for good: a member cannot replay its old login after auth is enabled again', async () => {
  const { sm, login } = await withAuth();
  // root logs in through m2 (m2 honest then; its log keeps the signed entry).
  const old = await login('root', 'rootpw', 'm2');
  assert.equal(sm.apply(encodeKvCommand({ client: 'm2/s', seq: 1, lowestPending: 1, request: old }), index(++at), 'm2').ok, true);
  assert.equal(applyAs(sm, 'm2', 'root', 2, { op: 'auth-disable' }).ok, true, 'root disables auth through m2');
  assert.equal(sm.auth.actsAs('m2', 'root'), false);
  assert.equal(applyAs(sm, 'm1', 'root', 1, { op: 'auth-enable', tokenKey: new Uint8Array(32).fill(9) }).ok, true, 'and enables it again (through m1)');
  // m2, now lying, orders its old login again: root's credentials did not change, yet the login
  // belongs to the auth that was disabled.
  const replay = sm.apply(encodeKvCommand({ client: 'm2/s', seq: 3, lowestPending: 3, request: old }), index(++at), 'm2');
  assert.ok(refusedAs(replay, 'auth-failed'), 'the old login is refused');
  assert.ok(refusedAs(applyAs(sm, 'm2', 'root', 4, put('k', 'forged')), 'invalid-auth-token'));
  // A fresh login (the password again) is accepted.
  assert.equal(sm.apply(encodeKvCommand({ client: 'm2/s', seq: 5, lowestPending: 5, request: await login('root', 'rootpw', 'm2') }), index(++at), 'm2').ok, true);
  assert.equal(applyAs(sm, 'm2', 'root', 6, put('k', 'root via m2')).ok, true);
});

// ---- tokens any member can use: a member shown a token binds itself to the user's session --------

const order = (sm: KvStateMachine, origin: string, seq: number, request: KvCommand['request']): KvOutcome =>
  sm.apply(encodeKvCommand({ client: `${origin}/s`, seq, lowestPending: seq, request }), index(++at), origin);

test('a member shown a token (the session seed) binds itself to the user\'s session and acts as the user; without the seed it cannot', async () => {
  const { sm, login, use, sessionSeed } = await withAuth();
  // root authenticates through m1: the session opens, m1 is bound to it.
  assert.equal(order(sm, 'm1', 1, await login('root', 'rootpw', 'm1')).ok, true);
  assert.notEqual(sm.auth.sessionKeyOf('root'), null);
  assert.equal(sm.auth.actsAs('m1', 'root'), true);
  assert.equal(sm.auth.actsAs('m2', 'root'), false, 'the login names no member but binds only the one it went through');
  const seed = await sessionSeed('root', 'rootpw');
  // m3 lies and was shown no token: a binding signed with another seed, m1's binding replayed
  // (m1's whole login entry, or its binding alone), or a guessed password's session: all refused.
  const m1Login = await login('root', 'rootpw', 'm1');
  assert.ok(refusedAs(order(sm, 'm3', 1, m1Login), 'auth-failed'), 'm1\'s login entry replayed by m3');
  assert.ok(refusedAs(order(sm, 'm3', 2, { op: 'auth-login-use', name: 'root', binding: (m1Login as { binding: Uint8Array }).binding }), 'invalid-auth-token'));
  assert.ok(refusedAs(order(sm, 'm3', 3, use('root', new Uint8Array(32).fill(3), 'm3')), 'invalid-auth-token'));
  assert.ok(refusedAs(order(sm, 'm3', 4, use('root', await sessionSeed('root', 'guess'), 'm3')), 'invalid-auth-token'));
  assert.ok(refusedAs(order(sm, 'm3', 5, await login('root', 'guess', 'm3')), 'auth-failed'));
  assert.ok(refusedAs(applyAs(sm, 'm3', 'root', 6, put('k', 'forged')), 'invalid-auth-token'));
  // m2 is shown the token: its binding, signed with the seed and naming m2, lets it act as root.
  assert.equal(order(sm, 'm2', 1, use('root', seed, 'm2')).ok, true);
  assert.equal(applyAs(sm, 'm2', 'root', 2, put('k', 'root via m2')).ok, true);
  // Its binding names m2: m3 replaying it from the log gains nothing.
  assert.ok(refusedAs(order(sm, 'm3', 7, use('root', seed, 'm2')), 'invalid-auth-token'));
  assert.ok(refusedAs(applyAs(sm, 'm3', 'root', 8, put('k', 'forged')), 'invalid-auth-token'));
  // A member restored from a snapshot judges alike, sessions and bindings included.
  const restored = new KvStateMachine();
  restored.restore(sm.snapshot());
  assert.deepEqual(restored.auth.sessionKeyOf('root'), sm.auth.sessionKeyOf('root'));
  assert.equal(applyAs(restored, 'm2', 'root', 3, put('k', 'again')).ok, true);
  assert.equal(order(restored, 'm4', 1, use('root', seed, 'm4')).ok, true, 'a later binding checks against the restored session');
  assert.ok(refusedAs(order(restored, 'm3', 9, use('root', new Uint8Array(32).fill(3), 'm3')), 'invalid-auth-token'));
  // A snapshot a client downloads carries no session: nothing binds to it on a cluster restored from it.
  const fresh = new KvStateMachine();
  fresh.restore(sm.clientSnapshot());
  assert.equal(fresh.auth.sessionKeyOf('root'), null);
});

test('a session dies with its credentials and its auth: a binding or a login from an old log cannot be ordered again', async () => {
  const { sm, login, use, sessionSeed } = await withAuth();
  assert.equal(order(sm, 'm1', 1, await login('root', 'rootpw', 'm1')).ok, true);
  const aliceLogin = await login('alice', 'alicepw', 'm1');
  assert.equal(order(sm, 'm1', 2, aliceLogin).ok, true);
  const rootSeed = await sessionSeed('root', 'rootpw');
  const aliceSeed = await sessionSeed('alice', 'alicepw');
  assert.equal(order(sm, 'm2', 1, use('alice', aliceSeed, 'm2')).ok, true);
  // alice's password changes: her session and every binding to it are void; m2 (now lying)
  // orders its old binding again, or m1's old login: refused.
  const changed = await hashPassword('alicepw2');
  assert.equal(applyAs(sm, 'm1', 'root', 3, { op: 'user-change-password', name: 'alice', password: changed }).ok, true);
  assert.equal(sm.auth.sessionKeyOf('alice'), null);
  assert.equal(sm.auth.actsAs('m2', 'alice'), false);
  assert.ok(refusedAs(order(sm, 'm2', 2, use('alice', aliceSeed, 'm2')), 'invalid-auth-token'), 'the old binding');
  assert.ok(refusedAs(order(sm, 'm2', 3, aliceLogin), 'auth-failed'), 'the old login');
  // root's session through auth disable and enable: void for good, though root's credentials did not change.
  assert.equal(order(sm, 'm2', 4, use('root', rootSeed, 'm2')).ok, true);
  assert.equal(applyAs(sm, 'm2', 'root', 5, { op: 'auth-disable' }).ok, true);
  assert.equal(sm.auth.sessionKeyOf('root'), null);
  assert.equal(applyAs(sm, 'm1', 'root', 4, { op: 'auth-enable', tokenKey: new Uint8Array(32).fill(9) }).ok, true);
  assert.ok(refusedAs(order(sm, 'm2', 6, use('root', rootSeed, 'm2')), 'invalid-auth-token'), 'a binding to the old session');
  assert.ok(refusedAs(applyAs(sm, 'm2', 'root', 7, put('k', 'forged')), 'invalid-auth-token'));
  const newSeed = await sessionSeed('root', 'rootpw');
  assert.notDeepEqual(newSeed, rootSeed, 'a new token key opens another session');
  assert.ok(refusedAs(order(sm, 'm2', 8, use('root', newSeed, 'm2')), 'invalid-auth-token'), 'no session is open before a login');
  assert.equal(order(sm, 'm1', 5, await login('root', 'rootpw', 'm1')).ok, true);
  assert.equal(order(sm, 'm2', 9, use('root', newSeed, 'm2')).ok, true);
  // Deleting a user voids its session too.
  assert.equal(applyAs(sm, 'm2', 'root', 10, { op: 'user-delete', name: 'alice' }).ok, true);
  assert.equal(sm.auth.sessionKeyOf('alice'), null);
});

test('a login made before sessions existed is still applied alike: it binds the member its signature names, and no session opens', async () => {
  const { sm, legacyLogin, use, sessionSeed } = await withAuth();
  assert.equal(order(sm, 'm1', 1, await legacyLogin('root', 'rootpw', 'm1')).ok, true);
  assert.equal(sm.auth.actsAs('m1', 'root'), true);
  assert.equal(sm.auth.sessionKeyOf('root'), null);
  assert.ok(refusedAs(order(sm, 'm2', 1, await legacyLogin('root', 'rootpw', 'm1')), 'auth-failed'), 'replayed by another member');
  assert.ok(refusedAs(order(sm, 'm2', 2, use('root', await sessionSeed('root', 'rootpw'), 'm2')), 'invalid-auth-token'), 'nothing to bind to');
  // A session key without its binding (or the reverse) is no command.
  const half = { op: 'auth-login', name: 'root', credentialRevision: 1, signature: new Uint8Array(64), sessionKey: new Uint8Array(32) } as KvCommand['request'];
  assert.deepEqual(order(sm, 'm2', 3, half), { ok: false, error: 'malformed-command' });
});

test('mutant trust-login-use: a binding signed with a made-up seed takes effect, and the liar writes as root (what the check prevents)', async () => {
  const { sm, login, use } = await withAuth({ mutant: 'trust-login-use' });
  assert.equal(order(sm, 'm1', 1, await login('root', 'rootpw', 'm1')).ok, true);
  assert.equal(order(sm, 'm3', 1, use('root', new Uint8Array(32).fill(3), 'm3')).ok, true);
  assert.equal(applyAs(sm, 'm3', 'root', 2, put('k', 'forged')).ok, true);
});

test('a member publishes only its own client URLs: a liar publishing under another member\'s name (the primary\'s) is refused alike', () => {
  const sm = new KvStateMachine(undefined, { leaseExpiryQuorum: 2 });
  assert.equal(order(sm, 'm1', 1, { op: 'publish-member', name: 'm1', clientUrls: ['http://m1:2379'] }).ok, true);
  assert.deepEqual(order(sm, 'm4', 1, { op: 'publish-member', name: 'm1', clientUrls: ['http://liar:2379'] }), { ok: false, error: 'malformed-command' });
  assert.deepEqual(sm.clientUrlsOf('m1'), ['http://m1:2379'], 'm1\'s URLs stand');
  // Crash-fault protocols (no origin): the member's word, as before.
  const cft = new KvStateMachine();
  assert.equal(cft.apply(encodeKvCommand({ client: 'c', seq: 1, lowestPending: 1, request: { op: 'publish-member', name: 'm1', clientUrls: ['http://m1:2379'] } }), index(++at)).ok, true);
});

// A session seed is fixed by the password, the credential revision and the token key, a client
// snapshot keeps credential revisions, and the key that fills the restored cluster's missing one is
// whatever the first member to order `auth-token-key` chose, a liar's old key possibly: the cluster's
// generation (bumped by the restore) keeps the old sessions and logins from being good there.
test('a cluster restored from a client snapshot: a liar that fills in the old token key does not revive the old sessions (tokens issued before are void there)', async () => {
  const { sm, login, use, sessionSeed } = await withAuth();
  // In the old cluster root logged in through m1, and m2 (lying) was shown a token of root.
  assert.equal(order(sm, 'm1', 1, await login('root', 'rootpw', 'm1')).ok, true);
  const oldSeed = await sessionSeed('root', 'rootpw');
  // A new cluster is restored from a snapshot a client downloaded: no token key, no sessions.
  const fresh = new KvStateMachine(undefined, { leaseExpiryQuorum: 2 });
  fresh.restore(sm.clientSnapshot());
  fresh.resetForNewCluster();
  assert.equal(fresh.auth.tokenKey, null);
  // m2 orders the key first (anyone may: it only fills a missing one), choosing the old cluster's key
  // (it held it there, and the old log carries it).
  order(fresh, 'm2', 1, { op: 'auth-token-key', tokenKey: TOKEN_KEY });
  // root authenticates at honest m1 of the new cluster, which opens root's session as its password
  // yields it now; m1 fills a key of its own first if none is set.
  if (fresh.auth.tokenKey === null) assert.equal(order(fresh, 'm1', 1, { op: 'auth-token-key', tokenKey: new Uint8Array(32).fill(11) }).ok, true);
  const credentialRevision = fresh.auth.credentialRevisionOf('root')!;
  const rootHash = fresh.auth.passwordOf('root')!;
  const pwSeed = (await checkPassword('rootpw', rootHash))!;
  assert.equal(fresh.auth.generation, 1);
  // The old cluster's login entry (ordered again, as m1's own request replayed) opens nothing.
  assert.ok(refusedAs(order(fresh, 'm1', 2, await login('root', 'rootpw', 'm1')), 'auth-failed'), 'the old cluster\'s login');
  const session = sessionSeedOf(pwSeed, credentialRevision, fresh.auth.tokenKey!, fresh.auth.generation);
  const sessionKey = loginKeyOf(session);
  const fresh1 = order(fresh, 'm1', 3, {
    op: 'auth-login', name: 'root', credentialRevision, sessionKey,
    signature: signLogin(pwSeed, loginStatement('root', credentialRevision, sessionKey, fresh.auth.tokenKey!, fresh.auth.generation)),
    binding: signLogin(session, loginUseStatement('root', sessionKey, 'm1')),
  });
  assert.equal(fresh1.ok, true);
  assert.equal(fresh.auth.actsAs('m1', 'root'), true);
  // A member restored from the new cluster's snapshot (whole or a client's) keeps the generation.
  const again = new KvStateMachine();
  again.restore(fresh.snapshot());
  assert.deepEqual(again.auth.sessionKeyOf('root'), fresh.auth.sessionKeyOf('root'));
  const again2 = new KvStateMachine();
  again2.restore(fresh.clientSnapshot());
  assert.equal(again2.auth.generation, 1);
  // m2, with the seed of a token from the old cluster, binds itself and writes as root: it must not.
  order(fresh, 'm2', 2, use('root', oldSeed, 'm2'));
  assert.equal(fresh.auth.actsAs('m2', 'root'), false, 'the old cluster\'s token does not bind m2 in the new one');
  assert.ok(refusedAs(applyAs(fresh, 'm2', 'root', 3, put('k', 'forged')), 'invalid-auth-token'));
});

// ---- alarms: under a Byzantine protocol a member's alarm is a vote, as a lease expiry is ----------

test('one lying member cannot raise the CORRUPT alarm and stop every write', async () => {
  const { sm, login } = await withAuth({ leaseExpiryQuorum: 2 });
  assert.equal(order(sm, 'm1', 1, await login('root', 'rootpw', 'm1')).ok, true);
  order(sm, 'm4', 1, { op: 'alarm', action: 'activate', memberId: '1', alarm: 'CORRUPT' });
  assert.equal(applyAs(sm, 'm1', 'root', 2, put('k', 'v')).ok, true, 'root\'s write through honest m1 takes effect');
});

type AlarmRequest = Extract<KvCommand['request'], { op: 'alarm' }>;
const alarmVote = (action: AlarmRequest['action'], memberId: string, alarm: AlarmRequest['alarm']): AlarmRequest => ({ op: 'alarm', action, memberId, alarm });
/** `origin`'s own vote (its server's session, no user), as its quota or corruption check orders one. */
let voteSeq = 0;
const vote = (sm: KvStateMachine, origin: string, request: AlarmRequest): KvOutcome => apply(sm, origin, `${origin}/alarms`, ++voteSeq, request);
const alarmsOf = (sm: KvStateMachine): string[] => sm.cluster.alarmList().map((a) => `${a.memberId}/${a.alarm}`);

test('with a quorum of f + 1 = 2, one member\'s CORRUPT vote raises nothing, however often; a second member\'s raises it on every member alike; writes stop only once more than f members are named', () => {
  const sm = new KvStateMachine(undefined, { leaseExpiryQuorum: 2 });
  assert.equal(vote(sm, 'm4', alarmVote('activate', '3', 'CORRUPT')).ok, true);
  assert.equal(vote(sm, 'm4', alarmVote('activate', '3', 'CORRUPT')).ok, true);
  assert.deepEqual(alarmsOf(sm), [], 'one liar alone, voting twice, counts once');
  assert.equal(apply(sm, 'm1', 'w', 1, put('k', 'v')).ok, true, 'writes go on');
  assert.deepEqual(sm.alarmVotersOf('activate', '3', 'CORRUPT'), ['m4']);
  // A vote naming another member is another tally.
  vote(sm, 'm1', alarmVote('activate', '2', 'CORRUPT'));
  assert.deepEqual(alarmsOf(sm), []);
  // A snapshot carries the votes: a member restored from it decides alike.
  const restored = new KvStateMachine(undefined, { leaseExpiryQuorum: 2 });
  restored.restore(sm.snapshot());
  for (const s of [sm, restored]) {
    vote(s, 'm2', alarmVote('activate', '3', 'CORRUPT'));
    assert.deepEqual(alarmsOf(s), ['3/CORRUPT'], 'm2 and m4 agree on member 3');
    assert.deepEqual(s.alarmVotersOf('activate', '3', 'CORRUPT'), [], 'the tally is settled');
    // One member named corrupt is within the f the protocol masks (a liar can make itself look
    // corrupt at will): the alarm is listed, and writes go on.
    assert.equal(apply(s, 'm1', 'w', 2, put('k', 'v2')).ok, true, 'writes go on with f members named corrupt');
    // A second member named (m1 voted on member 2 before the snapshot; m2 agrees now): more than
    // f members hold another state, beyond what PBFT masks.
    vote(s, 'm2', alarmVote('activate', '2', 'CORRUPT'));
    assert.deepEqual(alarmsOf(s), ['2/CORRUPT', '3/CORRUPT']);
    const refused = apply(s, 'm1', 'w', 3, put('k', 'v3'));
    assert.equal(!refused.ok && refused.error, 'corrupt');
  }
  // A client's snapshot carries no votes (a restored cluster starts afresh).
  const fromClient = new KvStateMachine(undefined, { leaseExpiryQuorum: 2 });
  fromClient.restore(sm.clientSnapshot());
  assert.deepEqual(fromClient.alarmVotersOf('activate', '2', 'CORRUPT'), []);
});

test('clearing likewise: one member\'s deactivate clears nothing; f + 1 distinct members\' do; a vote that changes nothing withdraws the member\'s vote the other way', () => {
  const sm = new KvStateMachine(undefined, { leaseExpiryQuorum: 2 });
  vote(sm, 'm1', alarmVote('activate', '3', 'CORRUPT'));
  vote(sm, 'm2', alarmVote('activate', '3', 'CORRUPT'));
  assert.deepEqual(alarmsOf(sm), ['3/CORRUPT']);
  // m4 lies: it wants the honest members' alarm gone.
  vote(sm, 'm4', alarmVote('deactivate', '3', 'CORRUPT'));
  vote(sm, 'm4', alarmVote('deactivate', '3', 'CORRUPT'));
  assert.deepEqual(alarmsOf(sm), ['3/CORRUPT'], 'one liar alone cannot clear it');
  // An activate on the raised alarm withdraws the member's deactivate.
  vote(sm, 'm4', alarmVote('activate', '3', 'CORRUPT'));
  assert.deepEqual(sm.alarmVotersOf('deactivate', '3', 'CORRUPT'), []);
  vote(sm, 'm4', alarmVote('deactivate', '3', 'CORRUPT'));
  const restored = new KvStateMachine(undefined, { leaseExpiryQuorum: 2 });
  restored.restore(sm.snapshot());
  for (const s of [sm, restored]) {
    vote(s, 'm1', alarmVote('deactivate', '3', 'CORRUPT'));
    assert.deepEqual(alarmsOf(s), [], 'm1 and m4: cleared');
    assert.equal(apply(s, 'm1', 'w', 3, put('k', 'v')).ok, true);
    // A vote from before the alarm was cleared counts for nothing now: m2's old activate is gone.
    vote(s, 'm4', alarmVote('activate', '3', 'CORRUPT'));
    assert.deepEqual(alarmsOf(s), [], 'm2\'s vote was settled when the alarm was raised');
    // A deactivate on an alarm that is not raised withdraws the member's activate.
    vote(s, 'm4', alarmVote('deactivate', '3', 'CORRUPT'));
    vote(s, 'm2', alarmVote('activate', '3', 'CORRUPT'));
    assert.deepEqual(alarmsOf(s), [], 'm4 withdrew its vote');
  }
});

test('a withdraw takes back the member\'s standing vote either way and raises or clears nothing, whatever happened meanwhile', () => {
  const sm = new KvStateMachine(undefined, { leaseExpiryQuorum: 2 });
  vote(sm, 'm1', alarmVote('activate', '3', 'CORRUPT'));
  vote(sm, 'm1', alarmVote('withdraw', '3', 'CORRUPT'));
  vote(sm, 'm4', alarmVote('activate', '3', 'CORRUPT'));
  assert.deepEqual(alarmsOf(sm), [], 'm1\'s vote was withdrawn');
  vote(sm, 'm2', alarmVote('activate', '3', 'CORRUPT'));
  assert.deepEqual(alarmsOf(sm), ['3/CORRUPT']);
  // m1 withdraws a vote that was settled meanwhile: it clears nothing (a deactivate would count as a vote to clear).
  vote(sm, 'm1', alarmVote('withdraw', '3', 'CORRUPT'));
  vote(sm, 'm4', alarmVote('deactivate', '3', 'CORRUPT'));
  assert.deepEqual(alarmsOf(sm), ['3/CORRUPT']);
  // Under a crash-fault protocol a withdraw changes nothing either.
  const raft = new KvStateMachine();
  for (const [seq, action] of [[1, 'activate'], [2, 'withdraw']] as const) {
    raft.apply(encodeKvCommand({ client: 'c', seq, lowestPending: seq, request: alarmVote(action, '3', 'CORRUPT') }), index(++at));
  }
  assert.deepEqual(alarmsOf(raft), ['3/CORRUPT']);
});

test('NOSPACE: each member speaks for its own space; f + 1 members out of space raise it, naming each of them', () => {
  const sm = new KvStateMachine(undefined, { leaseExpiryQuorum: 2 });
  vote(sm, 'm4', alarmVote('activate', '4', 'NOSPACE'));
  assert.deepEqual(alarmsOf(sm), []);
  assert.equal(apply(sm, 'm1', 'w', 1, put('k', 'v')).ok, true, 'one member\'s word refuses no write');
  vote(sm, 'm2', alarmVote('activate', '2', 'NOSPACE'));
  assert.deepEqual(alarmsOf(sm), ['2/NOSPACE', '4/NOSPACE']);
  const refused = apply(sm, 'm1', 'w', 2, put('k', 'v2'));
  assert.equal(!refused.ok && refused.error, 'no-space');
  // A later vote while NOSPACE is raised adds nothing.
  vote(sm, 'm3', alarmVote('activate', '3', 'NOSPACE'));
  assert.deepEqual(alarmsOf(sm), ['2/NOSPACE', '4/NOSPACE']);
  // Disarmed by votes, record by record (as etcdctl alarm disarm does at each member).
  for (const origin of ['m1', 'm2']) for (const memberId of ['2', '4']) vote(sm, origin, alarmVote('deactivate', memberId, 'NOSPACE'));
  assert.deepEqual(alarmsOf(sm), []);
});

test('an administrator\'s alarm (auth on, root bound to the member) takes effect at once; another user\'s is refused', async () => {
  const { sm, login } = await withAuth({ leaseExpiryQuorum: 2 });
  assert.equal(order(sm, 'm1', 1, await login('root', 'rootpw', 'm1')).ok, true);
  assert.equal(order(sm, 'm2', 1, await login('alice', 'alicepw', 'm2')).ok, true);
  vote(sm, 'm4', alarmVote('activate', '3', 'CORRUPT'));
  assert.equal(applyAs(sm, 'm1', 'root', 2, alarmVote('activate', '3', 'CORRUPT')).ok, true);
  assert.deepEqual(alarmsOf(sm), ['3/CORRUPT'], 'root raised it');
  assert.deepEqual(sm.alarmVotersOf('activate', '3', 'CORRUPT'), [], 'and settled the votes on it');
  const alice = applyAs(sm, 'm2', 'alice', 2, alarmVote('deactivate', '3', 'CORRUPT'));
  assert.equal(!alice.ok && alice.error, 'permission-denied');
  assert.ok(refusedAs(applyAs(sm, 'm4', 'root', 1, alarmVote('deactivate', '3', 'CORRUPT')), 'invalid-auth-token'), 'a liar claiming root');
  assert.deepEqual(alarmsOf(sm), ['3/CORRUPT']);
  assert.equal(applyAs(sm, 'm1', 'root', 3, alarmVote('deactivate', '3', 'CORRUPT')).ok, true);
  assert.deepEqual(alarmsOf(sm), [], 'root cleared it');
});

test('a member\'s standing alarm votes are bounded: a liar naming made-up members drops only its own oldest votes', () => {
  const sm = new KvStateMachine(undefined, { leaseExpiryQuorum: 2 });
  vote(sm, 'm1', alarmVote('activate', '3', 'CORRUPT'));
  for (let i = 0; i < MAX_ALARM_VOTES_PER_MEMBER + 5; i++) vote(sm, 'm4', alarmVote('activate', String(1000 + i), 'CORRUPT'));
  assert.deepEqual(sm.alarmVotersOf('activate', '1000', 'CORRUPT'), [], 'the liar\'s oldest were dropped');
  assert.deepEqual(sm.alarmVotersOf('activate', String(1000 + MAX_ALARM_VOTES_PER_MEMBER + 4), 'CORRUPT'), ['m4']);
  assert.deepEqual(sm.alarmVotersOf('activate', '3', 'CORRUPT'), ['m1'], 'an honest member\'s vote stays');
  // The vote just cast is never the one dropped, even on the oldest tally (one m1 began).
  const sm3 = new KvStateMachine(undefined, { leaseExpiryQuorum: 3 });
  vote(sm3, 'm1', alarmVote('activate', '3', 'CORRUPT'));
  for (let i = 0; i < MAX_ALARM_VOTES_PER_MEMBER; i++) vote(sm3, 'm4', alarmVote('activate', String(1000 + i), 'CORRUPT'));
  vote(sm3, 'm4', alarmVote('activate', '3', 'CORRUPT'));
  assert.deepEqual(sm3.alarmVotersOf('activate', '3', 'CORRUPT'), ['m1', 'm4'], 'the vote just cast stays');
  assert.deepEqual(sm3.alarmVotersOf('activate', '1000', 'CORRUPT'), [], 'the liar\'s oldest other vote is dropped');
});

test('crash-fault protocols (no origin, quorum 1): an alarm is the member\'s word, as before', () => {
  const sm = new KvStateMachine();
  sm.apply(encodeKvCommand({ client: 'c', seq: 1, lowestPending: 1, request: alarmVote('activate', '3', 'CORRUPT') }), index(++at));
  assert.deepEqual(alarmsOf(sm), ['3/CORRUPT']);
});

test('mutant alarm-on-one-word: one liar\'s CORRUPT stops every write (what the votes prevent)', () => {
  const sm = new KvStateMachine(undefined, { leaseExpiryQuorum: 2, mutant: 'alarm-on-one-word' });
  vote(sm, 'm4', alarmVote('activate', '3', 'CORRUPT'));
  assert.deepEqual(alarmsOf(sm), ['3/CORRUPT']);
});

// ---- member-update: a member changes only its own peer URLs, unless root orders it ---------------

test('under a Byzantine protocol a member changes only its own peer URLs; root may change any member\'s', async () => {
  const { sm, login } = await withAuth({ leaseExpiryQuorum: 2, memberIds: new Map([['m1', '1'], ['m2', '2'], ['m3', '3'], ['m4', '4']]) });
  const update = (nodeId: string, url: string): KvCommand['request'] => ({ op: 'member-update', nodeId, id: `${nodeId.slice(1)}`, peerUrls: [url] });
  const liar = order(sm, 'm4', 1, update('m2', 'http://liar:2380'));
  assert.equal(!liar.ok && liar.error, 'permission-denied');
  assert.equal(sm.cluster.member('m2'), undefined, 'm2\'s URLs are not the liar\'s to set');
  assert.equal(order(sm, 'm4', 2, update('m4', 'http://m4-new:2380')).ok, true, 'its own');
  assert.deepEqual(sm.cluster.member('m4')?.peerUrls, ['http://m4-new:2380']);
  assert.equal(order(sm, 'm1', 1, await login('root', 'rootpw', 'm1')).ok, true);
  assert.equal(applyAs(sm, 'm1', 'root', 2, update('m2', 'http://m2-new:2380')).ok, true, 'root, through m1');
  assert.deepEqual(sm.cluster.member('m2')?.peerUrls, ['http://m2-new:2380']);
  // Under a crash-fault protocol, as before: any member's.
  const raft = new KvStateMachine();
  assert.equal(raft.apply(encodeKvCommand({ client: 'c', seq: 1, lowestPending: 1, request: update('m2', 'http://x:2380') }), index(++at)).ok, true);
});

test('under a Byzantine protocol a member\'s own update keeps its member id and names peer URLs every member can dial (review finding)', () => {
  const memberIds = new Map([['m1', '1'], ['m2', '2'], ['m3', '3'], ['m4', '4']]);
  const sm = new KvStateMachine(undefined, { leaseExpiryQuorum: 2, memberIds });
  const own = (id: string, peerUrls: string[]): KvCommand['request'] => ({ op: 'member-update', nodeId: 'm4', id, peerUrls });
  // m4 takes m2's member id: every member's corruption check would then ask m4 for "member 2's"
  // hash, the liar answers wrongly, and f + 1 honest members name honest m2 CORRUPT (then m3: writes stop).
  const stolen = order(sm, 'm4', 1, own('2', ['http://m4:2380']));
  assert.equal(!stolen.ok && stolen.error, 'permission-denied');
  assert.equal(sm.cluster.member('m4'), undefined, 'm4 keeps its own member id');
  // An id that is no decimal number would make every member's member list (BigInt order) throw.
  assert.equal(order(sm, 'm4', 2, own('x', ['http://m4:2380'])).ok, false);
  // A peer URL no member can parse would throw in every member's dialer update after the apply.
  for (const url of ['not a url', 'ftp://m4:2380', 'http://m4']) {
    assert.equal(order(sm, 'm4', 3 + ['not a url', 'ftp://m4:2380', 'http://m4'].indexOf(url), own('4', [url])).ok, false, url);
  }
  assert.equal(order(sm, 'm4', 9, own('4', [])).ok, false, 'no peer URL at all');
  assert.equal(sm.cluster.member('m4'), undefined);
  assert.equal(order(sm, 'm4', 10, own('4', ['http://m4-new:2380'])).ok, true, 'its own id and a good URL');
  assert.deepEqual(sm.cluster.member('m4'), { nodeId: 'm4', id: '4', peerUrls: ['http://m4-new:2380'] });
  // And again, now that its record is in the table.
  assert.equal(order(sm, 'm4', 11, own('2', ['http://m4-new:2380'])).ok, false);
  assert.equal(sm.cluster.member('m4')?.id, '4');
});

test('a liar\'s alarm vote names a member: an id no member has (nor any Alarm call can name again) is refused, so it cannot leave an alarm nobody can disarm (review finding)', () => {
  const memberIds = new Map([['m1', '1'], ['m2', '2'], ['m3', '3'], ['m4', '4']]);
  for (const ids of [memberIds, undefined]) {
    const sm = new KvStateMachine(undefined, { leaseExpiryQuorum: 2, ...(ids === undefined ? {} : { memberIds: ids }) });
    // The liar's NOSPACE vote names a made-up member. Alarm answers carry member ids as uint64:
    // '' fails to encode (every alarm list fails), 'x' reads as 0 (a disarm of 0 finds nothing).
    for (const made of ['', 'x', '007', '99999999999999999999999']) {
      const o = vote(sm, 'm4', alarmVote('activate', made, 'NOSPACE'));
      assert.equal(o.ok, false, JSON.stringify(made));
      assert.deepEqual(sm.alarmVotersOf('activate', made, 'NOSPACE'), []);
    }
    // An honest member genuinely out of space: one vote, nothing raised, nothing named for the liar.
    vote(sm, 'm1', alarmVote('activate', '1', 'NOSPACE'));
    assert.deepEqual(alarmsOf(sm), [], String(ids));
  }
  // With the members known, a member id of no member is refused too.
  const sm = new KvStateMachine(undefined, { leaseExpiryQuorum: 2, memberIds });
  assert.equal(vote(sm, 'm4', alarmVote('activate', '5', 'CORRUPT')).ok, false);
  assert.equal(vote(sm, 'm4', alarmVote('activate', '4', 'NOSPACE')).ok, true);
});

/**
 * etcd auth on PBFT: a lying member must not act as a user no client logged in as or showed it a
 * token of, so Authenticate orders a login proved with the password that opens the user's
 * session (see login-proof.ts), and a token carries the session's seed, with which any other
 * member binds itself to the session before it acts as the user. Through the etcd3 client: root
 * authenticates at one member and writes, another member's client authenticates there and reads;
 * a token issued by one member is good at every other (a client that fails over keeps it). And a
 * member that orders a command claiming root, or a binding it cannot sign (as a lying member
 * would, through its own authenticated client), has it refused on every member.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Etcd3 } from 'etcd3';
import type { Member } from '../../src/server/index.js';
import { encodeKvCommand } from '../../src/statemachine/mvcc/index.js';
import { loginKeyOf, loginUseStatement, signLogin } from '../../src/statemachine/mvcc/login-proof.js';
import { CALL_DEADLINE_MS, enableRootAuth, pbftMembers, rawCall, rootClient } from './pbft-members.js';

test('PBFT: root authenticates through a member (a proved login) and writes through others; a member that forges root or a binding is refused', { timeout: 120_000 }, async () => {
  const cluster = await pbftMembers('pbft-auth');
  const members: Member[] = await Promise.all(cluster.names.map((_, i) => cluster.start(i)));
  const anon = cluster.client(0);
  const as = (i: number) => rootClient(cluster, i);
  const viaM2 = as(1);
  const viaM3 = as(2);
  try {
    await enableRootAuth(anon);
    await viaM2.put('secret').value('s1');
    assert.equal(await viaM3.get('secret').string(), 's1', 'written as root through m2, read as root through m3');
    await viaM3.put('secret').value('s2');
    assert.equal(await viaM2.get('secret').string(), 's2');

    // m4 lies: root never authenticated through it nor was a token shown to it, yet it orders a
    // write claiming root, then a binding to root's session signed with a seed it made up.
    const put = { op: 'put' as const, key: Buffer.from('secret'), value: Buffer.from('forged'), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false };
    const outcome = await members[3]!.node.propose(encodeKvCommand({ client: 'liar', seq: 1, lowestPending: 1, request: put, user: 'root' }));
    assert.deepEqual(outcome, { ok: false, error: 'invalid-auth-token' });
    const madeUp = new Uint8Array(32).fill(4);
    const binding = signLogin(madeUp, loginUseStatement('root', loginKeyOf(madeUp), 'm4'));
    const bound = await members[3]!.node.propose(encodeKvCommand({ client: 'liar', seq: 2, lowestPending: 2, request: { op: 'auth-login-use', name: 'root', binding } }));
    assert.deepEqual(bound, { ok: false, error: 'invalid-auth-token' });
    const again = await members[3]!.node.propose(encodeKvCommand({ client: 'liar', seq: 3, lowestPending: 3, request: put, user: 'root' }));
    assert.deepEqual(again, { ok: false, error: 'invalid-auth-token' });
    for (const c of [viaM2, viaM3]) assert.equal(await c.get('secret').string(), 's2', 'the forged writes took no effect');
  } finally {
    for (const c of [anon, viaM2, viaM3]) c.close();
    await Promise.all(members.map((m) => m.stop()));
    cluster.remove();
  }
});

test('PBFT: a token issued at m1 is good at m2 (a client that fails over keeps it); the etcd3 client on all four endpoints', { timeout: 120_000 }, async () => {
  const cluster = await pbftMembers('pbft-auth-failover');
  const members: Member[] = await Promise.all(cluster.names.map((_, i) => cluster.start(i)));
  const anon = cluster.client(0);
  const everywhere = new Etcd3({
    hosts: cluster.names.map((_, i) => cluster.clientUrl(i)), auth: { username: 'root', password: 'rootpw' },
    defaultCallOptions: () => ({ deadline: Date.now() + CALL_DEADLINE_MS }),
  });
  try {
    await enableRootAuth(anon);
    const { token } = await rawCall<{ token: string }>(cluster.clientUrl(0), 'Auth', 'Authenticate', { name: 'root', password: 'rootpw' });
    await rawCall(cluster.clientUrl(0), 'KV', 'Put', { key: Buffer.from('failover'), value: Buffer.from('via m1') }, token);
    // The client fails over to m2 with the same token: m2 binds itself to root's session, then writes.
    await rawCall(cluster.clientUrl(1), 'KV', 'Put', { key: Buffer.from('failover'), value: Buffer.from('via m2') }, token);
    const read = await rawCall<{ kvs: { value: Buffer }[] }>(cluster.clientUrl(3), 'KV', 'Range', { key: Buffer.from('failover') }, token);
    assert.equal(read.kvs[0]?.value.toString(), 'via m2', 'and m4 reads with it');
    // A lease granted at m1 is revoked at m3 (a call that runs as its caller), with the same token.
    const { ID } = await rawCall<{ ID: number }>(cluster.clientUrl(0), 'Lease', 'LeaseGrant', { TTL: 60 }, token);
    await rawCall(cluster.clientUrl(0), 'KV', 'Put', { key: Buffer.from('leased'), value: Buffer.from('1'), lease: ID }, token);
    await rawCall(cluster.clientUrl(2), 'Lease', 'LeaseRevoke', { ID }, token);
    const gone = await rawCall<{ kvs: unknown[] }>(cluster.clientUrl(2), 'KV', 'Range', { key: Buffer.from('leased') }, token);
    assert.equal(gone.kvs.length, 0, 'the revoke deleted the attached key');
    // The etcd3 client authenticates at its first host and sends each call to any of the four.
    for (let i = 0; i < 12; i++) await everywhere.put(`k${i}`).value(`${i}`);
    assert.equal(await everywhere.get('k11').string(), '11');
    assert.match(await anon.get('failover').string().then(() => 'no error', (e: Error) => e.message), /etcdserver: user name is empty/);
  } finally {
    for (const c of [anon, everywhere]) c.close();
    await Promise.all(members.map((m) => m.stop()));
    cluster.remove();
  }
});

// The auto-compactor proposes as root under crash-fault protocols; under PBFT no member acts as
// root unless root logged in through it, and one lying member must not compact at will: every
// member's compactor votes, and the store compacts as far as f + 1 members voted.
test('PBFT: auto-compaction keeps working with auth enabled, root logged in elsewhere than the primary', { timeout: 120_000 }, async () => {
  const cluster = await pbftMembers('pbft-auth-compact', undefined, { autoCompaction: { mode: 'periodic', retention: 1000 } });
  const members: Member[] = await Promise.all(cluster.names.map((_, i) => cluster.start(i)));
  const anon = cluster.client(0);
  const viaM3 = new Etcd3({ hosts: cluster.clientUrl(2), auth: { username: 'root', password: 'rootpw' }, defaultCallOptions: () => ({ deadline: Date.now() + CALL_DEADLINE_MS }) });
  try {
    await enableRootAuth(anon);
    for (let i = 0; i < 5; i++) await viaM3.put('k').value(`v${i}`);
    // Periodic, 1 s: samples every 100 ms, compacts to the sample a second old.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const early = await viaM3.get('k').revision(2).string().then(() => 'not compacted', (e: Error) => e.message);
    assert.match(early, /required revision has been compacted/);
  } finally {
    for (const c of [anon, viaM3]) c.close();
    await Promise.all(members.map((m) => m.stop()));
    cluster.remove();
  }
});

/**
 * Under PBFT a token carries its user's session seed, so a token is as good as the user's login
 * to whichever member holds it: it must reach only the members the client itself showed it to.
 * A membership call (MemberAdd, MemberRemove, MemberPromote) made at a backup was forwarded, with
 * the caller's token, to the client URL published for the primary; and any member could publish
 * the client URLs of any other. So a lying member that no client showed a token to got root's
 * token from an honest member, bound itself to root's session and wrote as root.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { Member } from '../../src/server/index.js';
import { adminService } from '../../src/server/admin-proto.js';
import { encodeKvCommand } from '../../src/statemachine/mvcc/index.js';
import { loginKeyOf, loginUseStatement, signLogin } from '../../src/statemachine/mvcc/login-proof.js';
import { pbftMembers, rawCall } from './pbft-members.js';

/** What a liar listens with: a Cluster service that keeps every token it is sent. */
async function tokenTrap(): Promise<{ url: string; tokens: string[]; stop: () => void }> {
  const tokens: string[] = [];
  const server = new grpc.Server();
  const keep = (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
    for (const t of call.metadata.get('token')) tokens.push(t.toString());
    cb({ code: grpc.status.FAILED_PRECONDITION, details: 'etcdserver: not leader' });
  };
  server.addService(adminService('Cluster').service, { MemberList: keep, MemberAdd: keep, MemberRemove: keep, MemberPromote: keep, MemberUpdate: keep });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e === null ? resolve(p) : reject(e))));
  return { url: `http://127.0.0.1:${port}`, tokens, stop: () => server.forceShutdown() };
}

test('PBFT: a membership call at an honest backup does not hand root\'s token to a lying member', { timeout: 120_000 }, async () => {
  const cluster = await pbftMembers('pbft-token-forward');
  const members: Member[] = await Promise.all(cluster.names.map((_, i) => cluster.start(i)));
  const anon = cluster.client(0);
  const trap = await tokenTrap();
  try {
    await anon.user('root').create('rootpw');
    await anon.role('root').create();
    await anon.user('root').addRole('root');
    await anon.auth.authEnable({});
    await anon.put('secret').value('s0').catch(() => undefined);
    // The primary lies (no client ever sends it a request) and publishes a client URL where it
    // keeps what it is sent. (Before the fix any member could also publish under the primary's name.)
    const primary = members[0]!.node.status().leader!;
    const liar = cluster.names.indexOf(primary);
    const liarName = primary;
    const honest = (liar + 1) % cluster.names.length;
    let seq = 0;
    const published = await members[liar]!.node.propose(encodeKvCommand({ client: 'liar', seq: ++seq, lowestPending: seq, request: { op: 'publish-member', name: primary, clientUrls: [trap.url] } }));
    assert.equal(published.ok, true);
    assert.equal(members[honest]!.node.isLeader(), false);
    // root authenticates at an honest backup and asks it to remove a member (etcdctl member remove).
    const { token } = await rawCall<{ token: string }>(cluster.clientUrl(honest), 'Auth', 'Authenticate', { name: 'root', password: 'rootpw' });
    const { members: list } = await rawCall<{ members: { ID: string; name: string }[] }>(cluster.clientUrl(honest), 'Cluster', 'MemberList', {}, token);
    const victim = list.find((m) => m.name !== liarName)!;
    await rawCall(cluster.clientUrl(honest), 'Cluster', 'MemberRemove', { ID: victim.ID }, token).catch(() => undefined);
    // What the liar does with any token it got: bind itself to root's session with the seed, write as root.
    for (const t of trap.tokens) {
      const claims = JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString('utf8')) as { s?: string };
      if (claims.s === undefined) continue;
      const seed = new Uint8Array(Buffer.from(claims.s, 'base64url'));
      const binding = signLogin(seed, loginUseStatement('root', loginKeyOf(seed), liarName));
      await members[liar]!.node.propose(encodeKvCommand({ client: 'liar', seq: ++seq, lowestPending: seq, request: { op: 'auth-login-use', name: 'root', binding } }));
    }
    const put = { op: 'put' as const, key: Buffer.from('secret'), value: Buffer.from('forged'), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false };
    const forged = await members[liar]!.node.propose(encodeKvCommand({ client: 'liar', seq: ++seq, lowestPending: seq, request: put, user: 'root' }));
    assert.deepEqual(forged, { ok: false, error: 'invalid-auth-token' }, 'the liar cannot write as root');
    assert.deepEqual(trap.tokens, [], 'no member sent root\'s token to the address a liar published');
  } finally {
    trap.stop();
    anon.close();
    await Promise.all(members.map((m) => m.stop()));
    cluster.remove();
  }
});

/**
 * etcd's auth through the `etcd3` npm client against a 3-process cluster: users, roles and
 * key-range permissions, auth enable with etcd's root rules, tokens in the `token` metadata
 * (verified by every member, revoked by a password change), etcd's exact error texts, and the
 * auth state surviving a member's restart from its snapshot and log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { etcdService, lockService } from '../../src/server/proto.js';
import { ProcessCluster, errorOf } from './process-cluster.js';

interface WatchAnswer {
  readonly watch_id?: number | string;
  readonly created?: boolean;
  readonly canceled?: boolean;
  readonly cancel_reason?: string;
}


/** A client of one member that authenticates as `username` (the etcd3 client's own token handling). */
function clientAs(cluster: ProcessCluster, member: string, username: string, password: string): Etcd3 {
  return new Etcd3({
    hosts: `http://${cluster.endpoint(member)}`,
    auth: { username, password },
    dialTimeout: 2_000,
    defaultCallOptions: () => ({ deadline: Date.now() + 5_000 }),
    faultHandling: { host: () => noop, global: noop },
  });
}

/** One raw unary call, so a test can choose the member and the token metadata itself. */
function rawCall<Res>(address: string, service: 'Auth' | 'KV' | 'Lease' | 'Lock', method: string, request: object, token?: string): Promise<Res> {
  const Ctor = service === 'Lock' ? lockService() : etcdService(service);
  const client = new Ctor(address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set('token', token);
  return new Promise<Res>((resolve, reject) => {
    client[method]!(request, metadata, { deadline: Date.now() + 5_000 }, (err: grpc.ServiceError | null, res: Res) => {
      client.close();
      if (err !== null) reject(err);
      else resolve(res);
    });
  });
}

test('etcd auth through the etcd3 client on a 3-member cluster', { timeout: 120_000 }, async (t) => {
  // Frequent snapshots, so that the restart below restores the auth state from a snapshot.
  const cluster = await ProcessCluster.start(3, ['--snapshot-count', '20']);
  const clients: Etcd3[] = [];
  const as = (member: string, user: string, password: string): Etcd3 => {
    const c = clientAs(cluster, member, user, password);
    clients.push(c);
    return c;
  };
  try {
    const leader = await cluster.waitForLeader();
    const [f1, f2] = cluster.names.filter((n) => n !== leader) as [string, string];
    const anon = cluster.client(leader);

    await t.test('auth enable is refused until a user root exists and holds the role root', async () => {
      assert.match(await errorOf(anon.auth.authEnable({})), /etcdserver: root user does not exist/);
      await anon.user('root').create('rootpw');
      assert.match(await errorOf(anon.auth.authEnable({})), /etcdserver: root user does not have root role/);
      await anon.role('root').create();
      await anon.user('root').addRole('root');
      assert.match(await errorOf(anon.user('root').create('again')), /etcdserver: user name already exists/);
      assert.match(await errorOf(anon.role('root').create()), /etcdserver: role name already exists/);
    });

    await t.test('users, roles and key-range permissions are created and listed', async () => {
      await anon.put('config').value('c1');
      await anon.put('app/seed').value('s');
      await anon.put('secret').value('s3');
      await anon.user('alice').create('alicepw');
      const app = await anon.role('app').create();
      await app.grant({ permission: 'Readwrite', range: anon.range({ prefix: 'app/' }) });
      await app.grant({ permission: 'Read', key: 'config' });
      await anon.user('alice').addRole('app');
      assert.deepEqual((await anon.getUsers()).map((u) => u.name).sort(), ['alice', 'root']);
      assert.deepEqual((await anon.getRoles()).map((r) => r.name).sort(), ['app', 'root']);
      assert.deepEqual((await anon.user('alice').roles()).map((r) => r.name), ['app']);
      const perms = await anon.role('app').permissions();
      assert.deepEqual(perms.map((p) => [p.permission, p.range.start.toString(), p.range.end.toString()]), [
        ['Readwrite', 'app/', 'app0'], ['Read', 'config', ''],
      ]);
    });

    await t.test('once enabled, a request without a token is refused with etcd\'s text; root may do everything', async () => {
      await anon.auth.authEnable({});
      assert.match(await errorOf(anon.get('config').string()), /etcdserver: user name is empty/);
      assert.match(await errorOf(anon.put('config').value('x').exec()), /etcdserver: user name is empty/);
      assert.match(await errorOf(anon.getUsers()), /etcdserver: user name is empty/);
      const root = as(f1, 'root', 'rootpw');
      await root.put('secret').value('s4');
      assert.equal(await root.get('secret').string(), 's4');
      assert.deepEqual((await root.getUsers()).map((u) => u.name).sort(), ['alice', 'root']);
      const status = await root.auth.authStatus();
      assert.equal(status.enabled, true);
      assert.ok(Number(status.authRevision) > 1, 'every change bumped the auth revision');
      assert.match(await errorOf(anon.auth.authStatus()), /etcdserver: user name is empty/);
    });

    await t.test('a user reads and writes only what its roles allow (put, get, prefix, delete, txn)', async () => {
      const alice = as(f2, 'alice', 'alicepw');
      await alice.put('app/a').value('1');
      assert.equal(await alice.get('app/a').string(), '1');
      assert.equal(await alice.get('config').string(), 'c1');
      assert.deepEqual(await alice.getAll().prefix('app/').keys(), ['app/a', 'app/seed']);
      assert.match(await errorOf(alice.put('config').value('x').exec()), /etcdserver: permission denied/);
      assert.match(await errorOf(alice.get('secret').string()), /etcdserver: permission denied/);
      assert.match(await errorOf(alice.getAll().keys()), /etcdserver: permission denied/);
      assert.match(await errorOf(alice.delete().key('config').exec()), /etcdserver: permission denied/);
      assert.match(await errorOf(alice.if('secret', 'Value', '==', 'x').then(alice.put('app/b').value('2')).commit()), /etcdserver: permission denied/);
      const ok = await alice.if('app/a', 'Value', '==', '1').then(alice.put('app/b').value('2')).commit();
      assert.equal(ok.succeeded, true);
      assert.match(await errorOf(alice.getUsers()), /etcdserver: permission denied/);
      assert.deepEqual((await alice.user('alice').roles()).map((r) => r.name), ['app'], 'a user may read itself');
      assert.match(await errorOf(as(f2, 'alice', 'wrong').get('app/a').string()), /etcdserver: authentication failed, invalid user ID or password/);
      assert.match(await errorOf(as(f2, 'nobody', 'x').get('app/a').string()), /etcdserver: authentication failed, invalid user ID or password/);
    });

    await t.test('a token from one member is accepted by every member; a forged one is refused', async () => {
      const { token } = await rawCall<{ token: string }>(cluster.endpoint(f1), 'Auth', 'Authenticate', { name: 'alice', password: 'alicepw' });
      for (const m of cluster.names) {
        const res = await rawCall<{ kvs: { value: Buffer }[] }>(cluster.endpoint(m), 'KV', 'Range', { key: Buffer.from('app/a') }, token);
        assert.equal(res.kvs[0]?.value.toString(), '1', `member ${m} accepts the token`);
      }
      const [payload = '', mac = ''] = token.split('.');
      const tampered = `${payload.slice(0, -2)}AA.${mac}`;
      const err = await errorOf(rawCall(cluster.endpoint(f2), 'KV', 'Range', { key: Buffer.from('app/a') }, tampered));
      assert.match(err, /UNAUTHENTICATED|16/);
      assert.match(err, /etcdserver: invalid auth token/);
    });

    await t.test('a watch on a key the user may not read is created and cancelled at once with the permission reason', async () => {
      const { token } = await rawCall<{ token: string }>(cluster.endpoint(f1), 'Auth', 'Authenticate', { name: 'alice', password: 'alicepw' });
      const Ctor = etcdService('Watch');
      const client = new Ctor(cluster.endpoint(f2), grpc.credentials.createInsecure());
      const metadata = new grpc.Metadata();
      metadata.set('token', token);
      const stream = (client['Watch'] as (md: grpc.Metadata) => grpc.ClientDuplexStream<object, WatchAnswer>)(metadata);
      const answers: WatchAnswer[] = [];
      const twoAnswers = new Promise<void>((resolve, reject) => {
        stream.on('data', (a: WatchAnswer) => {
          answers.push(a);
          if (answers.length === 2) resolve();
        });
        stream.on('error', reject);
      });
      try {
        stream.write({ create_request: { key: Buffer.from('secret'), watch_id: 7 } });
        stream.write({ create_request: { key: Buffer.from('app/'), range_end: Buffer.from('app0'), watch_id: 8 } });
        await twoAnswers;
      } finally {
        stream.cancel();
        client.close();
      }
      const [denied, allowed] = answers;
      assert.equal(Number(denied?.watch_id), 7);
      assert.equal(denied?.created, true);
      assert.equal(denied?.canceled, true);
      assert.equal(denied?.cancel_reason, 'rpc error: code = PermissionDenied desc = etcdserver: permission denied');
      assert.equal(Number(allowed?.watch_id), 8);
      assert.equal(allowed?.created, true);
      assert.equal(allowed?.canceled, false);
    });

    await t.test('v3lock runs as the caller, and revoking a lease needs write permission on its keys', async () => {
      const { token } = await rawCall<{ token: string }>(cluster.endpoint(f1), 'Auth', 'Authenticate', { name: 'alice', password: 'alicepw' });
      const { ID: lease } = await rawCall<{ ID: number }>(cluster.endpoint(f1), 'Lease', 'LeaseGrant', { TTL: 30 }, token);
      const held = await rawCall<{ key: Buffer }>(cluster.endpoint(f2), 'Lock', 'Lock', { name: Buffer.from('app/lk'), lease }, token);
      assert.ok(held.key.toString().startsWith('app/lk/'), 'alice may write under app/, so she may lock there');
      await rawCall(cluster.endpoint(f2), 'Lock', 'Unlock', { key: held.key }, token);
      const refused = await errorOf(rawCall(cluster.endpoint(f2), 'Lock', 'Lock', { name: Buffer.from('secret-lock'), lease }, token));
      assert.match(refused, /etcdserver: permission denied/);
      const root = as(f1, 'root', 'rootpw');
      const rootLease = root.lease(30, { autoKeepAlive: false });
      await rootLease.put('secret').value('leased');
      const rootLeaseId = await rootLease.grant();
      const revoke = await errorOf(rawCall(cluster.endpoint(f2), 'Lease', 'LeaseRevoke', { ID: Number(rootLeaseId) }, token));
      assert.match(revoke, /etcdserver: permission denied/, 'alice may not delete secret by revoking its lease');
      assert.equal(await root.get('secret').string(), 'leased');
      await rootLease.revoke();
      assert.equal(await root.get('secret').string(), null, 'root may');
      await root.put('secret').value('s4');
    });

    await t.test('permission changes apply at once; a password change revokes the user\'s tokens', async () => {
      const root = as(leader, 'root', 'rootpw');
      const { token } = await rawCall<{ token: string }>(cluster.endpoint(f2), 'Auth', 'Authenticate', { name: 'alice', password: 'alicepw' });
      await root.role('app').revoke({ permission: 'Read', key: 'config' });
      assert.match(await errorOf(rawCall(cluster.endpoint(f2), 'KV', 'Range', { key: Buffer.from('config') }, token)), /etcdserver: permission denied/);
      await root.user('alice').setPassword('newpw');
      assert.match(await errorOf(rawCall(cluster.endpoint(f1), 'KV', 'Range', { key: Buffer.from('app/a') }, token)), /etcdserver: invalid auth token/);
      const alice = as(f1, 'alice', 'newpw');
      assert.equal(await alice.get('app/a').string(), '1');
      await root.user('alice').removeRole('app');
      assert.match(await errorOf(alice.get('app/a').string()), /etcdserver: permission denied/);
      assert.match(await errorOf(root.user('alice').removeRole('app')), /etcdserver: role is not granted to the user/);
      assert.match(await errorOf(root.user('root').removeRole('root')), /etcdserver: invalid auth management/);
      assert.match(await errorOf(root.user('root').delete()), /etcdserver: invalid auth management/);
      assert.match(await errorOf(root.role('root').delete()), /etcdserver: invalid auth management/);
      assert.match(await errorOf(root.user('ghost').delete()), /etcdserver: user name not found/);
      assert.match(await errorOf(root.role('ghost').delete()), /etcdserver: role name not found/);
      await root.user('alice').addRole('app');
    });

    await t.test('a restarted member restores users, roles and the token key from its snapshot and log', async () => {
      const root = as(leader, 'root', 'rootpw');
      for (let i = 0; i < 30; i++) await root.put(`app/fill${i}`).value('x'); // past --snapshot-count
      await cluster.kill(f2);
      cluster.launch(f2);
      await cluster.waitForLeader();
      const { token } = await rawCall<{ token: string }>(cluster.endpoint(leader), 'Auth', 'Authenticate', { name: 'alice', password: 'newpw' });
      const res = await rawCall<{ kvs: { value: Buffer }[] }>(cluster.endpoint(f2), 'KV', 'Range', { key: Buffer.from('app/a') }, token);
      assert.equal(res.kvs[0]?.value.toString(), '1');
      assert.match(await errorOf(rawCall(cluster.endpoint(f2), 'KV', 'Range', { key: Buffer.from('secret') }, token)), /etcdserver: permission denied/);
      assert.match(await errorOf(cluster.client(f2).get('app/a').string()), /etcdserver: user name is empty/);
    });

    await t.test('auth disable: tokens are void and every request is allowed again', async () => {
      const root = as(f1, 'root', 'rootpw');
      const { token } = await rawCall<{ token: string }>(cluster.endpoint(f1), 'Auth', 'Authenticate', { name: 'root', password: 'rootpw' });
      await root.auth.authDisable({});
      assert.equal(await anon.get('secret').string(), 's4');
      await anon.put('secret').value('open');
      assert.match(await errorOf(rawCall(cluster.endpoint(f1), 'Auth', 'Authenticate', { name: 'root', password: 'rootpw' })), /etcdserver: authentication is not enabled/);
      await anon.auth.authEnable({});
      assert.match(await errorOf(rawCall(cluster.endpoint(f1), 'KV', 'Range', { key: Buffer.from('secret') }, token)), /etcdserver: invalid auth token/,
        'a token from before the disable stays void after enabling again');
    });
  } finally {
    for (const c of clients) c.close();
    await cluster.stop();
  }
});

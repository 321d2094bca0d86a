/**
 * A write's cheap refusals come before the txn write check (issue 15, item 5): the size limits,
 * the fields and the caller's permissions are checked first, so a request refused for any of them
 * never costs the O(n log n) duplicate-key walk (a 1.4 MB nested txn once took 28 s of it, for
 * anyone, before auth). Seen from outside: a txn that writes one key twice is answered "user name
 * is empty" without a token and "permission denied" for a user who may not write it; only a user
 * who may is told about the duplicate key. (etcd checks duplicates first, in its gRPC layer; here
 * the order is deliberate.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { etcdService } from '../../src/server/proto.js';
import { oneMember } from './one-member.js';
import { errorOf } from './process-cluster.js';
import { addRoot, rawUnary } from './raw-clients.js';

const put = (key: string) => ({ request_put: { key: Buffer.from(key), value: Buffer.from('v') } });
/** One key written twice in one branch: etcd's "duplicate key given in txn request". */
const DUPLICATE = { success: [put('k'), put('k')] };

test('a txn that writes a key twice: refused for the caller\'s permissions before its duplicate key is looked at', { timeout: 60_000 }, async () => {
  const m = await oneMember('txn-check-order');
  const client = new Etcd3({ hosts: `http://${m.address}` });
  const kv = etcdService('KV');
  try {
    await addRoot(client);
    await client.user('alice').create('alicepw');
    await client.auth.authEnable({});
    const tokenOf = async (name: string, password: string) =>
      (await rawUnary<{ token: string }>(m.address, etcdService('Auth'), 'Authenticate', { name, password })).token;
    const [alice, root] = [await tokenOf('alice', 'alicepw'), await tokenOf('root', 'rootpw')];

    assert.match(await errorOf(rawUnary(m.address, kv, 'Txn', DUPLICATE)), /etcdserver: user name is empty/, 'anonymous');
    assert.match(await errorOf(rawUnary(m.address, kv, 'Txn', DUPLICATE, alice)), /etcdserver: permission denied/, 'a user without the permission');
    assert.match(await errorOf(rawUnary(m.address, kv, 'Txn', DUPLICATE, root)), /etcdserver: duplicate key given in txn request/, 'root');
  } finally {
    client.close();
    await m.close();
  }
});

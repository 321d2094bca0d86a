/**
 * A lock or election key its caller gave up on is deleted; when the delete does not commit (here:
 * the member's node stopped), the failure is logged with the key and lease, counted in
 * etcd_server_proposals_failed_total, and a caller still waiting for its answer gets etcd's error
 * text unchanged and the key left behind in its trailing metadata (it keeps its place in line
 * until unlocked or until its lease ends, as in etcd).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServiceError } from '@grpc/grpc-js';
import { oneMember } from './one-member.js';
import { rawClients } from './raw-clients.js';

test('a Lock whose wait fails while its caller waits, and whose key cannot be deleted, answers with the key left behind; logged and counted', { timeout: 60_000 }, async () => {
  const m = await oneMember('release-waiting');
  const leftBehind = () => m.warnings(/was not deleted/);
  const raw = rawClients(m.address);
  try {
    const a = (await raw.lease.LeaseGrant({ TTL: 60 })).ID;
    const b = (await raw.lease.LeaseGrant({ TTL: 60 })).ID;
    await raw.lock.Lock({ name: Buffer.from('res'), lease: a });
    const failedBefore = await m.failedProposals();
    // The node stops as soon as b's claim is applied: the wait cannot start, the delete cannot commit.
    m.member.node.once('apply-batch', () => void m.member.node.stop());
    const err = await raw.lock.Lock({ name: Buffer.from('res'), lease: b }).then(() => assert.fail('locked'), (e: unknown) => e as ServiceError);
    const key = `res/${b.toString(16)}`;
    // etcd's exact text (Go clientv3 maps it to rpctypes.ErrStopped only on an exact match);
    // the key left behind and its lease come in the trailing metadata.
    assert.equal(err.details, 'etcdserver: server stopped');
    assert.deepEqual(err.metadata.get('quorate-left-behind-key-bin'), [Buffer.from(key)]);
    assert.deepEqual(err.metadata.get('quorate-left-behind-lease'), [b.toString(16)]);
    const [line] = leftBehind();
    assert.ok(line !== undefined, 'logged');
    assert.equal(line.fields['key'], key);
    assert.equal(line.fields['lease'], b.toString(16));
    assert.ok(await m.failedProposals() > failedBefore, 'counted in etcd_server_proposals_failed_total');
  } finally {
    raw.close();
    await m.close();
  }
});

test('a Campaign whose caller went away, and whose key cannot be deleted, is logged with the key and counted', { timeout: 60_000 }, async () => {
  const m = await oneMember('release-gone');
  const leftBehind = () => m.warnings(/was not deleted/);
  const raw = rawClients(m.address);
  const impatient = rawClients(m.address, 1_500);
  try {
    const a = (await raw.lease.LeaseGrant({ TTL: 60 })).ID;
    const b = (await raw.lease.LeaseGrant({ TTL: 60 })).ID;
    await raw.election.Campaign({ name: Buffer.from('e'), lease: a, value: Buffer.from('a') });
    const failedBefore = await m.failedProposals();
    const waiting = impatient.election.Campaign({ name: Buffer.from('e'), lease: b, value: Buffer.from('b') }).then(() => 'elected', (e: unknown) => (e as ServiceError).code);
    // b's candidacy is in line; then the node stops, and b's deadline passes.
    const deadline = Date.now() + 10_000;
    const key = Buffer.from(`e/${b.toString(16)}`);
    while ((await raw.kv.Range({ key })).kvs.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await m.member.node.stop();
    assert.notEqual(await waiting, 'elected');
    while (leftBehind().length === 0 && Date.now() < deadline + 10_000) await new Promise((r) => setTimeout(r, 50));
    const [line] = leftBehind();
    assert.ok(line !== undefined, 'logged');
    assert.equal(line.fields['key'], key.toString());
    assert.equal(line.fields['gaveUpOn'], 'context canceled');
    assert.ok(await m.failedProposals() > failedBefore, 'counted in etcd_server_proposals_failed_total');
  } finally {
    raw.close();
    impatient.close();
    await m.close();
  }
});

/**
 * A write over --quota-backend-bytes raises the NOSPACE alarm; when the alarm does not commit
 * (here: the member's node stopped), the write is still refused with etcd's "database space
 * exceeded", and the alarm's failure is logged and counted in etcd_server_proposals_failed_total
 * beside the refused write.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServiceError } from '@grpc/grpc-js';
import { oneMember } from './one-member.js';
import { rawClients } from './raw-clients.js';

test('an over-quota write whose NOSPACE alarm cannot commit is refused, and the alarm failure is logged and counted', { timeout: 60_000 }, async () => {
  const m = await oneMember('quota-alarm', { quotaBackendBytes: 64 * 1024 });
  // A plain gRPC client: one request, no client-side retries.
  const raw = rawClients(m.address);
  try {
    await raw.kv.Put({ key: Buffer.from('small'), value: Buffer.from('fits') });
    await m.member.node.stop();
    const failedBefore = await m.failedProposals();
    const err = await raw.kv.Put({ key: Buffer.from('large'), value: Buffer.alloc(128 * 1024) }).then(() => assert.fail('written'), (e: unknown) => e as ServiceError);
    assert.equal(err.details, 'etcdserver: mvcc: database space exceeded');
    assert.equal(m.warnings(/NOSPACE alarm did not commit/).length, 1, 'logged once');
    assert.equal(await m.failedProposals(), failedBefore + 2, 'the alarm and the refused write are both counted');
  } finally {
    raw.close();
    await m.close();
  }
});

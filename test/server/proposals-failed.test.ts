/**
 * etcd_server_proposals_failed_total counts proposals that did not commit, as etcd's does
 * (processInternalRaftRequestOnce): a service request that committed and whose apply refused it
 * (revoking or keeping alive a lease that is gone) answers its caller and is no failed proposal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServiceError } from '@grpc/grpc-js';
import { oneMember } from './one-member.js';
import { rawClients } from './raw-clients.js';

test('a LeaseRevoke or keep-alive of an unknown lease is not counted as a failed proposal', { timeout: 60_000 }, async () => {
  const m = await oneMember('proposals-failed');
  const raw = rawClients(m.address);
  try {
    await raw.kv.Put({ key: Buffer.from('k'), value: Buffer.from('v') });
    const before = await m.failedProposals();
    const err = await raw.lease.LeaseRevoke({ ID: 0x1234 }).then(() => assert.fail('revoked'), (e: unknown) => e as ServiceError);
    assert.equal(err.details, 'etcdserver: requested lease not found');
    assert.equal(await raw.keepAliveOnce(0x1234), 0);
    assert.equal(await m.failedProposals(), before);
  } finally {
    raw.close();
    await m.close();
  }
});

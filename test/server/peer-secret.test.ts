/**
 * `quorate serve --peer-secret-file`: three member processes sharing a secret elect a leader and
 * serve a put; a peer that opens the peer port without the secret is disconnected at its hello.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from '../../src/core/codec.js';
import { encodeFrame } from '../../src/transport/frame.js';
import { ProcessCluster } from './process-cluster.js';

test('a cluster started with --peer-secret-file elects a leader and serves a put; a peer without the secret is disconnected', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-secret-'));
  const file = join(dir, 'peer-secret');
  writeFileSync(file, 'c2VjcmV0LXNoYXJlZC1ieS1ldmVyeS1tZW1iZXI=\n');
  const cluster = await ProcessCluster.start(3, ['--peer-secret-file', file]);
  try {
    const name = cluster.names[0]!;
    await cluster.client(name).put('guarded').value('yes');
    assert.equal(await cluster.client(cluster.names[1]!).get('guarded').string(), 'yes', 'replicated to another member');
    const status = await cluster.client(name).maintenance.status({});
    // A hello that names a real member but proves nothing: closed at once (without the secret
    // configured, the listener would wait for its frames).
    const outcome = await new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: cluster.peerPort(name) }, () => {
        s.write(encodeFrame(pack({ magic: 'QRT1', clusterId: status.header.cluster_id, from: cluster.names[1]!, to: name })));
      });
      s.on('error', () => {});
      s.on('close', () => resolve('closed'));
      setTimeout(() => { s.destroy(); resolve('still open'); }, 3_000).unref();
    });
    assert.equal(outcome, 'closed');
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

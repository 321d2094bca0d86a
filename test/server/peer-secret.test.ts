/**
 * `quorate serve --peer-secret-file`: three member processes sharing a secret elect a leader and
 * serve a put; a peer that opens the peer port without the secret is disconnected at its hello;
 * the peer port's one-question connections (hashkv, join) are answered only to askers that prove
 * the secret, and a new member holding it joins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from '../../src/core/codec.js';
import { QuorateError } from '../../src/core/errors.js';
import { askToJoin, peerSecretFromFile } from '../../src/transport/index.js';
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

    // The corruption check's question: refused without the secret, answered with it.
    const peer = { host: '127.0.0.1', port: cluster.peerPort(name) };
    const secret = peerSecretFromFile(readFileSync(file));
    const refused = await askToJoin(peer, { kind: 'hashkv', revision: 1 }, { tls: null, secret: null }, 5_000).then(() => null, (err: unknown) => err);
    assert.ok(refused instanceof QuorateError && refused.code === 'UNAUTHENTICATED', `refused: ${String(refused)}`);
    const hash = await askToJoin(peer, { kind: 'hashkv', revision: Number(status.header.revision) }, { tls: null, secret }, 5_000) as { hash?: unknown };
    assert.equal(typeof hash.hash, 'number', `answered: ${JSON.stringify(hash)}`);
    // The proofs cover the query but not which member answers (every member holds the secret): a
    // query for another member, as one sent on to this member by anyone on the path, gets no hash.
    const other = (await cluster.client(cluster.names[1]!).maintenance.status({})).header.member_id;
    const redirected = await askToJoin(peer, { kind: 'hashkv', revision: Number(status.header.revision), memberId: String(other) }, { tls: null, secret }, 5_000) as { hash?: unknown; error?: unknown };
    assert.equal(redirected.hash, undefined, `a hash for another member: ${JSON.stringify(redirected)}`);
    assert.match(String(redirected.error), /asked of member/);
    const named = await askToJoin(peer, { kind: 'hashkv', revision: Number(status.header.revision), memberId: String(status.header.member_id) }, { tls: null, secret }, 5_000) as { hash?: unknown; error?: unknown };
    assert.ok(named.hash !== undefined || /too soon/.test(String(named.error)), `asked of this member: ${JSON.stringify(named)}`);

    // A joining member: refused without the secret; with it (as a member started with the flag) it joins.
    await cluster.reserve('m4');
    const peerUrl = `http://127.0.0.1:${cluster.peerPort('m4')}`;
    await cluster.client(name).cluster.memberAdd({ peerURLs: [peerUrl], isLearner: true });
    const join = askToJoin(peer, { peerUrls: [peerUrl], name: 'm4' }, { tls: null, secret: null }, 5_000).then(() => null, (err: unknown) => err);
    assert.equal(((await join) as QuorateError | null)?.code, 'UNAUTHENTICATED');
    cluster.launch('m4', ['--initial-cluster-state', 'existing']);
    const deadline = Date.now() + 30_000;
    let started = false;
    while (!started && Date.now() < deadline) {
      started = (await cluster.client(name).cluster.memberList({})).members.some((m) => m.name === 'm4');
      if (!started) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(started, `m4 joined and published its name:\n${cluster.output.slice(-20).join('\n')}`);
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

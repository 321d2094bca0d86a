/** PBFT on the real Authenticator (HMAC-SHA256, Ed25519, SHA-256), as the node runtime would run it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { macVector } from '../../../src/core/authenticator.js';
import { nodeId } from '../../../src/core/index.js';
import { CryptoAuthenticator, deriveKeys } from '../../../src/node/crypto-authenticator.js';
import { commitPayload } from '../../../src/protocols/pbft/index.js';
import { PbftCluster } from './harness.js';

const PRINCIPALS = ['n1', 'n2', 'n3', 'n4', 'c1', 'c2'];
const real = (p: string) => new CryptoAuthenticator(deriveKeys('test-cluster-secret', p, PRINCIPALS));

describe('PBFT with HMAC-SHA256 MAC vectors and Ed25519 signatures', () => {
  it('commits, changes view past a silent primary and refuses forgeries', () => {
    const c = new PbftCluster(4, { authenticators: real });
    c.request('c1', 'x');
    c.deliverAll();
    assert.deepEqual(c.accepted('c1'), ['1:x']);
    // n4 forges a commit in n2's name: its MAC is under the wrong key.
    const payload = commitPayload(0, 2, 'bogus', nodeId('n2'));
    c.inFlight.push({ type: 'commit', from: nodeId('n2'), to: nodeId('n3'), view: 0, seq: 2, digest: 'bogus', replica: nodeId('n2'), macs: macVector(c.auth('n4'), payload, c.ids) });
    c.deliverAll();
    assert.equal(c.replica('n3').status().invalidAuthenticators, 1);
    c.drop((m) => m.from === 'n1');
    c.request('c2', 'y', { toAll: true });
    c.deliverAll();
    c.tickUntil(() => c.accepted('c2').length === 1);
    assert.equal(c.view('n3'), 1);
    c.assertAgree();
  });

  it('pairwise MAC keys agree on both sides and differ between pairs; signatures verify for their signer only', () => {
    const a = real('n1');
    const b = real('n2');
    const d = real('n3');
    assert.ok(b.verifyMac('hello', 'n1', a.mac('hello', 'n2')));
    assert.ok(!d.verifyMac('hello', 'n1', a.mac('hello', 'n2')));
    assert.ok(b.verifySignature('hello', 'n1', a.sign('hello')));
    assert.ok(!b.verifySignature('hello', 'n3', a.sign('hello')));
    assert.ok(!b.verifySignature('hellO', 'n1', a.sign('hello')));
  });
});

/** PBFT on the real Authenticator (HMAC-SHA256, Ed25519, SHA-256), as the node runtime runs it. */
import assert from 'node:assert/strict';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { CryptoAuthenticator, deriveKeys } from '../../../src/node/crypto-authenticator.js';
import { runScenarioFile } from '../interaction/datadriven.js';
import { environment, sourceFolder } from '../interaction/run-testdata.js';
import { PbftAdapter } from './interaction.js';

const PRINCIPALS = ['n1', 'n2', 'n3', 'n4', 'c1', 'c2'];
const real = (p: string) => new CryptoAuthenticator(deriveKeys('test-cluster-secret', p, PRINCIPALS));

describe('PBFT with HMAC-SHA256 MAC vectors and Ed25519 signatures', () => {
  it('commits, refuses forgeries and changes view past a silent primary: testdata/real-crypto.txt, unchanged', () => {
    // The scenarios runner checks this file on the simulator's keyring; here the same expected
    // output must come out of real cryptography (never rewritten from this run).
    const file = join(sourceFolder(import.meta.url), 'testdata', 'real-crypto.txt');
    runScenarioFile(file, relative(process.cwd(), file), () => environment(new PbftAdapter(real)), false);
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

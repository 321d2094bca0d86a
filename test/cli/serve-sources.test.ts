/**
 * A check across options (election timeout against heartbeat, a certificate and its key, a
 * duration, the auto-compaction retention) names each value where it came from: the flag, the
 * ETCD_* variable or the config file's key, so the operator edits the right place.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseServe } from '../../src/cli/commands/serve.js';
import { UsageError } from '../../src/cli/command.js';

function refusal(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parseServe(argv, env);
  } catch (err) {
    assert.ok(err instanceof UsageError, String(err));
    return err.message;
  }
  assert.fail(`accepted: ${argv.join(' ')} ${JSON.stringify(env)}`);
}

test('serve: the election timeout check names the flag or variable each value came from', () => {
  assert.equal(refusal([], { ETCD_ELECTION_TIMEOUT: '400' }), 'ETCD_ELECTION_TIMEOUT (400) should be at least 5 times --heartbeat-interval (100, the default)');
  assert.equal(refusal(['--heartbeat-interval', '300'], { ETCD_ELECTION_TIMEOUT: '1000' }), 'ETCD_ELECTION_TIMEOUT (1000) should be at least 5 times --heartbeat-interval (300)');
  assert.equal(refusal(['--election-timeout', '400']), '--election-timeout (400) should be at least 5 times --heartbeat-interval (100, the default)');
});

test('serve: a certificate without its key names where the certificate was given', () => {
  assert.equal(refusal([], { ETCD_CERT_FILE: 'c.pem' }), 'ETCD_CERT_FILE is given without --key-file: they go together');
  assert.equal(refusal(['--key-file', 'k.pem']), '--key-file is given without --cert-file: they go together');
  assert.equal(refusal([], { ETCD_PEER_CERT_FILE: 'c.pem', ETCD_PEER_KEY_FILE: 'k.pem' }), 'ETCD_PEER_CERT_FILE and ETCD_PEER_KEY_FILE are given without --peer-trusted-ca-file: they go together');
});

test('serve: with a config file, the checks name the file\'s keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-sources-'));
  try {
    const file = join(dir, 'etcd.yml');
    writeFileSync(file, 'heartbeat-interval: 300\nelection-timeout: 1000\n');
    assert.equal(refusal(['--config-file', file]), `election-timeout in ${file} (1000) should be at least 5 times heartbeat-interval in ${file} (300)`);
    writeFileSync(file, 'client-transport-security:\n  cert-file: /etc/etcd/server.crt\n');
    assert.equal(refusal(['--config-file', file]), `client-transport-security.cert-file in ${file} is given without client-transport-security.key-file in ${file}: they go together`);
    assert.equal(refusal([], { ETCD_CONFIG_FILE: join(dir, 'none.yml') }), `ETCD_CONFIG_FILE ${join(dir, 'none.yml')}: no such file`);
    writeFileSync(file, 'experimental-watch-progress-notify-interval: -1m\n');
    assert.match(refusal(['--config-file', file]), new RegExp(`^experimental-watch-progress-notify-interval in ${file.replace(/[/.]/g, '\\$&')} must be a positive duration`));
    writeFileSync(file, 'auto-compaction-mode: revision\nauto-compaction-retention: 1h\n');
    assert.equal(refusal(['--config-file', file]), `auto-compaction-retention in ${file} must be a whole number of revisions in revision mode, not '1h'`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serve: the auto-compaction retention from a variable is named as the variable', () => {
  assert.match(refusal([], { ETCD_AUTO_COMPACTION_RETENTION: 'often' }), /^ETCD_AUTO_COMPACTION_RETENTION must be a duration/);
  assert.match(refusal(['--auto-compaction-retention', 'often']), /^--auto-compaction-retention must be a duration/);
});

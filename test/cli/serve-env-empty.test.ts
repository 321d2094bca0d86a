/**
 * An empty ETCD_* variable is as if unset, as in etcd (it sets a flag from a variable only
 * `if val != ""`): `ETCD_NAME=` keeps the default name instead of an empty one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseServe } from '../../src/cli/commands/serve.js';

function parsed(argv: string[], env: NodeJS.ProcessEnv) {
  const r = parseServe(argv, env);
  assert.ok(r !== 'help');
  return r;
}

test('serve: empty ETCD_* variables set nothing and are not named in warnings', () => {
  const { options, warnings } = parsed([], {
    ETCD_NAME: '', ETCD_DATA_DIR: '', ETCD_HEARTBEAT_INTERVAL: '', ETCD_CLIENT_CERT_AUTH: '', ETCD_LOG_LEVEL: '', ETCD_MAX_WALS: '',
  });
  assert.equal(options.name, 'default');
  assert.equal(options.dataDir, 'default.etcd');
  assert.equal(options.heartbeatIntervalMs, 100);
  assert.deepEqual(warnings, []);
  // Nor is an empty variable "shadowed" by its flag.
  assert.deepEqual(parsed(['--name', 'm1'], { ETCD_NAME: '' }).warnings, []);
});

test('serve: with a config file, empty ETCD_* variables are not named as ignored', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-env-'));
  try {
    const file = join(dir, 'etcd.yml');
    writeFileSync(file, 'name: infra1\n');
    const { options, warnings } = parsed(['--config-file', file], { ETCD_DATA_DIR: '' });
    assert.equal(options.name, 'infra1');
    assert.deepEqual(warnings, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

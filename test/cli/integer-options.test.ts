/**
 * Integer options take plain decimal digits only (Number() took '1e3', '0x10', ' 7' and '1.0'),
 * without a leading zero (etcd reads 01000 as Go's octal, 512), and stay within a sane bound
 * where one is obvious.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseServe } from '../../src/cli/commands/serve.js';
import { UsageError } from '../../src/cli/command.js';
import { assertBadInput, quorate } from './run-quorate.js';

function refused(argv: string[], env: NodeJS.ProcessEnv, pattern: RegExp): void {
  assert.throws(() => parseServe(argv, env), (e: unknown) => e instanceof UsageError && pattern.test(e.message), `${argv.join(' ')} ${JSON.stringify(env)}`);
}

test('integer options refuse anything but decimal digits, wherever the value comes from', () => {
  for (const text of ['1e3', '0x10', ' 7', '7 ', '1.0', '+7', '-0', '0b1', '1_000', '']) {
    refused(['--snapshot-count', text], {}, new RegExp(`^--snapshot-count must be a positive integer, got '${text.replace(/[.+]/g, '\\$&')}'$`));
    refused([], { ETCD_MAX_TXN_OPS: text === '' ? '0x1' : text }, /^ETCD_MAX_TXN_OPS must be a positive integer/);
  }
  // A leading zero is octal to etcd's flags (Go base 0): refused rather than read otherwise.
  refused(['--election-timeout', '01000'], {}, /^--election-timeout must be an integer from 1 to 50000, got '01000'$/);
  refused([], { ETCD_SNAPSHOT_COUNT: '0010' }, /^ETCD_SNAPSHOT_COUNT must be a positive integer, got '0010'$/);
  const r = parseServe(['--snapshot-count', '10', '--max-txn-ops', '7'], {});
  assert.ok(r !== 'help');
  assert.equal(r.options.snapshotCount, 10);
  assert.equal(r.options.maxTxnOps, 7);
  assertBadInput(quorate(['sim', '--nodes', '1e3']), /^quorate sim: --nodes must be an integer from 1 to 1000, got '1e3'$/m, 'sim --nodes 1e3');
  assertBadInput(quorate(['dev', '--port-offset', '0x10']), /^quorate dev: --port-offset must be an integer from 0 to 30000, got '0x10'$/m, 'dev --port-offset 0x10');
  assertBadInput(quorate(['check', '--max-steps', '1.0', 'h.log']), /^quorate check: --max-steps must be a positive integer, got '1\.0'$/m, 'check --max-steps 1.0');
});

test('integer options with an obvious bound refuse values above it', () => {
  refused(['--election-timeout', '50001', '--heartbeat-interval', '100'], {}, /^--election-timeout must be an integer from 1 to 50000, got '50001'$/);
  refused(['--heartbeat-interval', '10001'], {}, /^--heartbeat-interval must be an integer from 1 to 10000, got '10001'$/);
  const r = parseServe(['--election-timeout', '50000', '--heartbeat-interval', '10000'], {});
  assert.ok(r !== 'help');
  assert.equal(r.options.electionTimeoutMs, 50_000);
  assertBadInput(quorate(['sim', '--nodes', '1001']), /^quorate sim: --nodes must be an integer from 1 to 1000, got '1001'$/m, 'sim --nodes 1001');
  assertBadInput(quorate(['sim', '--clients', '5000']), /^quorate sim: --clients must be an integer from 1 to 1000, got '5000'$/m, 'sim --clients 5000');
});

/**
 * `--log-level` takes etcd's levels above error too (zap's dpanic, panic, fatal), so an etcd
 * deployment's setting works: quorate has nothing more severe than error, so they log errors only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { devCommand } from '../../src/cli/commands/dev.js';
import { parseServe } from '../../src/cli/commands/serve.js';
import { logLevel } from '../../src/cli/commands/shared-options.js';
import { assertBadInput, quorate } from './run-quorate.js';

/** What the member's logger writes for a warning and an error, with the given flags and variables. */
function logged(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = parseServe(argv, env);
  assert.ok(r !== 'help');
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => { lines.push(chunk); return true; }) as typeof process.stderr.write;
  try {
    r.options.logger('warn', 'a warning');
    r.options.logger('error', 'an error');
  } finally {
    process.stderr.write = write;
  }
  return lines.join('');
}

test('serve --log-level: etcd\'s dpanic, panic and fatal are accepted and log errors only', () => {
  for (const level of ['dpanic', 'panic', 'fatal']) {
    assert.equal(logLevel(level), 'error');
    const out = logged(['--log-level', level]);
    assert.match(out, /an error/, level);
    assert.doesNotMatch(out, /a warning/, level);
    assert.doesNotMatch(logged([], { ETCD_LOG_LEVEL: level }), /a warning/, `ETCD_LOG_LEVEL=${level}`);
  }
  assert.match(logged(['--log-level', 'warn']), /a warning/);
  assert.equal(logLevel('debug'), 'debug');
});

test('dev --log-level fatal is accepted (dev passes it to serve); a level neither has is still refused', () => {
  const devLevel = devCommand.options['log-level'];
  assert.ok(devLevel?.type === 'string' && devLevel.choices?.includes('fatal'));
  assertBadInput(quorate(['dev', '--log-level', 'verbose']), /^quorate dev: --log-level must be one of debug, info, warn, error, dpanic, panic, fatal, got 'verbose'$/m, 'dev --log-level verbose');
  assertBadInput(quorate(['serve', '--log-level', 'trace']), /^quorate serve: --log-level must be one of .*fatal, got 'trace'$/m, 'serve --log-level trace');
});

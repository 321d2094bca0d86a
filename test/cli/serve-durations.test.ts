/**
 * Duration options take what etcd takes, Go's time.ParseDuration forms (`1m30s`, `1h0m0s`,
 * `500ms`, `1.5h`), from a flag, an ETCD_* variable or the config file alike; a negative or
 * malformed duration is one line of bad input naming where it came from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseServe } from '../../src/cli/commands/serve.js';
import { UsageError } from '../../src/cli/command.js';
import { parseGoDurationMs } from '../../src/core/duration.js';
import { parseAutoCompaction } from '../../src/server/auto-compaction.js';

const PROGRESS = 'experimental-watch-progress-notify-interval';
const CORRUPT = 'experimental-corrupt-check-time';

function options(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const r = parseServe(argv, env);
  assert.ok(r !== 'help');
  return r.options;
}

test('Go duration forms parse to milliseconds; other text does not', () => {
  const good: [string, number][] = [
    ['500ms', 500], ['5s', 5_000], ['1m30s', 90_000], ['1h0m0s', 3_600_000], ['1.5h', 5_400_000],
    ['.5s', 500], ['1.s', 1_000], ['1500us', 1.5], ['2000000ns', 2], ['0', 0], ['0s', 0], ['+5s', 5_000], ['-5s', -5_000],
  ];
  for (const [text, ms] of good) assert.equal(parseGoDurationMs(text), ms, text);
  for (const text of ['', '5', 's', '1x', '1h 30m', ' 5s', '5s ', '1..5s', '.s', '-', '1d', '5S']) assert.equal(parseGoDurationMs(text), null, JSON.stringify(text));
});

test('serve: duration options take Go forms from a flag, a variable and the config file', () => {
  assert.equal(options([`--${PROGRESS}`, '1m30s']).progressNotifyIntervalMs, 90_000);
  assert.equal(options([`--${PROGRESS}=1.5h`]).progressNotifyIntervalMs, 5_400_000);
  assert.equal(options([]).progressNotifyIntervalMs, 600_000, 'the default, 10m');
  assert.equal(options([], { ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL: '1h0m0s' }).progressNotifyIntervalMs, 3_600_000);
  assert.equal(options([`--${CORRUPT}`, '0']).corruptCheckIntervalMs, 0);
  assert.equal(options([]).corruptCheckIntervalMs, 0, 'the default, 0s');
  assert.equal(options([], { ETCD_EXPERIMENTAL_CORRUPT_CHECK_TIME: '2m30s' }).corruptCheckIntervalMs, 150_000);
  assert.equal(options([`--${CORRUPT}`, '400us']).corruptCheckIntervalMs, 1, 'a positive duration under 1 ms is 1 ms, not 0 (off)');
  const dir = mkdtempSync(join(tmpdir(), 'quorate-durations-'));
  try {
    const file = join(dir, 'etcd.yml');
    writeFileSync(file, `${PROGRESS}: 500ms\n${CORRUPT}: 1h0m0s\n`);
    const o = options(['--config-file', file]);
    assert.equal(o.progressNotifyIntervalMs, 500);
    assert.equal(o.corruptCheckIntervalMs, 3_600_000);
    // etcd's own files hold a duration key as an integer of nanoseconds (a Go time.Duration).
    writeFileSync(file, `${PROGRESS}: 600000000000\n${CORRUPT}: 0\n`);
    const ns = options(['--config-file', file]);
    assert.equal(ns.progressNotifyIntervalMs, 600_000);
    assert.equal(ns.corruptCheckIntervalMs, 0);
    writeFileSync(file, `${PROGRESS}: [5s]\n`);
    assert.throws(() => parseServe(['--config-file', file], {}), (e: unknown) => e instanceof UsageError && /^experimental-watch-progress-notify-interval in .* takes one value, not a list$/.test(e.message));
    writeFileSync(file, 'heartbeat-interval: [100]\n');
    assert.throws(() => parseServe(['--config-file', file], {}), (e: unknown) => e instanceof UsageError && /^heartbeat-interval in .* takes one value, not a list$/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serve: a negative, unitless, zero (where off makes no sense) or too long duration is refused, naming its source', () => {
  const refused = (argv: string[], env: NodeJS.ProcessEnv, pattern: RegExp): void => {
    assert.throws(() => parseServe(argv, env), (e: unknown) => e instanceof UsageError && !e.message.includes('\n') && pattern.test(e.message), `${argv.join(' ')} ${JSON.stringify(env)}`);
  };
  refused([`--${PROGRESS}`, '-5s'], {}, /^--experimental-watch-progress-notify-interval must be a positive duration such as 500ms, 1m30s or 1\.5h, got '-5s'$/);
  refused([`--${PROGRESS}`, '5'], {}, /must be a positive duration .*got '5'$/);
  refused([`--${PROGRESS}`, 'soon'], {}, /got 'soon'$/);
  refused([`--${PROGRESS}`, '0s'], {}, /must be at least 1ms, got '0s'$/);
  refused([`--${CORRUPT}`, '-1m'], {}, /^--experimental-corrupt-check-time must be a duration such as/);
  refused([`--${CORRUPT}`, '1000h'], {}, /must be at most 2147483647ms/);
  refused([], { ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL: '10 m' }, /^ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL must be a positive duration/);
});

test('auto-compaction retention takes the same Go forms', () => {
  assert.deepEqual(parseAutoCompaction('periodic', '.5h'), { mode: 'periodic', retention: 1_800_000 });
  assert.deepEqual(parseAutoCompaction('periodic', '1h0m0s'), { mode: 'periodic', retention: 3_600_000 });
  assert.throws(() => parseAutoCompaction('periodic', '-1h'), /must be a duration such as 90m.*in periodic mode/);
});

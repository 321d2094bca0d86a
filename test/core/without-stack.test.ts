/**
 * withoutStack (errors made without a stack trace: routine redirects, errors revived from a
 * peer's answer) must give the very error make() gives, in every runtime a member may run in:
 * where Error.stackTraceLimit cannot be written (node --frozen-intrinsics, a hardened realm), a
 * redirect that threw a TypeError instead of NotLeader would reach clients and callbacks as a crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NotLeader, QuorateError, withoutStack } from '../../src/core/errors.js';
import type { NodeId } from '../../src/core/ids.js';

const n2 = 'n2' as NodeId;

test('withoutStack gives make()\'s error: class, name, code, message and hint unchanged', () => {
  const plain = new NotLeader(n2);
  const bare = withoutStack(() => new NotLeader(n2));
  assert.ok(bare instanceof NotLeader && bare instanceof QuorateError);
  assert.equal(bare.name, plain.name);
  assert.equal(bare.code, plain.code);
  assert.equal(bare.message, plain.message);
  assert.equal(bare.leaderHint, 'n2');
  assert.equal(String(bare), String(plain));
  assert.equal(bare.stack?.split('\n')[0], plain.stack?.split('\n')[0]);
});

test('withoutStack restores Error.stackTraceLimit, also when make() throws', () => {
  const limit = Error.stackTraceLimit;
  assert.throws(() => withoutStack(() => { throw new RangeError('boom'); }), RangeError);
  assert.equal(Error.stackTraceLimit, limit);
});

test('withoutStack still gives the error where Error.stackTraceLimit is read-only (node --frozen-intrinsics)', () => {
  const errors = fileURLToPath(new URL('../../src/core/errors.js', import.meta.url));
  const script = `
    const { withoutStack, NotLeader } = await import(${JSON.stringify(errors)});
    let out;
    try { const e = withoutStack(() => new NotLeader('n2')); out = e.constructor.name + ' ' + e.code + ' ' + e.leaderHint; }
    catch (e) { out = 'threw ' + e.constructor.name + ': ' + e.message; }
    process.stdout.write(out);`;
  const r = spawnSync(process.execPath, ['--frozen-intrinsics', '--no-warnings', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.stdout, 'NotLeader NOT_LEADER n2', r.stderr);
});

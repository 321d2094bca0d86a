/**
 * SliceLoop: a job cancelled from inside one of its steps (input a step lets in, or a stop) is
 * dropped, also when that step finished it: neither another slice nor its `done` follows. (A
 * newer snapshot arriving while the last slice of an install runs must not have the older one
 * finished after it.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SliceLoop } from '../../src/driver/slice-loop.js';
import { ManualClock } from './harness.js';

test('a job cancelled inside the step that finishes it is not done', () => {
  const clock = new ManualClock();
  const done: number[] = [];
  let steps = 0;
  const loop: SliceLoop<number> = new SliceLoop<number>(clock, () => {
    steps++;
    if (steps < 3) return null;
    loop.cancel();
    return 42;
  }, (r) => done.push(r));
  loop.runLater();
  clock.advance(10);
  assert.equal(steps, 3);
  assert.deepEqual(done, [], 'no done after a cancel');
});

test('a job cancelled inside a step that does not finish it takes no further slice', () => {
  const clock = new ManualClock();
  let steps = 0;
  const loop: SliceLoop<number> = new SliceLoop<number>(clock, () => {
    steps++;
    if (steps === 2) loop.cancel();
    return null;
  }, () => assert.fail('not done'));
  loop.runNow();
  clock.advance(10);
  assert.equal(steps, 2);
});

test('a job runs a slice per turn until it is done', () => {
  const clock = new ManualClock();
  const done: string[] = [];
  let steps = 0;
  const loop = new SliceLoop<string>(clock, () => (++steps === 4 ? 'ok' : null), (r) => done.push(r));
  loop.runNow();
  assert.equal(steps, 1, 'the first slice in this turn');
  clock.advance(10);
  assert.equal(steps, 4);
  assert.deepEqual(done, ['ok']);
});

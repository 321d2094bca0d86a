/**
 * The event queue hands out events in (time, insertion) order, whether they wait in its heap or
 * in a lane (the simulator's replay of a seed depends on that order): each take gives what one
 * sorted queue holding everything would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../src/core/prng.js';
import { EventQueue } from '../../src/sim/event-queue.js';

test('events come out in (time, insertion) order from the heap and the lanes together', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const r = new Prng(seed);
    const q = new EventQueue<number>();
    const lanes = [q.addLane(), q.addLane()];
    const delays = [2, 0.75];
    const model: { at: number; n: number }[] = [];
    let now = 0;
    let n = 0;
    for (let step = 0; step < 5000; step++) {
      const roll = r.int(0, 9);
      if (roll < 4) {
        const at = now + r.int(0, 6) * 0.25;
        q.push(at, n);
        model.push({ at, n: n++ });
      } else if (roll < 7) {
        const l = r.int(0, 1);
        // A fixed delay from now; now and then an earlier time, which the lane must pass to the heap.
        const at = r.chance(0.1) ? now + r.int(0, 1) * 0.25 : now + delays[l]!;
        q.pushToLane(lanes[l]!, at, n);
        model.push({ at, n: n++ });
      } else if (model.length > 0) {
        model.sort((a, b) => a.at - b.at || a.n - b.n);
        const want = model.shift()!;
        assert.equal(q.size, model.length + 1, `seed ${seed} step ${step}: size`);
        assert.equal(q.peekTime(), want.at, `seed ${seed} step ${step}: time`);
        assert.equal(q.take(), want.n, `seed ${seed} step ${step}: event`);
        now = want.at;
      }
    }
  }
});

test('takeUntil hands out the next event only up to its bound, with its time, in the same order as take', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const r = new Prng(seed);
    const q = new EventQueue<number>();
    const lane = q.addLane();
    const model: { at: number; n: number }[] = [];
    let now = 0;
    let n = 0;
    for (let step = 0; step < 3000; step++) {
      const roll = r.int(0, 9);
      if (roll < 3) {
        const at = now + r.int(0, 6) * 0.25;
        q.push(at, n);
        model.push({ at, n: n++ });
      } else if (roll < 6) {
        const at = now + 1.5;
        q.pushToLane(lane, at, n);
        model.push({ at, n: n++ });
      } else {
        model.sort((a, b) => a.at - b.at || a.n - b.n);
        const bound = now + r.int(0, 4) * 0.25;
        const want = model[0];
        const got = q.takeUntil(bound);
        if (want === undefined || want.at > bound) {
          assert.equal(got, undefined, `seed ${seed} step ${step}: nothing due by ${bound}`);
          assert.equal(q.size, model.length, `seed ${seed} step ${step}: nothing taken`);
          continue;
        }
        model.shift();
        assert.equal(got, want.n, `seed ${seed} step ${step}: event`);
        assert.equal(q.takenAt, want.at, `seed ${seed} step ${step}: its time`);
        now = want.at;
      }
    }
  }
});

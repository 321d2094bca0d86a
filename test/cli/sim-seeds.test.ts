/**
 * `quorate sim --seeds`: the random generator keeps 32 bits of a seed, so a larger seed (or range
 * end) is refused rather than silently replaying a smaller one, or, past 2^53, looping forever.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_SEED, parseSeeds } from '../../src/cli/commands/sim.js';
import { assertBadInput, quorate } from './run-quorate.js';

/** A short, small run: without the bound, a big seed would run (or never stop) instead of failing fast. */
const QUICK = ['sim', '--nodes', '3', '--duration-ms', '100'];

test('sim --seeds: N and FROM..TO up to 2^32-1 are accepted', () => {
  assert.equal(MAX_SEED, 4_294_967_295);
  assert.deepEqual(parseSeeds('7'), [7, 7]);
  assert.deepEqual(parseSeeds('1..5'), [1, 5]);
  assert.deepEqual(parseSeeds('4294967290..4294967295'), [4_294_967_290, MAX_SEED]);
});

test('sim --seeds: a seed or range end above 2^32-1 is one line and exit 3', () => {
  for (const seeds of ['4294967296', '1..4294967296', '4294967296..4294967300', '9007199254740993', '1..99999999999999999999']) {
    assertBadInput(quorate([...QUICK, '--seeds', seeds]), /^quorate sim: --seeds .*: seeds go up to 4294967295/, `--seeds ${seeds}`);
  }
  assertBadInput(quorate([...QUICK, '--seeds', '5..1']), /the range is empty/, '--seeds 5..1');
  assertBadInput(quorate([...QUICK, '--seeds', '1-5']), /is not N or FROM\.\.TO/, '--seeds 1-5');
});

test('sim --duration-ms shorter than the fault window a member replacement needs: the run replaces nobody', () => {
  // Seed 5 draws a replacement run; with 3,000 ms the fault window is empty, and the first
  // replacement's time was drawn from [200, 0]: the simulator stopped on an assertion (exit 70).
  const r = quorate(['sim', '--nodes', '3', '--seeds', '5', '--duration-ms', '3000', '--jobs', '1']);
  assert.equal(r.code, 0, r.stderr);
});

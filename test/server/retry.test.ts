/**
 * withRetry bounds every attempt by the request's deadline (issue 15, item 9): an attempt that
 * neither settles nor fails (a protocol that is not live, a barrier that never completes) is
 * answered with a RequestTimeout once the request's time is up, instead of hanging its caller;
 * retried attempts are told the time left, never more than the request had.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuorateError } from '../../src/core/errors.js';
import { RequestTimeout } from '../../src/driver/waiters.js';
import { withRetry } from '../../src/server/retry.js';

const POLICY = { requestTimeoutMs: 200, backoffMs: 10 };
/** Far beyond the policy's timeout: a test that reaches it has hung. */
const HUNG_MS = 5_000;

/** What `p` settles to (its error as a value), or 'hung' after HUNG_MS. */
async function outcomeOf(p: Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => { timer = setTimeout(() => resolve('hung'), HUNG_MS); });
  try {
    return await Promise.race([p.then(() => 'settled', (err: unknown) => err), hung]);
  } finally {
    clearTimeout(timer);
  }
}

test('an attempt that never settles is answered with a RequestTimeout at the request\'s deadline', async () => {
  const started = performance.now();
  const outcome = await outcomeOf(withRetry(POLICY, () => new Promise<never>(() => {}), () => false));
  assert.ok(outcome instanceof RequestTimeout, `a RequestTimeout, got ${String(outcome)}`);
  assert.equal(outcome.code, 'TIMEOUT');
  assert.ok(performance.now() - started < HUNG_MS / 2, 'answered near the deadline');
});

test('a retried attempt that hangs is bounded by the time left, and every attempt is told at most the request\'s time', async () => {
  const told: number[] = [];
  let attempts = 0;
  const outcome = await outcomeOf(withRetry(POLICY, (remainingMs) => {
    told.push(remainingMs);
    attempts++;
    // A transient failure first (a leader change), then an attempt that never settles.
    return attempts === 1 ? Promise.reject(new QuorateError('NO_LEADER', 'no leader')) : new Promise<never>(() => {});
  }, () => false));
  assert.ok(outcome instanceof RequestTimeout, `a RequestTimeout, got ${String(outcome)}`);
  assert.equal(attempts, 2);
  assert.ok(told.every((ms) => ms >= 1 && ms <= POLICY.requestTimeoutMs), `time left told: ${told.join(', ')}`);
  assert.ok(told[1]! < told[0]!, 'the second attempt is told less time than the first');
});

/**
 * The register workload both simulators run: which operation a client issues next, and how a
 * finished operation is written into the history the checker reads.
 */
import type { Operation } from '../../check/history.js';
import type { Random } from '../../core/prng.js';
import type { RegisterOp } from '../../statemachine/register-kv.js';

/** The next operation on `key`: 40% get, 25% put, 25% cas (a fifth of them on an absent key), 10% delete. */
export function randomRegisterOp(rng: Random, key: string): RegisterOp {
  const roll = rng.float();
  const value = rng.int(1, 5);
  return roll < 0.4 ? { f: 'get', key }
    : roll < 0.65 ? { f: 'put', key, value }
    : roll < 0.9 ? { f: 'cas', key, expected: rng.chance(0.2) ? null : rng.int(1, 5), value }
    : { f: 'delete', key };
}

/**
 * One history entry. An unknown outcome completes at +Infinity (it may take effect at any time
 * after its invocation, or never); `result` is what a successful read saw.
 */
export function recordedOperation(
  id: number, client: number, op: RegisterOp, outcome: Operation['outcome'],
  invokedAt: number, now: number, result: number | null | undefined,
): Operation {
  const completedAt = outcome === 'unknown' ? Number.POSITIVE_INFINITY : now;
  const key = op.key;
  switch (op.f) {
    case 'get':
      return outcome === 'ok'
        ? { id, client, key, outcome, invokedAt, completedAt, kind: 'read', result: result ?? null }
        : { id, client, key, outcome, invokedAt, completedAt, kind: 'read' };
    case 'put': return { id, client, key, outcome, invokedAt, completedAt, kind: 'write', value: op.value };
    case 'cas': return { id, client, key, outcome, invokedAt, completedAt, kind: 'cas', expected: op.expected, value: op.value };
    case 'delete': return { id, client, key, outcome, invokedAt, completedAt, kind: 'delete' };
  }
}

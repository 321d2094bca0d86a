/**
 * Requests from clients ride out elections: while the cluster has no leader, or a leader change
 * dropped a proposal or left a request unanswered, the server retries (as etcd does) until the
 * request's deadline, then answers with the last error.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { QuorateError } from '../core/errors.js';

export interface RetryPolicy {
  /** Total time a request may take, retries included (etcd: "request timed out" after this). */
  readonly requestTimeoutMs: number;
  /** Pause between attempts. */
  readonly backoffMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { requestTimeoutMs: 7_000, backoffMs: 50 };

/** Errors after which the same request may succeed if tried again. */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof QuorateError)) return false;
  return err.code === 'NOT_LEADER' || err.code === 'NO_LEADER' || err.code === 'PROPOSAL_DROPPED' || err.code === 'LEADER_CHANGED' || err.code === 'UNAVAILABLE';
}

export async function withRetry<T>(policy: RetryPolicy, attempt: () => Promise<T>, isStopped: () => boolean): Promise<T> {
  const deadline = Date.now() + policy.requestTimeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (!isTransient(err) || isStopped() || Date.now() + policy.backoffMs >= deadline) throw err;
      await sleep(policy.backoffMs);
    }
  }
}

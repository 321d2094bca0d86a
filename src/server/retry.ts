/**
 * Requests from clients ride out elections: while the cluster has no leader, or a leader change
 * dropped a proposal or left a request unanswered, the server retries (as etcd does) until the
 * request's deadline, then answers with the last error.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { QuorateError } from '../core/errors.js';
import { RequestTimeout } from '../driver/waiters.js';

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

/**
 * `attempt` until it succeeds, fails for good, or the request's deadline passes. An attempt that
 * neither settles nor fails is answered with a timeout at the deadline: the driver bounds each
 * attempt itself, but an attempt begun just before the deadline would otherwise stretch the
 * request to almost twice its timeout. The attempt is told the time left, so what it queues can
 * leave the queue then too.
 */
export async function withRetry<T>(policy: RetryPolicy, attempt: (remainingMs: number) => Promise<T>, isStopped: () => boolean): Promise<T> {
  const deadline = Date.now() + policy.requestTimeoutMs;
  for (;;) {
    try {
      const remainingMs = Math.max(1, deadline - Date.now());
      return await bounded(attempt(remainingMs), remainingMs, policy.requestTimeoutMs);
    } catch (err) {
      if (!isTransient(err) || isStopped() || Date.now() + policy.backoffMs >= deadline) throw err;
      await sleep(policy.backoffMs);
    }
  }
}

/** `work`, or a RequestTimeout after `ms` (the work goes on; its outcome is then ignored). */
async function bounded<T>(work: Promise<T>, ms: number, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RequestTimeout('request', timeoutMs)), Math.max(0, ms));
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

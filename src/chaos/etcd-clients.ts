/**
 * What every chaos workload needs to talk to the members: gRPC channels that reconnect quickly
 * (a member killed and restarted is back within a second), a unary call turned into a promise
 * with a deadline, how a call that never left is told apart, and the outcome counts.
 */
import * as grpc from '@grpc/grpc-js';
import type { Outcomes } from './workload.js';

/** Each call's deadline: long enough for an election, short enough to keep clients busy. */
export const OPERATION_TIMEOUT_MS = 2_000;

/** A stub of a generated gRPC service: its methods by name. */
export type Stub = grpc.Client & Record<string, (...args: any[]) => any>;

/** Reconnect within half a second of a member's return (grpc-js backs off up to 2 min by default). */
const CHANNEL_OPTIONS = { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 500 } as const;

/** One channel per endpoint for a service (from etcdService / lockService). */
export function channels(Service: grpc.ServiceClientConstructor, endpoints: readonly string[]): Stub[] {
  return endpoints.map((e) => new Service(e, grpc.credentials.createInsecure(), CHANNEL_OPTIONS) as unknown as Stub);
}

/** What a call came back with: a gRPC error, or the response. */
export interface CallResult<T = unknown> {
  readonly err: Pick<grpc.ServiceError, 'code' | 'details'> | null;
  readonly value: T;
}

/** A unary call with a deadline; never rejects. */
export function call<T = unknown>(stub: Stub, method: string, request: unknown, timeoutMs = OPERATION_TIMEOUT_MS): Promise<CallResult<T>> {
  return new Promise((done) => {
    stub[method]!(request, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, value: T) => done({ err, value }));
  });
}

/**
 * A call that never left: the channel had no connection (its member is down), so the request was
 * never sent and cannot take effect. grpc-js (1.x) says so only from its pick_first picker in
 * TRANSIENT_FAILURE, before any stream is made; after a stream the server refused unprocessed
 * (REFUSED_STREAM, a GOAWAY) it retries once transparently, and only then may answer so. A call
 * that was sent and lost its connection ends otherwise ("Connection dropped", a deadline).
 */
export function neverSent(err: Pick<grpc.ServiceError, 'code' | 'details'>): boolean {
  return err.code === grpc.status.UNAVAILABLE && err.details.startsWith('No connection established');
}

/** The table's counts of a history's outcomes, and the operations never sent (not in it). */
export function countOutcomes(history: readonly { readonly outcome: 'ok' | 'fail' | 'unknown' }[], notSent: number): Outcomes {
  let ok = 0;
  let fail = 0;
  let unknown = 0;
  for (const op of history) {
    if (op.outcome === 'ok') ok++;
    else if (op.outcome === 'fail') fail++;
    else unknown++;
  }
  return { ok, fail, unknown, notSent };
}

/**
 * The quorum client pool (BFT protocols): a member that catches up by state transfer answers the
 * callers whose requests ran in the range it skipped (they will never execute here), instead of
 * leaving them to the proposal timeout; a request with no answer is resent with backoff; and
 * concurrent reads share one barrier request, sent after they were asked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Principal } from '../../src/core/authenticator.js';
import { nodeId } from '../../src/core/ids.js';
import type { QuorumClient } from '../../src/core/protocol.js';
import type { Envelope } from '../../src/core/replica.js';
import { DEFAULT_DRIVER_LIMITS } from '../../src/driver/limits.js';
import type { ClockPort } from '../../src/driver/ports.js';
import { clientPrincipal, QuorumProposals } from '../../src/driver/quorum-proposals.js';

/** Virtual time: timers run when the test advances the clock. */
class FakeClock implements ClockPort {
  t = 0;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  now(): number { return this.t; }
  setTimer(ms: number, fn: () => void) {
    const timer = { at: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return { cancel: () => { timer.live = false; } };
  }
  defer(fn: () => void): void { fn(); }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (next === undefined) break;
      next.live = false;
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}

class FakeClient implements QuorumClient<Envelope> {
  ts = 0;
  sends: number[] = [];
  /** Take the next reply as f + 1 matching ones for the request in flight. */
  accepting = false;
  constructor(readonly id: Principal, private readonly clock: FakeClock) {}
  get nextTimestamp(): number { return this.ts + 1; }
  begin(): Envelope[] { this.ts++; this.sends.push(this.clock.t); return []; }
  retry(): Envelope[] { this.sends.push(this.clock.t); return []; }
  onReply(): { timestamp: number; result: Uint8Array; readOnly: boolean } | null {
    return this.accepting ? { timestamp: this.ts, result: new Uint8Array(0), readOnly: false } : null;
  }
}

function pool(clients: number) {
  const clock = new FakeClock();
  const made: FakeClient[] = [];
  const limits = { ...DEFAULT_DRIVER_LIMITS, quorumClientsPerMember: clients };
  const q = new QuorumProposals<Envelope, number>({ running: true, sendMessage: () => {} }, clock, limits, (p) => {
    const c = new FakeClient(p, clock);
    made.push(c);
    return c;
  }, nodeId('m1'));
  return { q, clock, made, limits };
}

test('a state transfer settles the requests that ran in the skipped range, at once; the others keep waiting', () => {
  const { q, clock } = pool(2);
  const answers: (string | null)[] = [];
  q.propose(new Uint8Array([1]), (err) => answers.push(err === null ? 'ok' : (err as { code?: string }).code ?? err.message));
  q.propose(new Uint8Array([2]), (err) => answers.push(err === null ? 'ok' : (err as { code?: string }).code ?? err.message));
  clock.advance(100);
  assert.deepEqual(answers, []);
  // The transferred state's client table: m1#0 ran timestamp 1, m1#1 ran nothing yet.
  q.stateInstalled(new Map([[clientPrincipal(nodeId('m1'), 0), 1]]));
  assert.deepEqual(answers, ['TIMEOUT'], 'answered at the install, with a retryable error, not after proposalTimeoutMs');
  assert.equal(q.pending, 1, 'the request that did not run keeps waiting (it executes here after the state)');
  q.executed(clientPrincipal(nodeId('m1'), 1), 1, 7);
  assert.equal(q.pending, 1, 'still needs f + 1 replies');
});

test('without a client table, a state transfer settles every request in flight', () => {
  const { q } = pool(2);
  const answers: string[] = [];
  for (let i = 0; i < 3; i++) q.propose(new Uint8Array([i]), (err) => answers.push((err as { code?: string } | null)?.code ?? 'ok'));
  q.stateInstalled(null);
  assert.deepEqual(answers, ['TIMEOUT', 'TIMEOUT']);
  assert.equal(q.pending, 1, 'the queued third request went to a freed client');
});

test('a request with no answer is resent with exponential backoff, capped', () => {
  const { q, clock, made, limits } = pool(1);
  q.propose(new Uint8Array([1]), () => {});
  clock.advance(limits.proposalTimeoutMs - 1);
  const r = limits.quorumClientRetryMs;
  assert.deepEqual(made[0]!.sends, [0, r, 3 * r, 7 * r].filter((t) => t < limits.proposalTimeoutMs), `sends at ${made[0]!.sends.join(',')}`);
});

test('reads asked while a barrier request is in flight share the next one; none joins the one in flight', () => {
  const { q, made } = pool(8);
  const begun = (): number => made.reduce((n, c) => n + c.ts, 0);
  /** The request of the client that has one in flight is accepted and executed here. */
  const settle = (k: number): void => {
    const c = made[k]!;
    c.accepting = true;
    q.receive({ from: nodeId('n1'), to: c.id } as Envelope);
    q.executed(c.id, c.ts, 0);
  };
  const answered: string[] = [];
  q.readBarrier((err) => answered.push(err === null ? 'a' : err.message), 1_000);
  assert.equal(begun(), 1, 'the first read sends a barrier request');
  q.readBarrier((err) => answered.push(err === null ? 'b' : err.message), 1_000);
  q.readBarrier((err) => answered.push(err === null ? 'c' : err.message), 1_000);
  assert.equal(begun(), 1, 'reads asked while it is in flight wait: it was sent before they were asked');
  settle(0);
  assert.deepEqual(answered, ['a'], 'the barrier request answers the read it was sent for only');
  assert.equal(begun(), 2, 'one barrier request for the two reads that waited');
  settle(0);
  assert.deepEqual(answered, ['a', 'b', 'c']);
  assert.equal(q.pending, 0);
});

test('a read waiting for the next barrier request times out on its own timeout', () => {
  const { q, clock, made } = pool(4);
  const answered: string[] = [];
  q.readBarrier((err) => answered.push(err === null ? 'first' : 'first timed out'), 1_000);
  clock.advance(500);
  q.readBarrier((err) => answered.push(err === null ? 'second' : 'second timed out'), 200);
  clock.advance(200);
  assert.deepEqual(answered, ['second timed out']);
  clock.advance(300);
  assert.deepEqual(answered, ['second timed out', 'first timed out']);
  assert.equal(made.reduce((n, c) => n + c.ts, 0), 1, 'no barrier request is sent for a read that already timed out');
  assert.equal(q.pending, 0);
});

test('reads are limited by maxPendingReads (not maxPendingProposals), counting the reads on the barrier in flight; a read that timed out frees its place', () => {
  const clock = new FakeClock();
  const limits = { ...DEFAULT_DRIVER_LIMITS, quorumClientsPerMember: 2, maxPendingReads: 3, maxPendingProposals: 100 };
  const q = new QuorumProposals<Envelope, number>({ running: true, sendMessage: () => {} }, clock, limits, (p) => new FakeClient(p, clock), nodeId('m1'));
  const answered: string[] = [];
  const read = (name: string, timeoutMs = 1_000): void =>
    q.readBarrier((err) => answered.push(err === null ? name : `${name}: ${err.message}`), timeoutMs);
  read('a'); // in flight
  read('b', 100); // waits for the next
  read('c');
  assert.equal(q.pending, 4, 'three reads and the barrier request in flight');
  read('d');
  assert.deepEqual(answered, ['d: too many requests: limit maxPendingReads=3 reached; back off and retry']);
  clock.advance(100);
  assert.match(answered[1]!, /^b: /, 'b times out');
  assert.equal(q.pending, 3, 'the read that timed out no longer counts');
  read('e');
  assert.equal(answered.length, 2, 'e takes the place b left');
});

test('one barrier request for many waiting reads computes its timeout without spreading them into Math.max', () => {
  const clock = new FakeClock();
  const made: FakeClient[] = [];
  const n = 200_000; // a spread of this many arguments overflows V8's stack
  const limits = { ...DEFAULT_DRIVER_LIMITS, quorumClientsPerMember: 1, maxPendingReads: n + 1 };
  const q = new QuorumProposals<Envelope, number>({ running: true, sendMessage: () => {} }, clock, limits, (p) => {
    const c = new FakeClient(p, clock);
    made.push(c);
    return c;
  }, nodeId('m1'));
  let answered = 0;
  for (let i = 0; i <= n; i++) q.readBarrier((err) => { if (err === null) answered++; }, 1_000);
  // The first barrier request is ordered and executed: the next one is sent for the n reads that waited.
  const c = made[0]!;
  c.accepting = true;
  q.receive({ from: nodeId('n1'), to: c.id } as Envelope);
  q.executed(c.id, c.ts, 0);
  assert.equal(answered, 1);
  assert.equal(c.ts, 2, 'the second barrier request is in flight');
  q.receive({ from: nodeId('n1'), to: c.id } as Envelope);
  q.executed(c.id, c.ts, 0);
  assert.equal(answered, n + 1, 'every read answered, none lost');
  assert.equal(q.pending, 0);
});

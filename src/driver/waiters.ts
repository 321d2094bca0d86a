/**
 * Bounded sets of callers waiting for something the protocol will tell us later: a proposal's
 * result (keyed by log index) or a read point (keyed by request id). Each waiter has a deadline
 * on the driver's clock; nothing waits forever and nothing grows without bound, and every caller
 * is answered exactly once (by its value, an error, its deadline, or a stop).
 */
import { assert } from '../core/assert.js';
import { QuorateError, TooManyRequests } from '../core/errors.js';
import type { ClockPort, TimerHandle } from './ports.js';

export class RequestTimeout extends QuorateError {
  override readonly name = 'RequestTimeout';
  constructor(what: string, timeoutMs: number) {
    super('TIMEOUT', `${what} timed out after ${timeoutMs} ms; it may still take effect, retry with the same session to be safe`);
  }
}

/** A caller's continuation: an error, or the value. */
export type Reply<T> = (err: Error | null, value?: T) => void;

interface Waiter<T> {
  readonly reply: Reply<T>;
  readonly timer: TimerHandle;
}

export class Waiters<K, T> {
  private readonly waiting = new Map<K, Waiter<T>>();

  /**
   * `superseded`: how a waiter is answered when another registers under its key (a log index
   * reused after a truncation: the first command is gone from the log). Absent: keys are unique
   * (request ids), and a second waiter under one key is a bug.
   */
  constructor(
    private readonly clock: ClockPort,
    private readonly limitName: string,
    private readonly limit: number,
    private readonly superseded?: (key: K) => Error,
  ) {}

  get size(): number {
    return this.waiting.size;
  }

  get full(): boolean {
    return this.waiting.size >= this.limit;
  }

  has(key: K): boolean {
    return this.waiting.has(key);
  }

  /**
   * Register a waiter, true; or answer at once with TooManyRequests when the limit is reached,
   * false: the caller was turned away, so whatever it waits for must not be started.
   */
  wait(key: K, timeoutMs: number, what: string, reply: Reply<T>): boolean {
    if (this.waiting.has(key)) {
      const superseded = this.superseded;
      assert(superseded !== undefined, () => `one waiter per key: ${String(key)} is already waited for`);
      this.reject(key, superseded(key));
    }
    if (this.full) {
      reply(new TooManyRequests(this.limitName, this.limit));
      return false;
    }
    const timer = this.clock.setTimer(timeoutMs, () => {
      if (this.waiting.get(key)?.timer !== timer) return;
      this.waiting.delete(key);
      reply(new RequestTimeout(what, timeoutMs));
    });
    this.waiting.set(key, { reply, timer });
    return true;
  }

  resolve(key: K, value: T): boolean {
    const w = this.take(key);
    if (w === undefined) return false;
    w.reply(null, value);
    return true;
  }

  reject(key: K, err: Error): boolean {
    const w = this.take(key);
    if (w === undefined) return false;
    w.reply(err);
    return true;
  }

  /** Answer every waiter with `err`, but those `keep` names. */
  rejectAll(err: Error, keep?: (key: K) => boolean): void {
    for (const key of [...this.waiting.keys()]) {
      if (keep === undefined || !keep(key)) this.reject(key, err);
    }
  }

  private take(key: K): Waiter<T> | undefined {
    const w = this.waiting.get(key);
    if (w === undefined) return undefined;
    this.waiting.delete(key);
    w.timer.cancel();
    return w;
  }
}

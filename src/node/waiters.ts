/**
 * Bounded sets of callers waiting for something the protocol will tell us later: a proposal's
 * result (keyed by log index) or a read point (keyed by request id). Each waiter has a deadline;
 * nothing waits forever and nothing grows without bound.
 */
import { QuorateError, TooManyRequests } from '../core/errors.js';

export class RequestTimeout extends QuorateError {
  override readonly name = 'RequestTimeout';
  constructor(what: string, timeoutMs: number) {
    super('TIMEOUT', `${what} timed out after ${timeoutMs} ms; it may still take effect, retry with the same session to be safe`);
  }
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class Waiters<K, T> {
  private readonly waiting = new Map<K, Waiter<T>>();

  constructor(
    private readonly limitName: string,
    private readonly limit: number,
  ) {}

  get size(): number {
    return this.waiting.size;
  }

  has(key: K): boolean {
    return this.waiting.has(key);
  }

  /** Register a waiter; rejects at once with TooManyRequests when the limit is reached. */
  wait(key: K, timeoutMs: number, what: string): Promise<T> {
    if (this.waiting.size >= this.limit) return Promise.reject(new TooManyRequests(this.limitName, this.limit));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(new RequestTimeout(what, timeoutMs));
      }, timeoutMs);
      timer.unref();
      this.waiting.set(key, { resolve, reject, timer });
    });
  }

  resolve(key: K, value: T): boolean {
    const w = this.take(key);
    if (w === undefined) return false;
    w.resolve(value);
    return true;
  }

  reject(key: K, err: Error): boolean {
    const w = this.take(key);
    if (w === undefined) return false;
    w.reject(err);
    return true;
  }

  /** Keys in insertion order (used to find read points that are now satisfied). */
  keys(): IterableIterator<K> {
    return this.waiting.keys();
  }

  rejectAll(err: Error): void {
    for (const key of [...this.waiting.keys()]) this.reject(key, err);
  }

  private take(key: K): Waiter<T> | undefined {
    const w = this.waiting.get(key);
    if (w === undefined) return undefined;
    this.waiting.delete(key);
    clearTimeout(w.timer);
    return w;
  }
}

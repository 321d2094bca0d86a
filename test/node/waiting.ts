/** Waiting in tests of live nodes: for a condition, and for a call to succeed across elections. */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `f()`'s first truthy value, polled every 10 ms; throws naming `what` after `boundMs`. */
export async function until<T>(what: string, f: () => T | undefined | null | false, boundMs = 15_000): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const v = f();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(10);
  }
}

/** The errors that mean "not now" (an election is under way). */
export function isTransientCode(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'NOT_LEADER' || code === 'PROPOSAL_DROPPED' || code === 'LEADER_CHANGED' || code === 'TIMEOUT' || code === 'UNAVAILABLE';
}

/** What a client does: try `f` again every 20 ms while `retryable(err)`, at most `attempts` more times. */
export async function retry<T>(f: () => Promise<T>, attempts: number, retryable: (err: unknown) => boolean = isTransientCode): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await f();
    } catch (err) {
      if (!retryable(err) || i >= attempts) throw err;
      await sleep(20);
    }
  }
}

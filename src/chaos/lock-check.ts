/**
 * The lock workloads' checker (pure: made-up histories test it). Each acquisition of the lock is
 * recorded with its fencing token (the lock key's create revision), the read of the protected
 * resource, the write (its outcome and the revision it landed at) and the times; the resource's
 * final value (the operation ids the accepted writes appended) is read once on the healed cluster.
 *
 * - lost update: an acknowledged write whose id is missing from the final resource;
 * - overlap: two acquisitions whose writes were both acknowledged, and whose critical sections
 *   certainly overlap in real time: each got the lock's answer before the other sent its write
 *   (a write answered late may have landed long before its answer, so the answer cannot end the
 *   section); or a fenced write refused although its lock key still stood at its token when the
 *   write was judged: it held the lock throughout, yet the resource changed since its read, so
 *   another holder wrote while it held the lock (a Lock that granted two at once);
 * - stale token: an acknowledged write whose token is lower than one an earlier acknowledged
 *   write (by the revision it landed at) carried.
 *
 * Any one makes the verdict invalid. Without the final value, lost updates cannot be judged: the
 * verdict is then unknown unless another anomaly shows.
 */

export interface LockWrite {
  readonly invokedAt: number;
  /** +Infinity when unknown. */
  readonly completedAt: number;
  /** ok: accepted; fail: refused (a fenced compare failed) or failed without effect; unknown: may have taken effect. */
  readonly outcome: 'ok' | 'fail' | 'unknown';
  /** The revision an accepted write landed at (its answer's header), or null. */
  readonly revision: number | null;
  /**
   * A refused fenced write: whether its lock key still stood at its token when the Txn was judged
   * (its failure branch reads the key). True means the resource's compare failed while it held the lock.
   */
  readonly lockHeld?: boolean;
}

export interface Acquisition {
  /** The operation id the write appends to the resource. */
  readonly id: number;
  readonly client: number;
  /** When Lock was asked (run clock, ms). */
  readonly invokedAt: number;
  /** When Lock answered (run clock, ms), or null: not acquired. */
  readonly acquiredAt: number | null;
  readonly lockKey: string | null;
  /** The fencing token: the lock key's create revision, or null when it could not be read. */
  readonly token: number | null;
  /** The write, or null when the attempt ended before it. */
  readonly write: LockWrite | null;
  /** How long the workload stalled this client inside the critical section (a "client pause"), ms. */
  readonly clientPauseMs: number;
}

export type LockAnomalyKind = 'lost update' | 'overlap' | 'stale token';
export const LOCK_ANOMALY_KINDS: readonly LockAnomalyKind[] = ['lost update', 'overlap', 'stale token'];

export interface LockAnomaly {
  readonly kind: LockAnomalyKind;
  readonly ids: readonly number[];
  readonly why: string;
}

export interface LockCheckResult {
  readonly verdict: 'valid' | 'invalid' | 'unknown';
  readonly summary: string;
  readonly anomalies: readonly LockAnomaly[];
  /** Acquisitions judged (those that got the lock). */
  readonly acquisitions: number;
  readonly details: string;
}

/** The resource's value: the ids appended, space-separated. */
export function parseResource(value: string): number[] {
  return value.trim() === '' ? [] : value.trim().split(/\s+/).map(Number);
}

const MAX_OVERLAPS = 1_000;

/** `finalResource` null: it could not be read. */
export function checkLocks(acquisitions: readonly Acquisition[], finalResource: readonly number[] | null): LockCheckResult {
  const anomalies: LockAnomaly[] = [];
  const accepted = acquisitions.filter((a) => a.write?.outcome === 'ok');
  if (finalResource !== null) {
    const present = new Set(finalResource);
    for (const a of accepted) {
      if (!present.has(a.id)) anomalies.push({ kind: 'lost update', ids: [a.id], why: `client ${a.client}'s acknowledged write (token ${a.token ?? '?'}${pauseText(a)}) is missing from the final resource` });
    }
  }
  // Overlaps: sections [acquiredAt, write sent] of accepted writes, swept in order of start. The
  // write landed somewhere between its sending and its answer; only up to its sending is it sure
  // that the holder still had to hold the lock.
  const sections = accepted.filter((a) => a.acquiredAt !== null).sort((x, y) => x.acquiredAt! - y.acquiredAt!);
  let overlaps = 0;
  for (let i = 0; i < sections.length && overlaps < MAX_OVERLAPS; i++) {
    const a = sections[i]!;
    for (let j = i + 1; j < sections.length && sections[j]!.acquiredAt! < a.write!.invokedAt; j++) {
      const b = sections[j]!;
      if (b.client === a.client) continue;
      overlaps++;
      anomalies.push({
        kind: 'overlap', ids: [a.id, b.id],
        why: `client ${a.client} held from ${ms(a.acquiredAt!)} and sent its write at ${ms(a.write!.invokedAt)} (token ${a.token ?? '?'}${pauseText(a)}); client ${b.client} held from ${ms(b.acquiredAt!)} and sent its write at ${ms(b.write!.invokedAt)} (token ${b.token ?? '?'}${pauseText(b)}): both writes accepted`,
      });
    }
  }
  for (const a of acquisitions) {
    if (a.write?.outcome !== 'fail' || a.write.lockHeld !== true || overlaps >= MAX_OVERLAPS) continue;
    overlaps++;
    anomalies.push({
      kind: 'overlap', ids: [a.id],
      why: `client ${a.client}'s fenced write (token ${a.token ?? '?'}${pauseText(a)}, sent at ${ms(a.write.invokedAt)}) was refused while its lock key still stood at its token: the resource changed since its read while it held the lock, so another holder wrote meanwhile`,
    });
  }
  // Stale tokens: accepted writes in the order they landed.
  const landed = accepted.filter((a) => a.write!.revision !== null && a.token !== null).sort((x, y) => x.write!.revision! - y.write!.revision!);
  let highest: Acquisition | null = null;
  for (const a of landed) {
    if (highest !== null && a.token! < highest.token!) {
      anomalies.push({ kind: 'stale token', ids: [highest.id, a.id], why: `client ${a.client}'s write with token ${a.token}${pauseText(a)} was accepted at rev ${a.write!.revision}, after client ${highest.client}'s with token ${highest.token} at rev ${highest.write!.revision}` });
    }
    if (highest === null || a.token! > highest.token!) highest = a;
  }
  const verdict = anomalies.length > 0 ? 'invalid' : finalResource === null ? 'unknown' : 'valid';
  const counts = LOCK_ANOMALY_KINDS.map((k) => [k, anomalies.filter((a) => a.kind === k).length] as const).filter(([, n]) => n > 0);
  const summary = anomalies.length > 0 ? counts.map(([k, n]) => `${k} ${n}`).join(', ')
    : finalResource === null ? 'final resource unreadable' : 'no lost update, overlap or stale token';
  const acquired = acquisitions.filter((a) => a.acquiredAt !== null).length;
  return { verdict, summary, anomalies, acquisitions: acquired, details: detailsOf(anomalies) };
}

const ms = (t: number): string => (Number.isFinite(t) ? `${(t / 1000).toFixed(3)} s` : '?');
const pauseText = (a: Acquisition): string => (a.clientPauseMs > 0 ? `, client paused ${a.clientPauseMs} ms` : '');

function detailsOf(anomalies: readonly LockAnomaly[]): string {
  const lines: string[] = [];
  for (const kind of LOCK_ANOMALY_KINDS) {
    const of = anomalies.filter((a) => a.kind === kind);
    if (of.length === 0) continue;
    lines.push(`**${kind}** (${of.length}):`, '');
    for (const a of of.slice(0, 10)) lines.push(`- ops ${a.ids.join(', ')}: ${a.why}`);
    if (of.length > 10) lines.push(`- ... ${of.length - 10} more`);
    lines.push('');
  }
  return lines.join('\n').trim();
}

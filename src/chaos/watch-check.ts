/**
 * The watch workload's checker (pure: made-up logs test it). Each watcher's events, as received
 * across its reconnects, against the ground truth (every event under the workload's prefix, read
 * once from revision 1 on the healed cluster) and the puts the writers made:
 *
 * - out-of-order: an event not after the one before it, by (revision, order within the revision);
 * - duplicated: an event a watcher received twice (or a write the ground truth holds twice);
 * - lost: an event of the ground truth, from the revision the watcher first asked for to the last
 *   one it saw, that it never received (so none is lost across a reconnect), or, when the writers'
 *   last revision is known (`final`: read once the writers stopped, before the watchers were given
 *   time to catch up and then stopped), up to that revision (so a stream that silently stops
 *   delivering is caught); or an acknowledged put the ground truth does not hold;
 * - phantom: an event no write made (a value no writer put), or one a watcher received that the
 *   ground truth does not hold.
 *
 * A watcher the server refused to resume because the history was compacted is reported as such
 * (it stopped there), not as losses.
 */

export interface WatchEvent {
  readonly revision: number;
  readonly key: string;
  readonly value: string;
  readonly type: 'PUT' | 'DELETE';
}

export interface WatcherLog {
  readonly watcher: number;
  /** The revision it first asked to watch from. */
  readonly startRevision: number;
  /** Every event, in the order received, across its sessions (streams). */
  readonly events: readonly WatchEvent[];
  /** Its sessions (1 + reconnects). */
  readonly sessions: number;
  /** The server's compact revision when it refused to resume (the watcher stopped), or null. */
  readonly compactedAt: number | null;
  /** It stopped at the workload's cap on events a watcher keeps (judged up to its last event). */
  readonly truncated?: boolean;
}

/** A write as the writers recorded it: `ok` acknowledged, `unknown` may have happened, `fail` did not. */
export interface PutRecord {
  readonly key: string;
  readonly value: string;
  readonly outcome: 'ok' | 'fail' | 'unknown';
}

export type WatchAnomalyKind = 'lost' | 'duplicated' | 'out-of-order' | 'phantom';
export const WATCH_ANOMALY_KINDS: readonly WatchAnomalyKind[] = ['lost', 'duplicated', 'out-of-order', 'phantom'];

export interface WatchAnomaly {
  readonly kind: WatchAnomalyKind;
  /** The watcher, or null for the ground truth against the writes. */
  readonly watcher: number | null;
  readonly event: WatchEvent;
  readonly why: string;
}

export interface WatchCheckResult {
  readonly verdict: 'valid' | 'invalid' | 'unknown';
  readonly summary: string;
  readonly anomalies: readonly WatchAnomaly[];
  /** Watchers stopped by a compaction: watcher → compact revision. */
  readonly compacted: readonly { watcher: number; revision: number }[];
  /** Events the watchers received. */
  readonly events: number;
  readonly details: string;
}

const eventId = (e: WatchEvent): string => `${e.revision}\u0000${e.type}\u0000${e.key}\u0000${e.value}`;
const show = (e: WatchEvent): string => `rev ${e.revision} ${e.type} ${e.key}=${e.value}`;

/** `truth` null: the ground truth could not be read (the verdict is then unknown unless an anomaly shows without it). */
export function checkWatch(watchers: readonly WatcherLog[], truth: readonly WatchEvent[] | null, puts: readonly PutRecord[], final: number | null = null): WatchCheckResult {
  const anomalies: WatchAnomaly[] = [];
  // Position of each ground-truth event within its revision, and the truth's own soundness.
  const position = new Map<string, number>();
  if (truth !== null) {
    const written = new Set(puts.map((p) => `${p.key}\u0000${p.value}`));
    const applied = new Set<string>();
    let prev: WatchEvent | null = null;
    let within = 0;
    for (const e of truth) {
      within = prev !== null && prev.revision === e.revision ? within + 1 : 0;
      if (prev !== null && e.revision < prev.revision) anomalies.push({ kind: 'out-of-order', watcher: null, event: e, why: `the ground truth has it after rev ${prev.revision}` });
      position.set(eventId(e), within);
      prev = e;
      if (e.type !== 'PUT') continue;
      const w = `${e.key}\u0000${e.value}`;
      if (!written.has(w)) anomalies.push({ kind: 'phantom', watcher: null, event: e, why: 'no writer put this value' });
      if (applied.has(w)) anomalies.push({ kind: 'duplicated', watcher: null, event: e, why: 'the ground truth holds this write twice' });
      applied.add(w);
    }
    for (const p of puts) {
      if (p.outcome === 'ok' && !applied.has(`${p.key}\u0000${p.value}`)) {
        anomalies.push({ kind: 'lost', watcher: null, event: { revision: 0, key: p.key, value: p.value, type: 'PUT' }, why: 'an acknowledged put the ground truth does not hold' });
      }
    }
  }
  let events = 0;
  for (const w of watchers) {
    events += w.events.length;
    const seen = new Set<string>();
    let prev: [number, number] | null = null;
    let last = 0;
    for (const e of w.events) {
      const id = eventId(e);
      if (seen.has(id)) {
        anomalies.push({ kind: 'duplicated', watcher: w.watcher, event: e, why: 'received again' });
        continue;
      }
      seen.add(id);
      const within = position.get(id);
      if (truth !== null && within === undefined) anomalies.push({ kind: 'phantom', watcher: w.watcher, event: e, why: 'not in the ground truth' });
      const at: [number, number] = [e.revision, within ?? 0];
      if (prev !== null && (at[0] < prev[0] || (at[0] === prev[0] && at[1] <= prev[1]))) {
        anomalies.push({ kind: 'out-of-order', watcher: w.watcher, event: e, why: `received after rev ${prev[0]}` });
      }
      if (prev === null || at[0] > prev[0] || (at[0] === prev[0] && at[1] > prev[1])) prev = at;
      if (within !== undefined) last = Math.max(last, e.revision);
    }
    if (truth === null) continue;
    // A watcher the server stopped by a compaction, or stopped at the cap on events, is judged up to its last event; any other, up to the writers' last revision.
    const end = w.compactedAt === null && w.truncated !== true && final !== null ? Math.max(last, final) : last;
    for (const e of truth) {
      if (e.revision < w.startRevision || e.revision > end) continue;
      if (!seen.has(eventId(e))) {
        const why = e.revision <= last ? `within its window (rev ${w.startRevision}..${last}) and never received` : `never received, though the watchers were waited for up to rev ${final} (the writers' last) and its last event was rev ${last}`;
        anomalies.push({ kind: 'lost', watcher: w.watcher, event: e, why });
      }
    }
  }
  const compacted = watchers.filter((w) => w.compactedAt !== null).map((w) => ({ watcher: w.watcher, revision: w.compactedAt! }));
  const verdict = anomalies.length > 0 ? 'invalid' : truth === null ? 'unknown' : 'valid';
  const counts = WATCH_ANOMALY_KINDS.map((k) => [k, anomalies.filter((a) => a.kind === k).length] as const).filter(([, n]) => n > 0);
  const truncated = watchers.filter((w) => w.truncated === true).length;
  const compactedText = (compacted.length === 0 ? '' : `; ${compacted.length} watcher(s) stopped by compaction`) + (truncated === 0 ? '' : `; ${truncated} watcher(s) stopped at the cap on events`);
  const summary = anomalies.length > 0
    ? `${counts.map(([k, n]) => `${k} ${n}`).join(', ')}${compactedText}`
    : truth === null ? `ground truth unreadable${compactedText}` : `every event once, in order${compactedText}`;
  return { verdict, summary, anomalies, compacted, events, details: detailsOf(anomalies, compacted) };
}

/** Markdown: the first few anomalies of each kind. */
function detailsOf(anomalies: readonly WatchAnomaly[], compacted: readonly { watcher: number; revision: number }[]): string {
  const lines: string[] = [];
  for (const kind of WATCH_ANOMALY_KINDS) {
    const of = anomalies.filter((a) => a.kind === kind);
    if (of.length === 0) continue;
    lines.push(`**${kind}** (${of.length}):`, '');
    for (const a of of.slice(0, 10)) lines.push(`- ${a.watcher === null ? 'ground truth' : `watcher ${a.watcher}`}: ${a.event.revision === 0 ? `PUT ${a.event.key}=${a.event.value}` : show(a.event)}: ${a.why}`);
    if (of.length > 10) lines.push(`- ... ${of.length - 10} more`);
    lines.push('');
  }
  for (const c of compacted) lines.push(`- watcher ${c.watcher} could not resume: compacted at rev ${c.revision} (not a loss)`);
  return lines.join('\n').trim();
}

/**
 * Auto-compaction, as etcd's `--auto-compaction-mode` and `--auto-compaction-retention`.
 *
 * - `periodic`: keep the history of the last `retention` of time. The revision is sampled every
 *   `retention / 10` (every hour when the retention is longer than ten hours, as etcd); once the
 *   oldest sample kept is `retention` old, the store is compacted to it.
 * - `revision`: keep the last `retention` revisions. Every five minutes (etcd's interval) the
 *   store is compacted to `current - retention` when that is above the last compaction.
 *
 * Only the member that leads proposes (a compaction is a logged command: every member applies
 * it), as etcd's compactor runs on the leader only; a member that does not lead keeps sampling,
 * so it can take over without waiting a whole retention. Under a Byzantine protocol every member
 * proposes (its `leading` port always answers true), and each proposal is that member's vote: the
 * state machine compacts only as far as f + 1 members voted (see KvStateMachine.applyCompactVote).
 * A compaction that fails (not leader any
 * more, a timeout, already compacted further) is logged and tried again at the next check.
 *
 * Time comes from an injected clock and timer, so the tests drive it without waiting.
 */
import { parseGoDurationMs } from '../core/duration.js';
import { QuorateError } from '../core/errors.js';

export type AutoCompactionMode = 'periodic' | 'revision';

/** etcd's check interval in revision mode. */
export const REVISION_CHECK_INTERVAL_MS = 5 * 60_000;
/** Periodic mode samples `retention / PERIODIC_SAMPLES_PER_RETENTION` apart... */
export const PERIODIC_SAMPLES_PER_RETENTION = 10;
/** ...but never more than an hour apart (etcd's cap for long retentions). */
export const MAX_PERIODIC_SAMPLE_INTERVAL_MS = 60 * 60_000;

export interface AutoCompactionOptions {
  readonly mode: AutoCompactionMode;
  /** periodic: milliseconds of history to keep; revision: revisions to keep. Positive. */
  readonly retention: number;
}

export interface AutoCompactorPorts {
  readonly nowMs: () => number;
  /** Run `fn` after `ms`; returns a cancel function. */
  readonly setTimer: (ms: number, fn: () => void) => () => void;
  readonly revision: () => number;
  readonly compactedRevision: () => number;
  readonly leading: () => boolean;
  /** Propose a compaction to `revision`. */
  readonly compact: (revision: number) => Promise<void>;
  readonly log: (message: string, fields: Record<string, unknown>) => void;
}

/**
 * Parse etcd's `--auto-compaction-retention` for `mode`: '0' (or empty) is off (null); periodic
 * takes a duration as Go writes one ('90m', '1h30m', '1.5h', '72h', '10s') or a plain number of
 * hours ('1', '0.5'); revision takes a whole number of revisions. `retentionName` is how an error
 * names the setting (the command line names its flag, variable or config key).
 */
export function parseAutoCompaction(mode: string, retention: string, retentionName = '--auto-compaction-retention'): AutoCompactionOptions | null {
  if (mode !== 'periodic' && mode !== 'revision') {
    throw new QuorateError('INVALID_ARGUMENT', `--auto-compaction-mode must be periodic or revision, not '${mode}'`);
  }
  const r = retention.trim();
  if (r === '' || r === '0') return null;
  if (mode === 'revision') {
    if (!/^\d+$/.test(r) || !Number.isSafeInteger(Number(r))) {
      throw new QuorateError('INVALID_ARGUMENT', `${retentionName} must be a whole number of revisions in revision mode, not '${retention}'`);
    }
    return { mode, retention: Number(r) };
  }
  const ms = /^\d+(\.\d+)?$/.test(r) ? Number(r) * 3_600_000 : parseGoDurationMs(r);
  // A zero duration ('0h', '0s') is off, as in etcd (its retention parses to 0).
  if (ms === 0) return null;
  if (ms === null || !(ms >= 1) || !Number.isFinite(ms)) {
    throw new QuorateError('INVALID_ARGUMENT', `${retentionName} must be a duration such as 90m, 1h30m or 72h, or a number of hours, in periodic mode, not '${retention}'`);
  }
  return { mode, retention: Math.round(ms) };
}

export class AutoCompactor {
  private readonly intervalMs: number;
  /** Periodic mode: revisions sampled, oldest first. At most PERIODIC_SAMPLES_PER_RETENTION + 1. */
  private samples: { atMs: number; revision: number }[] = [];
  private cancel: (() => void) | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly o: AutoCompactionOptions, private readonly ports: AutoCompactorPorts) {
    if (!(o.retention >= 1)) throw new QuorateError('INVALID_ARGUMENT', `auto-compaction retention ${o.retention} must be positive`);
    this.intervalMs = o.mode === 'revision'
      ? REVISION_CHECK_INTERVAL_MS
      : Math.min(MAX_PERIODIC_SAMPLE_INTERVAL_MS, Math.max(1, Math.floor(o.retention / PERIODIC_SAMPLES_PER_RETENTION)));
  }

  start(): void {
    if (this.o.mode === 'periodic') this.sample();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.cancel = null;
  }

  /** One check now (the timer's job; tests call it through the timer they inject). */
  private schedule(): void {
    if (this.stopped) return;
    this.cancel = this.ports.setTimer(this.intervalMs, () => {
      this.cancel = null;
      this.check();
      this.schedule();
    });
  }

  private check(): void {
    if (this.o.mode === 'periodic') this.sample();
    const target = this.target();
    // One compaction at a time; a check that finds one still running leaves it to finish.
    if (target === null || this.running !== null || !this.ports.leading()) return;
    if (target <= this.ports.compactedRevision()) return;
    this.running = this.ports.compact(target)
      .then(() => this.ports.log('auto-compaction: compacted', { mode: this.o.mode, retention: this.o.retention, revision: target }))
      .catch((err: unknown) => this.ports.log('auto-compaction: compaction failed; trying again at the next check', { revision: target, error: (err as Error).message }))
      .finally(() => { this.running = null; });
  }

  private sample(): void {
    this.samples.push({ atMs: this.ports.nowMs(), revision: this.ports.revision() });
    // Keep the newest sample at least `retention` old, and everything after it.
    const cutoff = this.ports.nowMs() - this.o.retention;
    let oldOnes = 0;
    while (oldOnes + 1 < this.samples.length && this.samples[oldOnes + 1]!.atMs <= cutoff) oldOnes++;
    if (oldOnes > 0) this.samples.splice(0, oldOnes);
  }

  /** The revision to compact to now, if any. */
  private target(): number | null {
    if (this.o.mode === 'revision') {
      const t = this.ports.revision() - this.o.retention;
      return t >= 1 ? t : null;
    }
    const oldest = this.samples[0];
    if (oldest === undefined || oldest.atMs > this.ports.nowMs() - this.o.retention) return null;
    return oldest.revision >= 1 ? oldest.revision : null;
  }
}

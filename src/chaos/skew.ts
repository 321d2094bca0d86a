/**
 * Clock faults for the chaos harness, through libfaketime (Debian's `faketime` package): each
 * quorate member runs with LD_PRELOAD of libfaketime and FAKETIME_TIMESTAMP_FILE naming a file of
 * its own (FAKETIME_NO_CACHE=1, so each clock read sees the file as it is now); the nemesis writes
 * an offset there ("+2s", "-5s") and "+0" when it heals.
 *
 * What this does to a node member (measured): Date.now(), performance.now() and process.hrtime()
 * all move by the offset, CLOCK_MONOTONIC included (libuv's timers run on it; quorate times
 * everything on performance.now(), so a wall-clock-only skew would not reach it). A forward jump
 * fires each timer due within it once, early (an interval does not fire once per period skipped:
 * quorate's ticks are counted, not computed from the clock); a backward jump stalls the member's
 * timers (ticks, heartbeats, gRPC deadlines) until its clock is back where they were due, while
 * its sockets keep working; so does the heal that resets a forward jump. A harsher fault than an
 * NTP step, which leaves the monotonic clock alone.
 *
 * One thing a real monotonic clock never does, and node does not survive: going back past the
 * process's start. Node 20 aborts (SIGABRT, "Assertion failed: (now) >= (timer_base())" in
 * Environment::GetNowUint64) at its next timer; so no backward offset is ever larger than the
 * member's uptime less a second (clampBackward).
 *
 * etcd (Go) reads the clock through the vDSO, never libc's clock_gettime: libfaketime does not
 * reach it (its log's timestamps stay true under "+100d"), so `--system etcd --nemesis skew` is
 * refused rather than run without faults. Only the members are skewed; the harness's clock, on
 * which the history is timed, is not.
 */
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import type { Random } from '../core/prng.js';

/** Where Debian's (and others') faketime package puts the library. */
export const FAKETIME_LIBRARIES = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/faketime/libfaketime.so.1',
  '/usr/local/lib/faketime/libfaketime.so.1',
] as const;

/** The libfaketime shared library, or null when it is not installed. */
export function findFaketime(candidates: readonly string[] = FAKETIME_LIBRARIES): string | null {
  return candidates.find((c) => existsSync(c)) ?? null;
}

/** Offsets a skew fault gives a member: ±1 to SKEW_MAX_S seconds. */
export const SKEW_MAX_S = 10;
/**
 * A forward jump: JUMP_MIN_S to JUMP_MAX_S seconds ahead (every timer due in between fires at
 * once); the heal that takes it back stalls the member's timers for as long.
 */
export const JUMP_MIN_S = 5;
export const JUMP_MAX_S = 30;
/** A member's clock never goes back further than its uptime less this (node aborts before its start). */
export const UPTIME_MARGIN_S = 1;
/** A strobe flips a member's clock between +0 and an offset every STROBE_MIN_MS to STROBE_MAX_MS. */
export const STROBE_MIN_MS = 50;
export const STROBE_MAX_MS = 250;

/** The file's text for an offset in seconds: "+2s", "-5s", "+0" (libfaketime's relative format). */
export function offsetText(seconds: number): string {
  if (!Number.isInteger(seconds)) throw new Error(`offset ${seconds}: whole seconds only`);
  if (seconds === 0) return '+0';
  return `${seconds > 0 ? '+' : '-'}${Math.abs(seconds)}s`;
}

/** Write a member's offset so a reader never sees a half-written file (a temp file renamed over it). */
export function writeOffset(file: string, seconds: number): void {
  writeFileSync(`${file}.tmp`, `${offsetText(seconds)}\n`);
  renameSync(`${file}.tmp`, file);
}

/**
 * One clock fault:
 * - offsets: some members (one to all) each run ahead or behind by its own few seconds;
 * - jump: one member's clock jumps forward (tens of seconds) or back (a few), and stays there;
 * - strobe: one member's clock flips between true and an offset every few hundred milliseconds.
 */
export type SkewPlan =
  | { readonly kind: 'offsets'; readonly offsets: ReadonlyMap<string, number> }
  | { readonly kind: 'jump'; readonly member: string; readonly seconds: number }
  | { readonly kind: 'strobe'; readonly member: string; readonly seconds: number; readonly periodMs: number };

export const SKEW_PLAN_KINDS = ['offsets', 'jump', 'strobe'] as const;

/** A non-zero whole number of seconds in ±[min, max]. */
function signed(random: Random, min: number, max: number): number {
  return (random.chance(0.5) ? 1 : -1) * random.int(min, max);
}

/**
 * Draw a clock fault among `names`; `target` (the leader, when the nemesis knows it and chose to
 * aim at it) is the one member a jump or strobe skews.
 */
export function drawSkew(random: Random, names: readonly string[], target: string | null = null): SkewPlan {
  if (names.length === 0) throw new Error('no members to skew');
  const kind = random.pick(SKEW_PLAN_KINDS);
  const member = target ?? random.pick(names);
  switch (kind) {
    case 'offsets': {
      const chosen = random.shuffle([...names]).slice(0, random.int(1, names.length));
      return { kind, offsets: new Map(chosen.map((n) => [n, signed(random, 1, SKEW_MAX_S)])) };
    }
    case 'jump':
      // Back only a few seconds: the member's timers stall for as long.
      return { kind, member, seconds: random.chance(0.5) ? random.int(JUMP_MIN_S, JUMP_MAX_S) : -random.int(1, SKEW_MAX_S) };
    case 'strobe':
      return { kind, member, seconds: signed(random, 1, SKEW_MAX_S), periodMs: random.int(STROBE_MIN_MS, STROBE_MAX_MS) };
  }
}

/**
 * The plan with every backward offset no larger than its member's uptime (`uptimeS`, seconds)
 * less UPTIME_MARGIN_S; a member with too short an uptime for any is left alone (its offset
 * dropped). Null when nothing is left to skew.
 */
export function clampBackward(plan: SkewPlan, uptimeS: (name: string) => number): SkewPlan | null {
  const limit = (name: string, seconds: number): number => (seconds >= 0 ? seconds : Math.max(seconds, -Math.max(0, Math.floor(uptimeS(name)) - UPTIME_MARGIN_S)));
  switch (plan.kind) {
    case 'offsets': {
      const offsets = new Map([...plan.offsets].map(([n, s]) => [n, limit(n, s)] as const).filter(([, s]) => s !== 0));
      return offsets.size === 0 ? null : { kind: 'offsets', offsets };
    }
    case 'jump':
    case 'strobe': {
      const seconds = limit(plan.member, plan.seconds);
      return seconds === 0 ? null : { ...plan, seconds };
    }
  }
}

/** The plan in words, for the nemesis's log and the report. */
export function describeSkew(plan: SkewPlan): string {
  switch (plan.kind) {
    case 'offsets':
      return `clock skew: ${[...plan.offsets].map(([n, s]) => `${n} ${offsetText(s)}`).join(', ')}`;
    case 'jump':
      return `clock jump: ${plan.member} ${offsetText(plan.seconds)}`;
    case 'strobe':
      return `clock strobe: ${plan.member} flips between +0 and ${offsetText(plan.seconds)} every ${plan.periodMs} ms`;
  }
}

/** The offsets a plan sets at its start (a strobe starts at its offset). */
export function initialOffsets(plan: SkewPlan): Map<string, number> {
  switch (plan.kind) {
    case 'offsets':
      return new Map(plan.offsets);
    case 'jump':
    case 'strobe':
      return new Map([[plan.member, plan.seconds]]);
  }
}

/**
 * Why `--nemesis skew` cannot run here, or null when it can: etcd is out of libfaketime's reach
 * (Go reads the clock through the vDSO), and without the library nothing would be skewed.
 */
export function skewRefusal(system: 'quorate' | 'etcd', library: string | null): string | null {
  if (system === 'etcd') return 'not applicable to etcd: Go reads the clock through the vDSO, not libc, so libfaketime does not reach it (its clock would stay true and the run would pretend); use --system quorate';
  if (library === null) return `needs libfaketime (Debian: apt-get install faketime; looked in ${FAKETIME_LIBRARIES.join(', ')})`;
  return null;
}
